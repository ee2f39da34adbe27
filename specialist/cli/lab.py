"""The lab's own goals: submit, withdraw, designs (with exports and tolerance), tolerance.

    specialist submit mirror.json edge.json --by ana     # worked on in every round until withdrawn
    specialist designs mirror --export out/ --tolerance  # best design, history, files to make it
    specialist withdraw mirror
    specialist tolerance goal.json design.json --thickness-pct 1 --index-sigma 0.01

They work on the store whether the daemon runs or not: a running daemon takes a submitted goal
into its next round, a stopped one at its start.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from feeds.lab import write_atomic
from feeds.labgoals import LabGoals, designs as lab_designs
from specialist import domain as domains
from specialist.cli.io import (config_arg, csv_arg, data_dir_arg, emit, json_flag, load_config, paths, plot_arg,
                               read_json, write_csv)
from specialist.errors import InputError
from specialist.store import Store

_console = Console()


def _lab(args: argparse.Namespace) -> tuple[LabGoals, Store]:
    cfg = load_config(args)
    store = Store(paths(args).store)
    return LabGoals(store, domains.load(cfg.daemon.domain), cfg.daemon.seed), store


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (some containers)
        return "lab"


# --- submit ----------------------------------------------------------------------------------

def submit_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("goals", nargs="+", metavar="GOAL.json", help="goal files; each goal is named by its \"name\" "
                   "(else the file's stem)")
    p.add_argument("--by", default=None, help="who submits them (default: the login name)")
    config_arg(p)
    data_dir_arg(p)
    json_flag(p)


def submit(args: argparse.Namespace) -> int:
    items, unread = [], []
    for path in args.goals:
        try:
            items.append((path, read_json(path)))
        except InputError as err:
            unread.append({"source": path, "status": "rejected", "error": str(err)})
    lab, store = _lab(args)
    try:
        report = lab.submit(items, args.by or _who())
    finally:
        store.close()
    report["goals"] = unread + report["goals"]
    report["rejected"] += len(unread)
    emit(args, report, lambda doc: _console.print(
        "\n".join(f"submitted {e['name']}" for e in doc["goals"] if e["status"] == "submitted") or "nothing submitted"))
    for entry in report["goals"]:
        if entry["status"] == "rejected":
            print(f"error: {entry['error']}", file=sys.stderr)
    return 2 if report["rejected"] else 0


# --- withdraw --------------------------------------------------------------------------------

def withdraw_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="NAME", help="the lab goal to stop working on (its designs are kept)")
    config_arg(p)
    data_dir_arg(p)
    json_flag(p)


def withdraw(args: argparse.Namespace) -> int:
    lab, store = _lab(args)
    try:
        row = lab.withdraw(args.name)
    finally:
        store.close()
    doc = {"name": row["name"], "status": row["status"], "withdrawn_at": row["withdrawn_at"]}
    emit(args, doc, lambda d: _console.print(f"withdrew {d['name']}"))
    return 0


# --- designs ---------------------------------------------------------------------------------

def designs_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", metavar="NAME", help="one lab goal (default: all of them)")
    p.add_argument("--export", type=Path, metavar="DIR", help="write each best design in the domain's forms to DIR "
                   "(photonics: NAME.design.json, NAME.layers.csv, NAME.spectrum.csv, and NAME.tolerance.json "
                   "with --tolerance)")
    p.add_argument("--tolerance", action="store_true", help="also run the tolerance analysis of each best design")
    _tolerance_options(p)
    config_arg(p)
    data_dir_arg(p)
    json_flag(p)


def designs(args: argparse.Namespace) -> int:
    where = paths(args)
    if not where.store.exists():
        raise InputError("--data-dir", "", f"{where.data_dir} holds no daemon data; allowed: the data directory "
                         "of a `specialist run` or `specialist submit`")
    store = Store(where.store)
    try:
        found = lab_designs(store, args.name)
    finally:
        store.close()
    if args.export or args.tolerance:
        domain = domains.load(load_config(args).daemon.domain)
        for entry in (e for e in found if e["best"]):
            if args.tolerance:
                entry["tolerance"] = _tolerance(domain, entry["goal"], entry["best"]["design"], args)
            if args.export:
                entry["files"] = _export(domain, entry, args.export)
    emit(args, {"lab_goals": found}, _render_designs)
    return 0


def _export(domain, entry: dict, folder: Path) -> list[str]:
    files = domain.export(entry["goal"], entry["best"]["design"]) if isinstance(domain, domains.Exports) else \
        {"design.json": _json(entry["best"]["design"])}
    if "tolerance" in entry:
        files["tolerance.json"] = _json(entry["tolerance"])
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix, text in files.items():
        path = folder / f"{entry['name']}.{suffix}"
        write_atomic(path, text)
        written.append(str(path))
    return written


def _json(doc) -> str:
    return json.dumps(doc, indent=2) + "\n"


def _render_designs(doc: dict) -> None:
    if not doc["lab_goals"]:
        _console.print("no lab goals yet: `specialist submit GOAL.json`")
        return
    table = Table(title="lab goals")
    for col in ("name", "status", "verified", "best merit", "solved", "found by", "gains"):
        table.add_column(col, no_wrap=col == "name")
    for e in doc["lab_goals"]:
        b = e["best"] or {}
        table.add_row(e["name"], e["status"], str(e["designs_verified"]), f"{b['merit']:.4g}" if b else "-",
                      ("yes" if b.get("solved") else "no") if b else "-",
                      f"v{b['params_version']} {b['origin']} r{b['round']}" if b else "-", str(len(e["history"])))
    _console.print(table)
    for e in doc["lab_goals"]:
        if "tolerance" in e:
            t = e["tolerance"]
            _console.print(f"{e['name']}: tolerance over {t['runs']} runs (thickness {t['thickness_pct']:g} %, index "
                           f"{t['index_sigma']:g}): merit {t['merit']:.4g} nominal, median {t['median']:.4g}, "
                           f"90th percentile {t['p90']:.4g}; {t['solved_share']:.0%} of runs solved")
        for path in e.get("files", []):
            _console.print(f"{e['name']}: wrote {path}")


# --- tolerance -------------------------------------------------------------------------------

def tolerance_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("goal", metavar="GOAL.json", help="the goal")
    p.add_argument("design", metavar="DESIGN.json", help="the design")
    _tolerance_options(p)
    csv_arg(p)
    plot_arg(p)
    config_arg(p)
    json_flag(p)


def _tolerance_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--thickness-pct", type=float, default=1.0, help="standard deviation of each layer's thickness "
                   "error, in percent of the layer (default 1)")
    p.add_argument("--index-sigma", type=float, default=0.01, help="standard deviation of each film material's "
                   "index offset, one per made copy (default 0.01)")
    p.add_argument("--runs", type=int, default=200, help="made copies simulated (default 200)")
    p.add_argument("--seed", type=int, default=0, help="seed of the errors (default 0)")


def tolerance(args: argparse.Namespace) -> int:
    if args.plot:
        from specialist.app import figures  # matplotlib loads only for --plot

        figures.check_png(args.plot)
    domain = domains.load(load_config(args).daemon.domain)
    merits: list[float] = []
    report = _tolerance(domain, read_json(args.goal), read_json(args.design), args, merits)
    if args.csv:
        write_csv(args.csv, SENSITIVITY_COLUMNS, ([r[c] for c in SENSITIVITY_COLUMNS]
                                                  for r in report.get("sensitivity", [])))
    if args.plot:
        figures.save_png(figures.tolerance(f"{args.design} against {args.goal}", report, merits), args.plot)
    emit(args, report, _render_tolerance)
    return 0


SENSITIVITY_COLUMNS = ("layer", "material", "thickness_nm", "dmerit_dnm", "merit_plus_1pct", "merit_minus_1pct")


def _render_tolerance(t: dict) -> None:
    _console.print(
        f"merit {t['merit']:.4g} as designed; over {t['runs']} made copies (thickness {t['thickness_pct']:g} %, index "
        f"{t['index_sigma']:g}): mean {t['mean']:.4g}, std {t['std']:.4g}, median {t['median']:.4g}, 90th percentile "
        f"{t['p90']:.4g}; {t['solved_share']:.0%} still solved")
    if not t.get("sensitivity"):
        return
    marked = {layer: rank for rank, layer in enumerate(t.get("most_sensitive_layers", []), start=1)}
    table = Table(title="per-layer sensitivity of the merit (each layer alone changed)",
                  caption="* the layers whose 1 % change moves the merit most (1 = most)")
    for col in ("layer", "material", "thickness nm", "dmerit/dnm", "merit +1 %", "merit -1 %", ""):
        table.add_column(col, justify="left" if col == "material" else "right")
    for r in t["sensitivity"]:
        table.add_row(str(r["layer"]), r["material"], f"{r['thickness_nm']:.2f}", f"{r['dmerit_dnm'] + 0.0:.4g}",
                      f"{r['merit_plus_1pct']:.4g}", f"{r['merit_minus_1pct']:.4g}",
                      f"* {marked[r['layer']]}" if r["layer"] in marked else "")
    _console.print(table)


def _tolerance(domain, goal: dict, design: dict, args: argparse.Namespace, merits: list | None = None) -> dict:
    """The domain's tolerance report without the copies' merits, which go to ``merits`` if given."""
    if not isinstance(domain, domains.Tolerance):
        raise InputError("--tolerance", "", f"is not offered by domain '{domain.spec.name}'")
    report = domain.tolerance(goal, design, args.thickness_pct, args.index_sigma, args.runs, args.seed)
    if merits is not None:
        merits.extend(report.get("merits", []))
    report.pop("merits", None)
    return report
