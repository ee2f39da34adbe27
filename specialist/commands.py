"""Handlers of the photonics commands: simulate, evaluate, materials, bench, extract."""

from __future__ import annotations

import argparse

import numpy as np
from rich.console import Console
from rich.table import Table

from specialist import bench, daemon_cli, scaffold
from specialist.cli import emit, read_bytes, read_json, wavelengths
from specialist.errors import InputError

_console = Console()


def _json_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")


# --- simulate --------------------------------------------------------------------------------

def _simulate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("design", metavar="DESIGN.json", help="a design, or a JSON list of designs (one batch)")
    p.add_argument("--wavelengths", default="400:700:301", help="start:stop:count in nm (default 400:700:301)")
    p.add_argument("--angle", type=float, default=0.0, help="angle of incidence in degrees, in [0, 90) (default 0)")
    p.add_argument("--polarization", default="avg", choices=("s", "p", "avg"), help="default avg")
    _json_flag(p)


def simulate(args: argparse.Namespace) -> int:
    from domains.photonics import design, spectra

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
    from domains.photonics import design, goals, merit

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
    from domains.photonics import materials as lib

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
    from feeds.arxiv import parse_page
    from specialist import domain as domains

    data = read_bytes(args.feed)
    domain = domains.load("photonics")
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


# --- ingest ----------------------------------------------------------------------------------

def _ingest_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE", help="a measured spectrum NAME.csv (columns "
                   "wavelength_nm and R and/or T, as fractions) or its sidecar NAME.json (design, sample_id, "
                   "angle_deg, polarization, run), each naming the pair; or papers as an arXiv API (Atom) "
                   "response NAME.xml, whose goals and claims are stored for the daemon")
    daemon_cli._data_dir_arg(p)
    _json_flag(p)


def ingest(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from experiments.measurements import Judge
    from feeds.lab import LabFeed
    from specialist import domain as domains
    from specialist.loop import Paths
    from specialist.store import Store

    paths = Paths(Path(args.data_dir))
    domain = domains.load("photonics")
    store = Store(paths.store)
    papers = [f for f in args.files if f.lower().endswith(".xml")]
    try:
        feed = LabFeed(paths.drop, domain.read_result, Judge(store, domain))
        report = feed.ingest_files([f for f in args.files if f not in papers], store)
        found = [_ingest_papers(path, domain, store) for path in papers]
        report["files"] += found
        report["rejected"] += sum(e["status"] == "rejected" for e in found)
    finally:
        store.close()
    emit(args, report, _render_ingest)
    for entry in report["files"]:
        if entry["status"] == "rejected":
            print(f"error: {entry['error']}", file=sys.stderr)
    return 2 if report["rejected"] else 0


def _ingest_papers(path: str, domain, store) -> dict:
    """Papers of an arXiv API response file, stored with their goals and claims as the feed would."""
    from feeds.arxiv import paper_rows, parse_page

    try:
        records = parse_page(read_bytes(path), path)[1]
    except InputError as err:
        return {"file": path, "status": "rejected", "error": str(err)}
    rows = [row for paper in records for row in paper_rows(domain, paper)]
    new = store.put_many(rows)
    count = lambda table: sum(t == table for t, _ in rows)
    return {"file": path, "status": "stored" if new else "duplicate", "papers": count("papers"),
            "goals": count("goals"), "claims": count("claims"), "new_records": new}


def _render_ingest(doc: dict) -> None:
    table = Table(title="result files")
    for col in ("file", "status", "sample", "RMS measured - simulated"):
        table.add_column(col)
    for e in doc["files"]:
        rms = e.get("verdict", {}).get("rms", {})
        sample = e.get("sample_id") or (f"{e['papers']} papers, {e['goals']} goals, {e['claims']} claims"
                                        if "papers" in e else "-")
        table.add_row(e["file"], e["status"], sample, ", ".join(f"{q} {v:.4f}" for q, v in rms.items()) or "-")
    _console.print(table)
    _console.print(f"{doc['stored']} stored, {doc['duplicates']} already stored, {doc['rejected']} rejected")


COMMANDS = {
    "simulate": ("R, T and A of a design (or a list of designs, computed as one batch)",
                 _simulate_args, simulate),
    "evaluate": ("merit of a design against a goal, solved or not, per-target detail",
                 _evaluate_args, evaluate),
    "materials": ("the material library, or n and k of one material with its source",
                  _materials_args, materials),
    "bench": ("per-goal optimizers on goals at several evaluation budgets: solve rate, median merit",
              lambda p: bench.add_args(p), lambda a: bench.run(a)),
    "run": ("the daemon: propose, verify, learn until SIGINT/SIGTERM (checkpoint on the way out)",
            daemon_cli.run_args, daemon_cli.run),
    "status": ("what the daemon of a data directory is doing, from its store",
               daemon_cli.status_args, daemon_cli.status),
    "propose": ("the best design for a goal within a budget: the latest checkpoint, verified and refined",
                daemon_cli.propose_args, daemon_cli.propose),
    "ingest": ("hand measured result files in: check, store with a verdict, copy to the drop folder's processed/",
               _ingest_args, ingest),
    "extract": ("preview the goals and claims the papers of an arXiv feed (Atom XML) would yield",
                _extract_args, extract),
    "new-domain": ("create a new domain package to start from (passes the conformance test)",
                   scaffold.add_args, scaffold.run),
}
