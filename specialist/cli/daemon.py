"""The daemon's commands: run, pretrain, status, propose (``specialist.cli.propose``), ingest.

The application (``specialist.app``: Ray, JAX, MLflow) is imported when a command runs, not when
the command line starts: those imports take seconds that ``--help`` and the other commands
should not wait for.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from experiments.measurements import Judge
from feeds.arxiv import paper_rows, parse_page
from feeds.lab import LabFeed
from specialist import config, domain as domains
from specialist.app import status as status_mod
from specialist.cli import propose as propose_cmd
from specialist.cli.configured import load_domain
from specialist.cli.io import config_arg, data_dir_arg, emit, json_flag, load_config, paths, read_bytes
from specialist.errors import InputError
from specialist.store import Store

_console = Console()


# --- run -------------------------------------------------------------------------------------

def run_args(p: argparse.ArgumentParser) -> None:
    config_arg(p)
    data_dir_arg(p)
    p.add_argument("--ray-address", default="", help="join this Ray cluster instead of starting a local one")
    p.add_argument("--seconds", type=float, default=None, help="stop cleanly after this many seconds "
                   "(default: run until SIGINT or SIGTERM)")
    p.add_argument("--print-config", action="store_true", help="print the configuration, documented, and exit")


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args)
    if args.print_config:
        print(config.to_toml(cfg), end="")
        return 0
    if args.seconds is not None and not args.seconds > 0:
        raise InputError("--seconds", "", f"is {args.seconds}; allowed: a number of seconds > 0")
    load_domain(cfg, args)  # what only the domain can check in the configuration, before Ray starts
    from specialist.app import daemon  # Ray: see the module docstring

    return daemon.run(cfg, paths(args).data_dir, args.ray_address, args.seconds)


# --- pretrain --------------------------------------------------------------------------------

def pretrain_args(p: argparse.ArgumentParser) -> None:
    config_arg(p)
    data_dir_arg(p)
    p.add_argument("--steps", type=int, default=None, help="learner steps to run (default: up to the "
                   "configuration's learner.pretrain_steps, counting the steps already checkpointed)")
    p.add_argument("--seconds", type=float, default=None, help="stop after this many seconds (default: no limit)")
    p.add_argument("--workers", type=int, default=0, help="processes making the simulator-made pairs (default 0: "
                   "made in this process; on a machine with a GPU, most of its CPU cores)")
    p.add_argument("--ship", type=Path, default=None, metavar="DIR", help="also write the weights with their "
                   "provenance (command, seed, steps, examples, commit, held-out check) to DIR, in the form a "
                   "domain package ships and learner.start_from reads")
    json_flag(p)


def pretrain(args: argparse.Namespace) -> int:
    from specialist.app.pretrain import pretrain as run_pretraining  # JAX: see the module docstring

    if args.steps is not None and args.steps < 1:
        raise InputError("--steps", "", f"is {args.steps}; allowed: a whole number >= 1")
    if args.seconds is not None and not args.seconds > 0:
        raise InputError("--seconds", "", f"is {args.seconds}; allowed: a number of seconds > 0")
    if args.workers < 0:
        raise InputError("--workers", "", f"is {args.workers}; allowed: a whole number >= 0")
    command = "specialist " + " ".join(shlex.quote(a) for a in args.argv)
    report = run_pretraining(load_config(args), paths(args), args.steps, args.seconds, args.workers, args.ship,
                             command)
    emit(args, report, _render_pretraining)
    return 0


def _render_pretraining(doc: dict) -> None:
    _console.print(f"pretrained {doc['steps']} steps (step {doc['step_start']} -> {doc['step']}) on "
                   f"{doc['examples']} simulator-made examples in {doc['seconds']:.1f} s: "
                   f"{doc['examples_per_s']:.0f} examples/s on {doc['device']}; checkpoint at step {doc['checkpoint']} "
                   f"in {doc['data_dir']}" + (f"; weights shipped to {doc['shipped']}" if doc.get("shipped") else ""))


# --- status ----------------------------------------------------------------------------------

def status_args(p: argparse.ArgumentParser) -> None:
    data_dir_arg(p)
    p.add_argument("--check", action="store_true", help="for monitoring: exit 0 when a daemon holds the data "
                   "directory and its heartbeat is at most --max-age old, else exit 1 with the reason on stderr")
    p.add_argument("--max-age", type=float, default=None, metavar="SECONDS", help="with --check: the oldest "
                   "heartbeat that counts as alive (default 2 x tracking.log_every_s + ray.get_timeout_s of "
                   "--config: 320 s with the defaults)")
    p.add_argument("--config", metavar="FILE", help="the daemon's TOML configuration, for --check's default "
                   "--max-age")
    json_flag(p)


def status(args: argparse.Namespace) -> int:
    where = paths(args)
    if not where.data_dir.is_dir():
        raise InputError("--data-dir", "", f"{where.data_dir} does not exist; allowed: the data directory of a "
                         "`specialist run`")
    limit = _max_age(args)
    # a data directory no daemon has used yet: nothing running, nothing stored (and nothing created)
    doc = status_mod.read(where.data_dir) if where.store.exists() else status_mod.empty(where.data_dir)
    if not args.check:
        emit(args, doc, _render_status)
        return 0
    doc["check"] = verdict = status_mod.check(where, doc, limit)
    if args.json:
        emit(args, doc, _render_status)
    elif verdict["ok"]:
        print(verdict["reason"])
    if not verdict["ok"]:
        print(verdict["reason"], file=sys.stderr)
    return 0 if verdict["ok"] else 1


def _max_age(args: argparse.Namespace) -> float | None:
    """--max-age checked (its default from the configuration); None without --check."""
    if not args.check:
        if args.max_age is not None:
            raise InputError("--max-age", "", "is given without --check; allowed: with --check")
        return None
    if args.max_age is None:
        return status_mod.default_max_age(load_config(args))
    if not 0 < args.max_age < float("inf"):
        raise InputError("--max-age", "", f"is {args.max_age}; allowed: a number of seconds > 0")
    return args.max_age


def _render_status(doc: dict) -> None:
    table = Table(title=f"specialist daemon - {'running' if doc['running'] else 'stopped'}", show_header=False)
    for key in ("data_dir", "papers", "results", "goals", "goals_open", "hypotheses_verified", "round",
                "params_version", "last_checkpoint_step", "solve_rate", "heartbeat_age_s", "tracking_run"):
        value = doc.get(key)
        table.add_row(key.replace("_", " "), "-" if value is None else
                      f"{value:.3f}" if isinstance(value, float) else str(value))
    for key, value in doc.get("feeds", {}).items():
        table.add_row(key.replace("_", " "), f"{value:.4g}" if isinstance(value, float) else str(value))
    for goal in doc.get("lab_goals", []):
        best = goal["best_merit"]
        table.add_row(f"lab goal {goal['name']}", "no verified design yet" if best is None else
                      f"best merit {best:.4g}" + (" (solved)" if goal["solved"] else ""))
    for part, size in doc.get("disk", {}).items():
        table.add_row(f"disk {part}", status_mod.size_text(size))
    _console.print(table)


# --- propose ---------------------------------------------------------------------------------
# in its own module (methods, plots, the design as a table); the registry finds it here

propose_args, propose = propose_cmd.add_args, propose_cmd.run


# --- ingest ----------------------------------------------------------------------------------

def ingest_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE", help="a measured spectrum NAME.csv (columns "
                   "wavelength_nm and R and/or T, as fractions) or its sidecar NAME.json (design, sample_id, "
                   "angle_deg, polarization, run), each naming the pair; or papers as an arXiv API (Atom) "
                   "response NAME.xml, whose goals and claims are stored for the daemon")
    config_arg(p)
    data_dir_arg(p)
    json_flag(p)


def ingest(args: argparse.Namespace) -> int:
    where, domain = paths(args), domains.load(load_config(args).daemon.domain)
    store = Store(where.store)
    papers = [f for f in args.files if f.lower().endswith(".xml")]
    try:
        results = [f for f in args.files if f not in papers]
        report = _ingest_results(results, domain, store, where.drop)
        found = [_ingest_papers(path, domain, store) for path in papers]
        report["files"] += found
        for key, status in (("stored", "stored"), ("duplicates", "duplicate"), ("rejected", "rejected")):
            report[key] += sum(e["status"] == status for e in found)  # papers' files count as results' do
    finally:
        store.close()
    emit(args, report, _render_ingest)
    for entry in report["files"]:
        if entry["status"] == "rejected":
            print(f"error: {entry['error']}", file=sys.stderr)
    return 2 if report["rejected"] else 0


def _ingest_results(files: list[str], domain, store: Store, drop: Path) -> dict:
    """Result files through the lab feed, as the drop folder would take them."""
    if not isinstance(domain, domains.LabData):
        rejected = [{"file": f, "status": "rejected", "error": str(InputError(
            f, "", f"is a result file, and domain '{domain.spec.name}' reads no measured results"))} for f in files]
        return {"files": rejected, "stored": 0, "duplicates": 0, "rejected": len(rejected)}
    return LabFeed(drop, domain.read_result, Judge(store, domain)).ingest_files(files, store)


def _ingest_papers(path: str, domain, store: Store) -> dict:
    """Papers of an arXiv API response file, stored with their goals and claims as the feed would."""
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
        sample = e.get("sample_id") or (", ".join(_count(e[k], k[:-1]) for k in ("papers", "goals", "claims"))
                                        if "papers" in e else "-")
        table.add_row(e["file"], e["status"], sample, ", ".join(f"{q} {v:.4f}" for q, v in rms.items()) or "-")
    _console.print(table)
    _console.print(f"{_count(doc['stored'], 'file')} stored, {doc['duplicates']} already stored, "
                   f"{doc['rejected']} rejected")


def _count(n: int, noun: str) -> str:
    """"1 paper", "2 papers"."""
    return f"{n} {noun}" + ("" if n == 1 else "s")
