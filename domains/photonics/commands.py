"""The photonics commands of `specialist`: simulate, evaluate, materials, extract.

They reach the command line through the entry-point group ``specialist.commands`` (see
pyproject.toml), as any domain package's commands would; like the command line itself they sit
above the domain's own modules.
"""

from __future__ import annotations

import argparse

import numpy as np
from rich.console import Console
from rich.table import Table

from domains.photonics import design, goals, materials as lib, merit, spectra
from domains.photonics.plugin import PhotonicsDomain
from feeds.arxiv import parse_page
from specialist.cli.io import Command, emit, json_flag as _json_flag, read_bytes, read_json
from specialist.errors import InputError

_console = Console()


_WAVELENGTHS_ALLOWED = ("allowed: finite wavelengths in nm, as start:stop:count with 0 < start <= stop and a "
                        "whole count from 1 to 100000 (e.g. 400:700:301), or one wavelength")


def wavelengths(spec: str, option: str = "--wavelengths") -> np.ndarray:
    """Evenly spaced wavelengths [nm] from 'start:stop:count' (or one number)."""
    try:
        parts = [float(p) for p in spec.split(":")]
    except ValueError:
        parts = []
    ends = parts[:1] if len(parts) == 1 else parts[:2] if len(parts) == 3 else []
    if not ends:
        raise InputError(option, "", f"is '{spec}'; {_WAVELENGTHS_ALLOWED}")
    if not all(np.isfinite(ends)):
        raise InputError(option, "", f"is '{spec}', which is not a finite wavelength; {_WAVELENGTHS_ALLOWED}")
    if min(ends) <= 0:
        raise InputError(option, "", f"is '{spec}', which reaches {min(ends):g} nm, but wavelengths must be > 0; "
                         f"{_WAVELENGTHS_ALLOWED}")
    if len(parts) == 1:
        return np.array(parts)
    if not parts[0] <= parts[1] or not 1 <= parts[2] <= 100000 or parts[2] != int(parts[2]):
        raise InputError(option, "", f"is '{spec}'; {_WAVELENGTHS_ALLOWED}")
    return np.linspace(parts[0], parts[1], int(parts[2]))


# --- simulate --------------------------------------------------------------------------------

def _simulate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("design", metavar="DESIGN.json", help="a design, or a JSON list of designs (one batch)")
    p.add_argument("--wavelengths", default="400:700:301", help="start:stop:count in nm (default 400:700:301)")
    p.add_argument("--angle", type=float, default=0.0, help="angle of incidence in degrees, in [0, 90) (default 0)")
    p.add_argument("--polarization", default="avg", choices=("s", "p", "avg"), help="default avg")
    _json_flag(p)


def simulate(args: argparse.Namespace) -> int:
    obj = read_json(args.design)
    many = isinstance(obj, list)
    items = obj if many else [obj]
    if not items:
        raise InputError(args.design, "", "holds an empty list; give a design or a non-empty list of designs")
    if not 0 <= args.angle < 90:
        raise InputError("--angle", "", f"is {args.angle:g}; allowed: degrees in [0, 90)")
    sources = [f"{args.design}[{i}]" if many else args.design for i in range(len(items))]
    designs = [design.parse(o, s) for o, s in zip(items, sources)]
    wl = wavelengths(args.wavelengths)
    out = spectra.simulate(designs, wl, [args.angle], args.polarization, sources)
    docs = [{"wavelength_nm": wl.tolist(), **{q: out[q][b, 0].tolist() for q in ("R", "T", "A")}}
            for b in range(len(designs))]
    emit(args, docs if many else docs[0], lambda d: _render_spectra(docs, sources))
    return 0


def _render_spectra(docs: list[dict], sources: list[str]) -> None:
    for doc, source in zip(docs, sources):
        table = Table(title=source)
        for col in ("wavelength nm", "R", "T", "A"):
            table.add_column(col, justify="right")
        wl = doc["wavelength_nm"]
        for i in np.unique(np.linspace(0, len(wl) - 1, min(len(wl), 15)).round().astype(int)):
            table.add_row(f"{wl[i]:.1f}", *(f"{doc[q][i]:.6f}" for q in ("R", "T", "A")))
        _console.print(table)
        _console.print(f"mean R {np.mean(doc['R']):.6f}  mean T {np.mean(doc['T']):.6f}  "
                       f"mean A {np.mean(doc['A']):.6f} over {len(wl)} wavelengths")


# --- evaluate --------------------------------------------------------------------------------

def _evaluate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("goal", metavar="GOAL.json")
    p.add_argument("design", metavar="DESIGN.json")
    _json_flag(p)


def evaluate(args: argparse.Namespace) -> int:
    goal = goals.parse(read_json(args.goal), args.goal)
    d = design.parse(read_json(args.design), args.design, goal.inline_materials)
    why = goal.violation(d)
    if why:
        doc = {"merit": None, "solved": False, "rejected": why, "targets": []}
    else:
        ev = merit.Evaluator(goal)
        score = ev.score([d])[0]
        doc = {"merit": score["merit"], "solved": score["solved"], "rejected": None,
               "targets": ev.detail(d)}
    emit(args, doc, _render_evaluation)
    return 1 if why else 0


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
    table = Table(title="material library (N = n + ik, k >= 0 absorbs)")
    for col in ("name", "valid nm", "reference"):
        table.add_column(col)
    for d in docs:
        table.add_row(d["name"], f"{d['valid_nm'][0]:g}-{d['valid_nm'][1]:g}", d["reference"])
    _console.print(table)


def _render_material(doc: dict) -> None:
    table = Table(title=f"{doc['name']}: {doc['reference']}")
    for col in ("wavelength nm", "n", "k"):
        table.add_column(col, justify="right")
    for w, n, k in zip(doc["wavelength_nm"], doc["n"], doc["k"]):
        table.add_row(f"{w:.1f}", f"{n:.5f}", f"{k:.5g}")
    _console.print(table)


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
    "simulate": Command("R, T and A of a design (or a list of designs, computed as one batch)",
                        _simulate_args, simulate),
    "evaluate": Command("merit of a design against a goal, solved or not, per-target detail",
                        _evaluate_args, evaluate),
    "materials": Command("the material library, or n and k of one material with its source",
                         _materials_args, materials),
    "extract": Command("preview the goals and claims the papers of an arXiv feed (Atom XML) would yield",
                       _extract_args, extract),
}
