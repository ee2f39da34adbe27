"""Quarter waves: the layer table of a design at a reference wavelength, and designs written in
the classic notation.

    table = layer_table(design, 550.0)          # n, k, d, n d and QWOT = 4 n d / lambda_ref per layer
    obj = from_formula("(HL)^7 H", {"H": "TiO2", "L": "SiO2"}, 550.0, "air", "N-BK7")

The notation: H, L and M are layers one quarter wave thick at the reference wavelength (of the
high, low and medium index material); a number before a letter multiplies it (2H is a half wave,
0.5L an eighth); parentheses group layers and ^N repeats a group (or a single layer) N times;
spaces are ignored. Neighbouring layers of one material merge into one, as they would deposit:
"(HL)^2 (LH)^2" has a 2L spacer in the middle. Each layer's thickness is
qwot * lambda_ref / (4 n), n the real part of its material's index at lambda_ref.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from domains.photonics import materials
from domains.photonics.design import MAX_LAYERS, Design
from domains.photonics.materials import Material
from specialist.errors import InputError

LETTERS = ("H", "L", "M")
_TOKEN = re.compile(r"\s*(?:(\d+\.?\d*|\.\d+)|([A-Za-z])|(\()|(\))|(\^))")
_ALLOWED = ("allowed: the letters H, L (and M with --medium) for quarter-wave layers, multiples such as 2H or 0.5L, "
            "and groups in parentheses repeated with ^N, e.g. \"(HL)^7 H\"")


def layer_table(design: Design, reference_nm: float, source: str = "--reference", field: str = "") -> dict:
    """Per layer (1 = next to the incident medium): n and k at ``reference_nm``, the physical and
    optical thickness [nm] and the quarter waves QWOT = 4 n d / reference_nm; with the totals.

    Raises:
        InputError: for a reference wavelength that is not > 0 or lies outside a layer's data.
    """
    check_reference(reference_nm, source, field)
    rows = []
    for i, (m, d) in enumerate(design.layers):
        nk = _index(m, reference_nm, source, f"layers[{i}].material", field)
        rows.append({"layer": i + 1, "material": m.name, "n": nk.real, "k": nk.imag, "thickness_nm": d,
                     "optical_thickness_nm": nk.real * d, "qwot": 4.0 * nk.real * d / reference_nm})
    return {"reference_nm": float(reference_nm), "incident": design.incident.name, "substrate": design.substrate.name,
            "layers": rows, "total_thickness_nm": float(sum(r["thickness_nm"] for r in rows)),
            "total_optical_thickness_nm": float(sum(r["optical_thickness_nm"] for r in rows))}


def check_reference(reference_nm: Any, source: str = "--reference", field: str = "") -> None:
    """A reference wavelength must be a finite number > 0 [nm]."""
    if not (isinstance(reference_nm, (int, float)) and math.isfinite(reference_nm) and reference_nm > 0):
        raise InputError(source, field, f"is {reference_nm!r}; allowed: a finite wavelength > 0 in nm (e.g. 550)")


def _index(m: Material, reference_nm: float, source: str, used_as: str, field: str = "") -> complex:
    lo, hi = m.valid_nm
    if not lo <= reference_nm <= hi:
        raise InputError(source, field, f"is {reference_nm:g} nm, outside the data of {used_as} '{m.name}' "
                         f"({lo:g}-{hi:g} nm); allowed: a wavelength every material of the design has data at")
    return complex(m.nk(np.array([reference_nm]))[0])


def from_formula(formula: str, names: dict[str, Any], reference_nm: float, incident: Any, substrate: Any) -> dict:
    """The design JSON of a formula (module docstring), with thickness_nm per layer and reference_nm.

    Args:
        formula: e.g. "(HL)^7 H".
        names: the material of each letter used, keyed "H", "L", "M": a library name or an
            index (a number, or its text) for a non-dispersive material named by the letter.
        reference_nm: the wavelength the quarter waves count at [nm].
        incident, substrate: the media, as the design JSON gives them.

    Raises:
        InputError: for a malformed formula (naming --formula), a letter without its material, a
            material unknown or without data at the reference (naming the option).
    """
    check_reference(reference_nm)
    layers = _merged(parse_formula(formula))
    mats = {letter: _material(letter, names.get(letter)) for letter in {x for x, _ in layers}}
    out = []
    for letter, qw in layers:
        m = mats[letter]
        n = _index(m, reference_nm, "--reference", f"--{_OPTION[letter]}").real
        out.append({"material": m.name if m.from_library else {"name": m.name, "n": n},
                    "thickness_nm": qw * reference_nm / (4.0 * n)})
    return {"incident": incident, "substrate": substrate, "reference_nm": float(reference_nm), "layers": out}


_OPTION = {"H": "high", "L": "low", "M": "medium"}


def _material(letter: str, spec: Any) -> Material:
    option = f"--{_OPTION[letter]}"
    if spec is None:
        raise InputError(option, "", f"is missing, but the formula uses {letter}; allowed: a library material "
                         "name or a real index such as 2.35")
    try:
        n = float(spec)
    except (TypeError, ValueError):
        return materials.parse(spec, option, "")
    if not (math.isfinite(n) and n > 0):
        raise InputError(option, "", f"is {spec!r}; allowed: a library material name or a finite real index > 0")
    return materials.inline(letter, n)


def parse_formula(formula: str) -> list[tuple[str, float]]:
    """(letter, quarter waves) of each layer a formula spells out, before merging.

    Raises:
        InputError: naming --formula for anything malformed, or more than MAX_LAYERS layers.
    """
    tokens = _tokens(formula)
    layers, pos = _sequence(tokens, 0, formula)
    if pos != len(tokens):
        _fail(formula, "a ')' closes no group")
    if not layers:
        _fail(formula, "it holds no layer")
    return layers


def _tokens(formula: str) -> list[tuple[str, str]]:
    out, pos, text = [], 0, formula.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            _fail(formula, f"'{text[pos:].strip()[0]}' is not part of the notation")
        kind = ("number", "letter", "(", ")", "^")[match.lastindex - 1]
        out.append((kind, match.group(match.lastindex)))
        pos = match.end()
    return out


def _sequence(tokens: list, pos: int, formula: str) -> tuple[list[tuple[str, float]], int]:
    layers: list[tuple[str, float]] = []
    while pos < len(tokens) and tokens[pos][0] != ")":
        item, pos = _item(tokens, pos, formula)
        layers += item
        if len(layers) > MAX_LAYERS:
            _fail(formula, f"it spells out more than {MAX_LAYERS} layers")
    return layers, pos


def _item(tokens: list, pos: int, formula: str) -> tuple[list[tuple[str, float]], int]:
    kind, text = tokens[pos]
    if kind == "^":
        _fail(formula, "'^' follows no layer or group")
    if kind == "(":
        item, pos = _sequence(tokens, pos + 1, formula)
        if pos >= len(tokens):
            _fail(formula, "a '(' is never closed")
        if not item:
            _fail(formula, "'()' is an empty group")
        pos += 1
    else:
        factor = 1.0
        if kind == "number":
            factor = float(text)
            pos += 1
            if pos >= len(tokens) or tokens[pos][0] != "letter":
                _fail(formula, f"the multiple {text} is not followed by a layer letter")
            if not factor > 0:
                _fail(formula, f"the multiple {text} is not > 0")
        letter = tokens[pos][1]
        if letter not in LETTERS:
            _fail(formula, f"'{letter}' is not a layer letter")
        item, pos = [(letter, factor)], pos + 1
    return _repeat(item, tokens, pos, formula)


def _repeat(item: list, tokens: list, pos: int, formula: str) -> tuple[list[tuple[str, float]], int]:
    if pos >= len(tokens) or tokens[pos][0] != "^":
        return item, pos
    if pos + 1 >= len(tokens) or tokens[pos + 1][0] != "number" or not tokens[pos + 1][1].isdigit():
        _fail(formula, "'^' must be followed by a whole number of repeats")
    count = int(tokens[pos + 1][1])
    if count < 1:
        _fail(formula, "a group is repeated ^0 times")
    if len(item) * count > MAX_LAYERS:  # checked before expanding: (HL)^1000000000 must not fill memory
        _fail(formula, f"it spells out more than {MAX_LAYERS} layers")
    return item * count, pos + 2


def _merged(layers: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """Neighbouring layers of one letter as one layer (their quarter waves added)."""
    out: list[tuple[str, float]] = []
    for letter, qw in layers:
        if out and out[-1][0] == letter:
            out[-1] = (letter, out[-1][1] + qw)
        else:
            out.append((letter, qw))
    return out


def _fail(formula: str, problem: str):
    raise InputError("--formula", "", f"is '{formula}', which is malformed: {problem}; {_ALLOWED}")
