"""Measured results of coatings: the lab's file format, and how far a measurement is from the simulation.

    row = read_result(csv_path, sidecar_path, "a.csv", "a.json")   # the ``results`` row, unjudged
    v = verdict(row["design"], row["measurement"], calibration)     # {"rms": {"R": ...}, "rms_all": ...}
    items = measured(store.rows("results"))                         # [(Design, measurement)] to fit

A result is two files with one stem, ``NAME.csv`` and its sidecar ``NAME.json`` (how they reach
the store, the drop folder's rules, is ``feeds.lab``'s).

``NAME.csv``: UTF-8 text, comma separated, a header line naming the columns ``wavelength_nm`` and
``R`` and/or ``T``, and nothing else; then 3 to 100000 rows of plain decimal numbers. Wavelengths
(nm) strictly increase and lie inside every design material's valid range. R and T are fractions
in [0, 1]; percent is not accepted, so a misread column cannot pass as data. Blank lines and
lines starting with ``#`` are skipped. At most 16 MiB (the sidecar: 1 MiB).

``NAME.json``: an object with ``design`` (the design JSON, required), ``sample_id`` (text, default
NAME), ``angle_deg`` (in [0, 90), default 0), ``polarization`` ("s", "p" or "avg", default "avg"),
``run`` (the deposition run, text or integer, default the sample id), ``notes`` (text), and what
the sample was made for: ``lab_goal`` (a lab goal's name) and ``hypothesis`` (the key of the
daemon's design it made), both text.

The measurement stored from them holds ``file``, ``sidecar``, ``wavelength_nm``, ``R`` and/or
``T``, ``angle_deg``, ``polarization``, ``run``, and ``notes``, ``lab_goal`` and ``hypothesis``
(when given); the content key is the
SHA-256 of both files, so a result read again is the same row.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import re
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from domains.photonics import calibration as calibration_mod, design as design_mod
from specialist.errors import InputError

MIN_POINTS, MAX_POINTS = 3, 100_000
MAX_CSV_BYTES, MAX_SIDECAR_BYTES = 16 << 20, 1 << 20
COLUMNS = ("wavelength_nm", "R", "T")
SIDECAR_FIELDS = ("design", "sample_id", "angle_deg", "polarization", "run", "notes", "lab_goal", "hypothesis")
_LINKS = ("lab_goal", "hypothesis")

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_CSV_FORM = "a header wavelength_nm,R,T (R or T may be left out) and one row of numbers per wavelength"


def read_result(csv_path: Path, sidecar_path: Path, csv_label: str, sidecar_label: str) -> dict:
    """The ``results`` row (without verdict) of a result pair, checked as the module docstring says.

    Args:
        csv_path, sidecar_path: the two files.
        csv_label, sidecar_label: their names in errors and in the row.

    Returns:
        {"sha256" (of both files' content), "name", "sample_id", "design" (JSON), "measurement"}.

    Raises:
        InputError: naming the file (as its label), the field and what is allowed.
    """
    csv_raw = _read(csv_path, csv_label, MAX_CSV_BYTES)
    sidecar_raw = _read(sidecar_path, sidecar_label, MAX_SIDECAR_BYTES)
    columns = _table(csv_raw, csv_label)
    meta, design = _sidecar(sidecar_raw, sidecar_label, Path(csv_label).stem)
    _in_range(columns["wavelength_nm"], design, csv_label, sidecar_label)
    measurement = {"file": Path(csv_label).name, "sidecar": Path(sidecar_label).name,
                   **{c: v.tolist() for c, v in columns.items()},
                   **{k: meta[k] for k in ("angle_deg", "polarization", "run", "notes", *_LINKS) if k in meta}}
    content = len(csv_raw).to_bytes(8, "big") + csv_raw + sidecar_raw  # length-prefixed: unambiguous
    return {"sha256": hashlib.sha256(content).hexdigest(), "name": Path(csv_label).name,
            "sample_id": meta["sample_id"], "design": meta["design"], "measurement": measurement}


def _read(path: Path, label: str, limit: int) -> bytes:
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except FileNotFoundError:
        raise InputError(label, "", "does not exist; a result is NAME.csv with its sidecar NAME.json") from None
    except OSError as err:
        raise InputError(label, "", f"cannot be read ({err.strerror})") from None
    if len(data) > limit:
        raise InputError(label, "", f"is larger than {limit >> 20} MiB, the most a result file may be")
    return data


def _sidecar(raw: bytes, label: str, stem: str) -> tuple[dict, design_mod.Design]:
    """The sidecar's fields with their defaults filled in, and the parsed design."""
    try:
        obj = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise InputError(label, "", f"is not valid JSON ({_show(str(err), 80)}); allowed: an object "
                         f"with the fields {', '.join(SIDECAR_FIELDS)}") from None
    if not isinstance(obj, dict):
        raise InputError(label, "", f"must hold a JSON object with the fields {', '.join(SIDECAR_FIELDS)}")
    for key in obj:
        if key not in SIDECAR_FIELDS:
            raise InputError(label, _show(key), f"is not a sidecar field; allowed: {', '.join(SIDECAR_FIELDS)}")
    if "design" not in obj:
        raise InputError(label, "design", "is missing; give the design JSON of the measured sample")
    try:
        design = design_mod.parse(obj["design"], label)
    except InputError as err:
        raise InputError(label, f"design.{err.field}" if err.field else "design", err.problem) from None
    meta = {"design": obj["design"], "sample_id": _text(obj.get("sample_id", stem), label, "sample_id"),
            "angle_deg": _angle(obj.get("angle_deg", 0), label),
            "polarization": obj.get("polarization", "avg")}
    if meta["polarization"] not in ("s", "p", "avg"):
        raise InputError(label, "polarization", f"is {_show(meta['polarization'])}; allowed: "
                         '"s", "p" or "avg"')
    run = obj.get("run", meta["sample_id"])
    meta["run"] = str(run) if isinstance(run, int) and not isinstance(run, bool) else _text(run, label, "run")
    if "notes" in obj and not isinstance(obj["notes"], str):
        raise InputError(label, "notes", f"is {_show(obj['notes'])}; allowed: text")
    links = {k: _text(obj[k], label, k) for k in _LINKS if k in obj}
    return {**meta, **({"notes": obj["notes"]} if "notes" in obj else {}), **links}, design


def _text(value: Any, label: str, field: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value.strip()) <= 200:
        raise InputError(label, field, f"is {_show(value)}; allowed: text of 1 to 200 characters")
    return value.strip()


def _angle(value: Any, label: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 90:
        raise InputError(label, "angle_deg", f"is {_show(value)}; allowed: a number of degrees in [0, 90)")
    return float(value)


def _table(raw: bytes, label: str) -> dict[str, np.ndarray]:
    """The CSV's columns by name, every value finite and in its range."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(label, "", f"is not UTF-8 text (byte {err.start}); allowed: {_CSV_FORM}") from None
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1)
             if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise InputError(label, "", f"holds no data; allowed: {_CSV_FORM}")
    try:
        records = list(csv.reader(line for _, line in lines))
    except csv.Error as err:
        raise InputError(label, "", f"is not readable as CSV ({err}); allowed: {_CSV_FORM}") from None
    header = _header(records[0], label)
    if not MIN_POINTS <= len(records) - 1 <= MAX_POINTS:
        raise InputError(label, "", f"has {len(records) - 1} data rows; allowed: {MIN_POINTS} to {MAX_POINTS}")
    values = np.empty((len(records) - 1, len(header)))
    for i, ((n, _), record) in enumerate(zip(lines[1:], records[1:])):
        if len(record) != len(header):
            raise InputError(label, f"line {n}", f"has {len(record)} values; allowed: one per column "
                             f"({', '.join(header)})")
        values[i] = [_number(v, label, f"line {n}, {c}") for v, c in zip(record, header)]
    columns = {c: values[:, j] for j, c in enumerate(header)}
    _check_values(columns, [n for n, _ in lines[1:]], label)
    return columns


def _header(record: list[str], label: str) -> list[str]:
    header = [c.strip() for c in record]
    for c in header:
        if c not in COLUMNS:
            raise InputError(label, "header", f"names column {_show(c)}; allowed: wavelength_nm and R "
                             "and/or T, comma separated")
        if header.count(c) > 1:
            raise InputError(label, "header", f"names column '{c}' twice; each column appears once")
    if "wavelength_nm" not in header or len(header) < 2:
        raise InputError(label, "header", f"is {_show(','.join(header))}; it needs wavelength_nm and R "
                         "and/or T")
    return header


def _number(text: str, label: str, where: str) -> float:
    s = text.strip()
    value = float(s) if _NUMBER.fullmatch(s) else math.nan
    if not math.isfinite(value):
        raise InputError(label, where, f"is {_show(s)}; allowed: a finite decimal number, e.g. 0.042")
    return value


def _check_values(columns: dict[str, np.ndarray], line_numbers: list[int], label: str) -> None:
    wl = columns["wavelength_nm"]
    steps = np.flatnonzero(np.diff(wl) <= 0)
    if wl[0] <= 0 or steps.size:
        i = 0 if wl[0] <= 0 else int(steps[0]) + 1
        raise InputError(label, "wavelength_nm", f"is {wl[i]:g} at line {line_numbers[i]}; wavelengths "
                         "(nm) must be > 0 and strictly increase")
    for q in (c for c in columns if c != "wavelength_nm"):
        bad = np.flatnonzero((columns[q] < 0) | (columns[q] > 1))
        if bad.size:
            i = int(bad[0])
            raise InputError(label, q, f"is {columns[q][i]:g} at line {line_numbers[i]}; R and T are "
                             "fractions in [0, 1] (percent is not accepted: divide by 100)")


def _in_range(wl: np.ndarray, design: design_mod.Design, csv_label: str, sidecar_label: str) -> None:
    used = [("incident", design.incident), ("substrate", design.substrate)]
    used += [(f"layers[{i}].material", m) for i, (m, _) in enumerate(design.layers)]
    used += [("exit", design.exit)] if design.exit is not None else []
    for field, m in used:
        lo, hi = m.valid_nm
        if wl[0] < lo or wl[-1] > hi:
            raise InputError(csv_label, "wavelength_nm", f"spans {wl[0]:g}-{wl[-1]:g} nm, but {field} "
                             f"'{m.name}' of {Path(sidecar_label).name} is defined only for {lo:g}-{hi:g} nm")


def _show(value: Any, limit: int = 40) -> str:
    """A value as quoted in an error, cut short (input may be huge or binary)."""
    if isinstance(value, (list, dict)):
        return "a list" if isinstance(value, list) else "an object"
    text = repr(value) if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- measured against simulated -----------------------------------------------------------------

def verdict(design: dict, measurement: dict, calibration: dict | None = None,
            source: str = "design") -> dict[str, Any]:
    """How far the measured spectrum is from the simulated one.

    Args:
        design: the design JSON that was made and measured.
        measurement: as ``read_result`` stores it (``wavelength_nm``, ``R`` and/or ``T``,
            ``angle_deg``, ``polarization``, ``run``).
        calibration: applied to the simulation when given (see ``calibration.fit``).
        source: names the design in errors.

    Returns:
        {"rms": {q: RMS(measured - simulated)}, "bias": {q: mean difference}, "max_abs": {q: ...},
        "rms_all": RMS over every point, "points", "calibration": its version or None}.

    Raises:
        InputError: when the design is invalid or asked for outside its materials' range.
    """
    predicted = calibration_mod.predict(design_mod.parse(design, source), measurement, calibration)
    diff = {q: np.asarray(measurement[q], dtype=np.float64) - predicted[q] for q in predicted}
    every = np.concatenate(list(diff.values()))
    return {"rms": {q: _rms(d) for q, d in diff.items()},
            "bias": {q: float(np.mean(d)) for q, d in diff.items()},
            "max_abs": {q: float(np.max(np.abs(d))) for q, d in diff.items()},
            "rms_all": _rms(every), "points": int(every.size),
            "calibration": None if calibration is None else calibration.get("version")}


def measured(rows: Iterable[dict]) -> list[tuple[design_mod.Design, dict]]:
    """Stored ``results`` rows as (design, measurement); a result without a run is a run of its own."""
    out = []
    for row in rows:
        m = dict(row["measurement"])
        m["run"] = str(m.get("run") or row["sample_id"] or row["sha256"])
        out.append((design_mod.parse(row["design"], row["name"]), m))
    return out


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x))))
