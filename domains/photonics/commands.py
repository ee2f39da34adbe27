"""The photonics commands of `specialist`: evaluate, materials, extract, and the option parsers
they share with simulate (domains/photonics/simulate_command.py).

They reach the command line through the entry-point group ``specialist.commands`` (see
pyproject.toml), as any domain package's commands would; like the command line itself they sit
above the domain's own modules.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from rich.console import Console
from rich.table import Table

from domains.photonics import design, goals, materials as lib, merit, plots, spectra
from domains.photonics.plugin import PhotonicsDomain
from feeds.arxiv import parse_page
from specialist.cli.io import (Command, count_note, emit, fmt, json_flag as _json_flag, plot_arg, read_bytes,
                               read_json)
from specialist.errors import InputError

_console = Console()


_WAVELENGTHS_ALLOWED = ("allowed: wavelengths in nm from 1 to 1e6, as start:stop:count with start <= stop and a "
                        "whole count from 1 to 100000 (e.g. 400:700:301), or one wavelength")
_ANGLES_ALLOWED = ("allowed: angles of incidence in degrees in [0, 90), as one angle or a sweep start:stop:count "
                   "with start <= stop and a whole count from 1 to 1000 (e.g. 0:60:13)")


@dataclass(frozen=True)
class Grid:
    """What an evenly spaced option accepts: one value, or start:stop:count."""

    noun: str  # plural, for messages: "wavelengths"
    unit: str
    ok: Callable[[float], bool]  # whether one value is in range
    range_text: str  # the range ``ok`` accepts, for messages: "> 0"
    max_count: int
    allowed: str  # the closing "allowed: ..." of every message


# 1 nm to 1 mm: beyond either end no material has data and no thin-film model holds; inline
# materials have no range of their own, so the option bounds them.
WAVELENGTH_GRID = Grid("wavelengths", "nm", lambda x: 1 <= x <= 1e6, "from 1 to 1e6", 100000, _WAVELENGTHS_ALLOWED)
ANGLE_GRID = Grid("angles", "deg", lambda x: 0 <= x < 90, "in [0, 90)", 1000, _ANGLES_ALLOWED)


def spaced(spec: str, option: str, grid: Grid) -> np.ndarray:
    """Evenly spaced values from 'start:stop:count' (or one number), checked against ``grid``.

    Raises:
        InputError: naming ``option`` and what ``grid`` allows.
    """
    try:
        parts = [float(p) for p in spec.split(":")]
    except ValueError:
        parts = []
    ends = parts[:1] if len(parts) == 1 else parts[:2] if len(parts) == 3 else []
    if not ends:
        raise InputError(option, "", f"is '{spec}'; {grid.allowed}")
    if not all(np.isfinite(ends)):
        raise InputError(option, "", f"is '{spec}', which is not finite; {grid.allowed}")
    bad = [x for x in ends if not grid.ok(x)]
    if bad:
        raise InputError(option, "", f"is '{spec}', which reaches {bad[0]:g} {grid.unit}, but {grid.noun} must be "
                         f"{grid.range_text}; {grid.allowed}")
    if len(parts) == 1:
        return np.array(parts)
    if not parts[0] <= parts[1] or not 1 <= parts[2] <= grid.max_count or parts[2] != int(parts[2]):
        raise InputError(option, "", f"is '{spec}'; {grid.allowed}")
    return np.linspace(parts[0], parts[1], int(parts[2]))


def wavelengths(spec: str, option: str = "--wavelengths") -> np.ndarray:
    """Evenly spaced wavelengths [nm] from 'start:stop:count' (or one number)."""
    return spaced(spec, option, WAVELENGTH_GRID)


def angles(spec: str, option: str = "--angle") -> np.ndarray:
    """Angles of incidence [deg] in [0, 90) from one number or a sweep 'start:stop:count'."""
    return spaced(spec, option, ANGLE_GRID)


def sample_rows(n: int, most: int) -> list[int]:
    """At most ``most`` evenly spread row indices of ``n``, the first and the last included."""
    return np.unique(np.linspace(0, n - 1, min(n, most)).round().astype(int)).tolist()


def check_output(option: str, path: str | None, suffix: str) -> None:
    """Refuse an output file (--csv, --plot) that cannot be written before the work, not after it."""
    if path is None:
        return
    if not path.lower().endswith(suffix):
        raise InputError(option, "", f"is '{path}'; allowed: a file name ending in {suffix}")
    if not Path(path).resolve().parent.is_dir():
        raise InputError(option, "", f"is '{path}', whose folder does not exist; allowed: a file in an existing, "
                         "writable folder")


# --- evaluate --------------------------------------------------------------------------------

def _evaluate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("goal", metavar="GOAL.json")
    p.add_argument("design", metavar="DESIGN.json", help="a design, or a JSON list of designs: each gets its merit, "
                   "solved flag or the reason it is rejected, scored in batches")
    plot_arg(p)
    p.epilog = ("--plot draws the design's curve for each target with the allowed region shaded, one panel per "
                "quantity, angle and polarization")
    _json_flag(p)


def evaluate(args: argparse.Namespace) -> int:
    check_output("--plot", args.plot, ".png")
    goal = goals.parse(read_json(args.goal), args.goal)
    obj = read_json(args.design)
    if isinstance(obj, list):
        return _evaluate_many(args, goal, obj)
    d = design.parse(obj, args.design, goal.inline_materials)
    why = goal.violation(d)
    if why:
        doc = {"merit": None, "solved": False, "rejected": why, "targets": []}
    else:
        ev = merit.Evaluator(goal)
        score = ev.score([d])[0]
        doc = {"merit": score["merit"], "solved": score["solved"], "rejected": None,
               "targets": ev.detail(d)}
    if args.plot and not why:
        _plot_evaluation(args.plot, goal, doc, args.design)
    emit(args, doc, _render_evaluation)
    if args.plot and why:
        print(f"no plot drawn: the design is rejected ({why})", file=sys.stderr)
    return 1 if why else 0


def _evaluate_many(args: argparse.Namespace, goal: goals.Goal, items: list) -> int:
    """A list of designs scored in batches of ``spectra.CHUNK`` (the last one padded, so one
    compiled shape serves all): per design its merit and solved flag, or why it is rejected."""
    if not items:
        raise InputError(args.design, "", "holds an empty list; give a design or a non-empty list of designs")
    if args.plot:
        raise InputError("--plot", "", "draws one design; allowed: a file holding one design, not a list")
    designs = [design.parse(o, f"{args.design}[{i}]", goal.inline_materials) for i, o in enumerate(items)]
    ev, docs = merit.Evaluator(goal), []
    size = min(len(designs), spectra.CHUNK)
    for start in range(0, len(designs), size):
        chunk = designs[start:start + size]
        scored = ev.score(chunk + chunk[:1] * (size - len(chunk)))[:len(chunk)]
        docs += [{"merit": r.get("merit"), "solved": r.get("solved", False), "rejected": r.get("rejected")}
                 for r in scored]
    emit(args, docs, _render_evaluations)
    return 0


def _render_evaluations(docs: list[dict]) -> None:
    valid = [d["merit"] for d in docs if d["rejected"] is None]
    solved = sum(d["solved"] for d in docs)
    _console.print(f"{len(docs)} designs: {solved} solved, {len(docs) - len(valid)} rejected"
                   + (f"; merit best {min(valid):.4g}, median {float(np.median(valid)):.4g}" if valid else ""))
    for i, d in enumerate(docs[:20]):
        _console.print(f"  [{i}] " + (f"rejected: {d['rejected']}" if d["rejected"] else
                                      f"merit {d['merit']:.4g}{' (solved)' if d['solved'] else ''}"))
    if len(docs) > 20:
        _console.print(f"  ({count_note(20, len(docs), 'designs')}; --json gives every one)")


def _plot_evaluation(path: str, goal: goals.Goal, doc: dict, source: str) -> None:
    """One panel per (quantity, angle, polarization): the design's values, the allowed region shaded."""
    panels: dict[tuple, list[dict]] = {}
    for t, got in zip(goal.targets, doc["targets"]):
        value, tol = np.asarray(t.value), t.tolerance
        lo, hi = {"<=": (-np.inf, value), ">=": (value, np.inf), "=": (value - tol, value + tol)}[t.relation]
        shown = f"{t.value[0]:g}" if len(set(t.value)) == 1 else "target curve"
        label = f"{t.quantity} {t.relation} {shown}" + (f" ± {tol:g}" if t.relation == "=" else "")
        panels.setdefault((t.quantity, t.angle_deg, t.polarization), []).append(
            {"wavelength_nm": got["wavelength_nm"], "values": got["values"], "lo": lo, "hi": hi,
             "label": label, "quantity": t.quantity})
    verdict = "solved" if doc["solved"] else "not solved"
    title = f"{goal.name}: {source}, merit {doc['merit']:.4g} ({verdict}, solved below {goal.solved_below:g})"
    plots.target_figure(path, [(f"{q}, {pol} polarization, {a:g}°", items)
                               for (q, a, pol), items in panels.items()], title)


