"""`specialist bench`: per-goal optimizers on goals at several evaluation budgets.

Goal files named on the command line are used as they are; without them the built-in held-out
set (a fixed, seeded split of the photonics goal families) is used. Output (--json):
{"results": [{"goal", "method", "budget", "merit", "solved", "evaluations"}, ...],
 "summary": [{"method", "budget", "solve_rate", "median_merit"}, ...]}
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from specialist.cli import emit, read_json
from specialist.errors import InputError

DEFAULT_BUDGETS = "10,100,1000"


def add_args(p: argparse.ArgumentParser) -> None:
    from domains.photonics.baselines import METHODS

    p.add_argument("goals", nargs="*", metavar="GOAL.json", help="goal files (default: the built-in held-out set)")
    p.add_argument("--budgets", default=DEFAULT_BUDGETS, help=f"evaluation budgets, comma-separated (default {DEFAULT_BUDGETS})")
    p.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated from {', '.join(METHODS)} (default all)")
    p.add_argument("--limit", type=int, default=None, help="use only the first N goals")
    p.add_argument("--seed", type=int, default=0, help="seed of the optimizers (default 0)")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def _parse_list(text: str, option: str, allowed=None, cast=str) -> list:
    items = [x.strip() for x in text.split(",") if x.strip()]
    try:
        values = [cast(x) for x in items]
    except ValueError:
        values = []
    bad = [v for v in values if (allowed is not None and v not in allowed) or (cast is int and v < 1)]
    if not values or bad:
        what = f"names from {', '.join(allowed)}" if allowed else "whole numbers >= 1"
        raise InputError(option, "", f"is '{text}'; allowed: comma-separated {what}")
    return values


def load_goals(paths: list[str], limit: int | None):
    """(name, Goal) pairs from files, or from the built-in held-out split."""
    from domains.photonics import families, goals

    if paths:
        pairs = [(p, goals.parse(read_json(p), p)) for p in paths]
    else:
        _, heldout = families.split()
        pairs = [(g["name"], goals.parse(g, g["name"])) for g in heldout]
    return pairs[:limit] if limit else pairs


def run(args: argparse.Namespace) -> int:
    from domains.photonics import baselines, merit

    methods = _parse_list(args.methods, "--methods", baselines.METHODS)
    budgets = _parse_list(args.budgets, "--budgets", cast=int)
    pairs = load_goals(args.goals, args.limit)
    results = []
    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("bench", total=len(pairs) * len(methods) * len(budgets))
        for name, goal in pairs:
            ev = merit.Evaluator(goal)
            for method in methods:
                for budget in budgets:
                    r = baselines.run(method, ev, budget, args.seed)
                    results.append({"goal": name, "method": method, "budget": budget, "merit": r.merit,
                                    "solved": bool(r.merit <= goal.solved_below), "evaluations": r.evaluations})
                    progress.advance(task)
    doc = {"results": results, "summary": summarize(results)}
    emit(args, doc, _render)
    return 0


def summarize(results: list[dict]) -> list[dict]:
    """Solve rate and median merit per (method, budget), in first-seen order."""
    keys = list(dict.fromkeys((r["method"], r["budget"]) for r in results))
    out = []
    for method, budget in keys:
        rows = [r for r in results if r["method"] == method and r["budget"] == budget]
        out.append({"method": method, "budget": budget,
                    "solve_rate": float(np.mean([r["solved"] for r in rows])),
                    "median_merit": float(np.median([r["merit"] for r in rows]))})
    return out


def _render(doc: dict) -> None:
    n_goals = len({r["goal"] for r in doc["results"]})
    table = Table(title=f"bench over {n_goals} goals")
    for col in ("method", "budget", "solve rate", "median merit"):
        table.add_column(col, justify="right")
    for s in doc["summary"]:
        table.add_row(s["method"], str(s["budget"]), f"{s['solve_rate']:.1%}", f"{s['median_merit']:.4g}")
    Console(file=sys.stdout).print(table)
