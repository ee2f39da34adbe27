"""Handlers of the daemon's commands: run, status, propose (new-domain lives in scaffold.py)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rich.console import Console
from rich.table import Table

from specialist.cli import emit, read_json
from specialist.errors import InputError

DATA_DIR_ENV = "SPECIALIST_DATA_DIR"
_console = Console()


def default_data_dir() -> str:
    return os.environ.get(DATA_DIR_ENV, "specialist-data")


def _data_dir_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", default=default_data_dir(),
                   help=f"where the daemon keeps all its state (default ${DATA_DIR_ENV} or ./specialist-data)")


# --- run -------------------------------------------------------------------------------------

def run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", help="a TOML configuration (every field optional; "
                   "see --print-config)")
    _data_dir_arg(p)
    p.add_argument("--ray-address", default="", help="join this Ray cluster instead of starting a local one")
    p.add_argument("--seconds", type=float, default=None, help="stop cleanly after this many seconds "
                   "(default: run until SIGINT or SIGTERM)")
    p.add_argument("--print-config", action="store_true", help="print the configuration, documented, and exit")


def run(args: argparse.Namespace) -> int:
    from specialist import config

    cfg = config.load(args.config)
    if args.print_config:
        print(config.to_toml(cfg), end="")
        return 0
    if args.seconds is not None and not args.seconds > 0:
        raise InputError("--seconds", "", f"is {args.seconds}; allowed: a number of seconds > 0")
    from specialist import daemon

    return daemon.run(cfg, Path(args.data_dir), args.ray_address, args.seconds)


# --- status ----------------------------------------------------------------------------------

def status_args(p: argparse.ArgumentParser) -> None:
    _data_dir_arg(p)
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def status(args: argparse.Namespace) -> int:
    from specialist import status as status_mod

    if not (Path(args.data_dir) / "store.sqlite").exists():
        raise InputError("--data-dir", "", f"{Path(args.data_dir).absolute()} holds no daemon data; "
                         "allowed: the data directory of a `specialist run`")
    emit(args, status_mod.read(args.data_dir), _render_status)
    return 0


def _render_status(doc: dict) -> None:
    table = Table(title=f"specialist daemon - {'running' if doc['running'] else 'stopped'}", show_header=False)
    for key in ("data_dir", "papers", "results", "goals", "goals_open", "hypotheses_verified", "round",
                "params_version", "last_checkpoint_step", "solve_rate", "heartbeat_age_s", "tracking_run"):
        value = doc.get(key)
        table.add_row(key.replace("_", " "), "-" if value is None else
                      f"{value:.3f}" if isinstance(value, float) else str(value))
    for key, value in doc.get("feeds", {}).items():
        table.add_row(key.replace("_", " "), f"{value:.4g}" if isinstance(value, float) else str(value))
    _console.print(table)


# --- propose ---------------------------------------------------------------------------------

def propose_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("goal", metavar="GOAL.json", help="the goal")
    p.add_argument("--budget", type=int, default=100, help="evaluations to spend: sampled designs count 1, "
                   "refinement as the domain counts it (default 100)")
    p.add_argument("--out", metavar="DESIGN.json", help="also write the best design to this file")
    _data_dir_arg(p)
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def propose(args: argparse.Namespace) -> int:
    from specialist import loop
    from specialist.config import EvaluationSection

    if args.budget < 1:
        raise InputError("--budget", "", f"is {args.budget}; allowed: a whole number >= 1")
    goal = read_json(args.goal)
    proposer, retrieval = loop.serving(loop.Paths(Path(args.data_dir)))
    if proposer is None:
        raise InputError("--data-dir", "", f"{Path(args.data_dir).absolute()} holds no checkpoint; allowed: "
                         "the data directory of a daemon that has run (`specialist run`)")
    try:
        proposer.domain.encode(goal)  # validates the goal before any work
        ev = EvaluationSection()
        result = proposer.best(goal, args.budget, ev.samples, retrieval, ev.retrieved, ev.refine_top)
    except InputError as err:
        raise err.within(args.goal) from None
    if args.out and result["design"] is not None:
        import json

        Path(args.out).write_text(json.dumps(result["design"], indent=2) + "\n")
    emit(args, result, _render_proposal)
    return 0


def _render_proposal(doc: dict) -> None:
    if doc["design"] is None:
        _console.print(f"no valid design found in {doc['evaluations']} evaluations")
        return
    _console.print(f"merit {doc['merit']:.4g} ({'solved' if doc['solved'] else 'not solved'}) after "
                   f"{doc['evaluations']} evaluations")
    _console.print_json(data=doc["design"])