def _render_evaluation(doc: dict) -> None:
    if doc["rejected"]:
        _console.print(f"[red]rejected[/red]: {doc['rejected']}")
        return
    table = Table(title=f"merit {doc['merit']:.6g} — {'solved' if doc['solved'] else 'not solved'}")
    for col in ("target", "angle", "pol", "range nm", "merit term", "worst violation"):
        table.add_column(col, justify="right")
    for t in doc["targets"]:
        wl = t["wavelength_nm"]
        table.add_row(f"{t['quantity']} {t['relation']}", f"{t['angle_deg']:g}", t["polarization"],
                      f"{wl[0]:g}-{wl[-1]:g}", f"{t['merit']:.4g}", f"{t['worst_violation']:.4g}")
    _console.print(table)


# --- materials -------------------------------------------------------------------------------

def _materials_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", metavar="NAME", help="a library material; without it, the list")
    p.add_argument("--wavelengths", default="400:700:31", help="start:stop:count in nm (default 400:700:31)")
    _json_flag(p)


def materials(args: argparse.Namespace) -> int:
    if args.name is None:
        docs = [{"name": m.name, "reference": m.reference, "valid_nm": list(m.valid_nm)}
                for m in lib.library().values()]
        emit(args, docs, _render_library)
        return 0
    m = lib.parse(args.name, "materials", "NAME")
    wl = wavelengths(args.wavelengths)
    nk = m.nk(wl, "--wavelengths")
    doc = {"name": m.name, "reference": m.reference, "valid_nm": list(m.valid_nm),
           "wavelength_nm": wl.tolist(), "n": nk.real.tolist(), "k": nk.imag.tolist()}
    emit(args, doc, _render_material)
    return 0


