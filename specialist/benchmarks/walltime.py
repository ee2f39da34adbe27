"""The specialist against the gradient baseline at equal wall time per goal.

    python -m specialist.benchmarks.walltime [--data-dir DIR] [--budget 100] [--limit N] [--ood] [--json]

Per held-out goal (or out-of-distribution goal, ``--ood``): the specialist's search at its
default budget, as ``specialist propose`` runs it (compiled once beforehand, so the time is the
warm time a lab waits), timed; then the baseline (`evaluation.baseline`, gradient by default) given
the evaluation budget that takes it the same wall time on this goal, found from its own timed
run at ``--probe`` evaluations (its time grows about linearly with the budget). Prints, for
each, the solve rate, the median merit and the median seconds per goal.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from specialist import config, domain as domains
from specialist.app.builders import heldout_goals
from specialist.app.serving import serving
from specialist.paths import Paths, default_data_dir


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m specialist.benchmarks.walltime",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=default_data_dir(), help="the daemon's data directory (default: "
                   "%(default)s); without a checkpoint, the shipped weights")
    p.add_argument("--config", default=None, help="a TOML configuration (default: built-in defaults)")
    p.add_argument("--budget", type=int, default=100, help="the specialist's budget (default 100, propose's default)")
    p.add_argument("--probe", type=int, default=300, help="the baseline's budget timed to find its rate (default 300)")
    p.add_argument("--limit", type=int, default=None, help="use only the first N goals")
    p.add_argument("--ood", action="store_true", help="the out-of-distribution goals instead of the held-out set")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    args = p.parse_args(argv)
    cfg = config.load(args.config)
    d = domains.load(cfg.daemon.domain)
    goals = d.ood_goals(cfg.daemon.skipped_families) if args.ood else heldout_goals(d, cfg)
    goals = goals[: args.limit or None]
    proposer, retrieval = serving(Paths(args.data_dir), cfg)
    if proposer is None:
        raise SystemExit(f"{args.data_dir} holds no checkpoint and no shipped weights are configured")
    ev, method = cfg.evaluation, cfg.evaluation.baseline
    proposer.best(goals[0], args.budget, ev.samples, retrieval, ev.retrieved, ev.refine_top)  # compile once
    rows = []
    for goal in goals:
        start = time.perf_counter()
        mine = proposer.best(goal, args.budget, ev.samples, retrieval, ev.retrieved, ev.refine_top)
        wall = time.perf_counter() - start
        start = time.perf_counter()
        d.optimize(goal, method, args.probe)
        per_eval = (time.perf_counter() - start) / args.probe
        budget = max(1, int(wall / per_eval))
        start = time.perf_counter()
        theirs = d.optimize(goal, method, budget)
        rows.append({"goal": goal["name"], "specialist_merit": _merit(mine), "specialist_solved": mine["solved"],
                     "specialist_s": wall, "baseline_budget": budget, "baseline_merit": _merit(theirs),
                     "baseline_solved": theirs["solved"], "baseline_s": time.perf_counter() - start})
    doc = {"goals": len(rows), "budget": args.budget, "method": method, "rows": rows,
           "specialist": _summary(rows, "specialist"), "baseline": _summary(rows, "baseline")}
    if args.json:
        print(json.dumps(doc))
    else:
        print(f"equal wall time over {len(rows)} {'out-of-distribution' if args.ood else 'held-out'} goals "
              f"(specialist at budget {args.budget}; {method} at the budget taking it as long, median "
              f"{int(np.median([r['baseline_budget'] for r in rows]))})")
        for name in ("specialist", "baseline"):
            s = doc[name]
            print(f"  {name:<11} solved {s['solve_rate']:.1%}  median merit {s['median_merit']:.3g}  "
                  f"median {s['median_s']:.2f} s per goal")
    return 0


def _merit(r: dict) -> float:
    return float(r["merit"]) if r["merit"] is not None else float("inf")


def _summary(rows: list[dict], who: str) -> dict:
    return {"solve_rate": float(np.mean([r[f"{who}_solved"] for r in rows])),
            "median_merit": float(np.median([r[f"{who}_merit"] for r in rows])),
            "median_s": float(np.median([r[f"{who}_s"] for r in rows]))}


if __name__ == "__main__":
    raise SystemExit(main())