def _render_library(docs: list[dict]) -> None:
    table = Table(title="material library", caption="N = n + ik (k >= 0 absorbs); "
                  "`specialist materials NAME` prints n and k")
    for col, justify in (("name", "left"), ("from nm", "right"), ("to nm", "right"), ("reference", "left")):
        table.add_column(col, justify=justify)
    for d in docs:
        table.add_row(d["name"], f"{d['valid_nm'][0]:g}", f"{d['valid_nm'][1]:g}", d["reference"])
    _console.print(table)
    _console.print(f"{len(docs)} materials")


MATERIAL_ROWS = 101  # longer tables are sampled (and say so); --json gives every wavelength


def _render_material(doc: dict) -> None:
    wl = doc["wavelength_nm"]
    rows = sample_rows(len(wl), MATERIAL_ROWS)
    table = Table(title=f"{doc['name']}: N = n + ik", caption=count_note(len(rows), len(wl), "wavelengths"))
    for col in ("wavelength nm", "n", "k"):
        table.add_column(col, justify="right")
    for i in rows:
        table.add_row(fmt(wl[i], 1), fmt(doc["n"][i], 5), _k(doc["k"][i]))
    _console.print(table)
    _console.print(f"valid {doc['valid_nm'][0]:g}-{doc['valid_nm'][1]:g} nm")
    _console.print(f"reference: {doc['reference']}")


def _k(k: float) -> str:
    """k for people: 0 when lossless, small absorptions in scientific notation."""
    return "0" if k == 0 else fmt(k, 5) if abs(k) >= 1e-3 else f"{k:.3e}"


# --- extract ---------------------------------------------------------------------------------

def _extract_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("feed", metavar="FEED.xml", help="an arXiv API (Atom) response, e.g. a recorded feed")
    _json_flag(p)


def extract(args: argparse.Namespace) -> int:
    data = read_bytes(args.feed)
    domain = PhotonicsDomain()
    docs = []
    for paper in parse_page(data, args.feed)[1]:
        found = domain.from_record({"kind": "paper", **paper})
        docs.append({"paper": paper["arxiv_id"], "goals": found["goals"], "claims": found["claims"]})
    emit(args, docs, _render_extraction)
    return 0


def _render_extraction(docs: list[dict]) -> None:
    table = Table(title="goals and claims stated in the feed's papers")
    for col in ("paper", "goals (targets)", "claims"):
        table.add_column(col)
    for doc in docs:
        targets = [f"{t['quantity']} {t['relation']} {t['value']:g} at {_band(t['wavelength_nm'])}"
                   + (f", {t['angle_deg']:g} deg" if t["angle_deg"] else "")
                   for g in doc["goals"] for t in g["targets"]]
        claims = [("design stated: " if c["design"] else "") + c["text"] for c in doc["claims"]]
        table.add_row(doc["paper"], "\n".join(targets) or "-", "\n".join(claims) or "-")
    _console.print(table)
    _console.print(f"{len(docs)} papers, {sum(len(d['goals']) for d in docs)} goals, "
                   f"{sum(len(d['claims']) for d in docs)} claims")


def _band(wl: list[float]) -> str:
    return f"{wl[0]:g} nm" if wl[0] == wl[1] else f"{wl[0]:g}-{wl[1]:g} nm"


COMMANDS = {
    "evaluate": Command("merit of a design against a goal, solved or not, per-target detail",
                        _evaluate_args, evaluate),
    "materials": Command("the material library, or n and k of one material with its source",
                         _materials_args, materials),
    "extract": Command("preview the goals and claims the papers of an arXiv feed (Atom XML) would yield",
                       _extract_args, extract),
}
