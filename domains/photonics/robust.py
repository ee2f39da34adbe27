"""A robust design against a plain one: what asking for robustness buys when coatings are made.

For each goal: the gradient optimizer (with needles) designs it as stated, and again with
``robustness`` (the merit averaged over ``--train-runs`` made copies, thickness errors of
``--thickness-pct`` percent and film-index offsets of ``--index-sigma``, drawn from seed 0).
Both designs are then put through the same tolerance analysis with errors of the same size but
another seed (``--seed``, ``--runs`` copies), so neither is judged on the copies it was
optimized over: the merit as designed, the mean, spread and 90th percentile of the made copies'
merits, and the share still solved.

Run as ``python -m domains.photonics.robust [GOAL.json ...] [--budget 1000] [--thickness-pct 1]
[--index-sigma 0.01] [--train-runs 16] [--runs 500] [--seed 1] [--json]`` (default goals: the
lab examples in ``docs/lab/``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Sequence

from domains.photonics.plugin import PhotonicsDomain

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "lab"


def compare(domain: PhotonicsDomain, goal: dict, budget: int, thickness_pct: float, index_sigma: float,
            train_runs: int, runs: int, seed: int) -> list[dict]:
    """Rows for the plain and the robust design of one goal (see the module docstring)."""
    robust = {**goal, "robustness": {"thickness_pct": thickness_pct, "index_sigma": index_sigma,
                                     "runs": train_runs, "seed": 0}}
    rows = []
    for variant, asked in (("plain", goal), ("robust", robust)):
        start = time.perf_counter()
        found = domain.optimize(asked, "gradient", budget, seed=0)
        wall = time.perf_counter() - start
        if found["design"] is None:
            rows.append({"goal": goal["name"], "variant": variant, "design": None})
            continue
        t = domain.tolerance(goal, found["design"], thickness_pct, index_sigma, runs, seed)
        rows.append({"goal": goal["name"], "variant": variant, "layers": len(found["design"]["layers"]),
                     "optimize_s": round(wall, 1), **{k: t[k] for k in ("merit", "mean", "std", "median", "p90",
                                                                        "solved_share")},
                     "design": found["design"]})
    return rows


def main(argv: Sequence[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(prog="python -m domains.photonics.robust", description=__doc__.split("\n\n")[0])
    p.add_argument("goals", nargs="*", help="goal files (default: docs/lab/*.json)")
    p.add_argument("--budget", type=int, default=1000, help="evaluations of each optimization (default 1000)")
    p.add_argument("--thickness-pct", type=float, default=1.0, help="thickness error, percent (default 1)")
    p.add_argument("--index-sigma", type=float, default=0.01, help="film index offset (default 0.01)")
    p.add_argument("--train-runs", type=int, default=16, help="made copies in the robust merit (default 16)")
    p.add_argument("--runs", type=int, default=500, help="made copies in the tolerance analysis (default 500)")
    p.add_argument("--seed", type=int, default=1, help="seed of the tolerance analysis's errors (default 1)")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    args = p.parse_args(argv)
    files = args.goals or sorted(str(f) for f in EXAMPLES.glob("*.json"))
    domain, rows = PhotonicsDomain(), []
    for path in files:
        rows += compare(domain, json.loads(Path(path).read_text()), args.budget, args.thickness_pct,
                        args.index_sigma, args.train_runs, args.runs, args.seed)
    if args.json:
        print(json.dumps(rows))
        return rows
    print(f"errors: thickness {args.thickness_pct:g} %, index {args.index_sigma:g}; {args.runs} made copies, seed "
          f"{args.seed}; gradient optimizer, budget {args.budget}")
    print(f"{'goal':22} {'variant':8} {'layers':>6} {'as designed':>12} {'mean':>9} {'std':>9} {'p90':>9} "
          f"{'solved':>7}")
    for r in rows:
        if r["design"] is None:
            print(f"{r['goal']:22} {r['variant']:8} no valid design")
            continue
        print(f"{r['goal']:22} {r['variant']:8} {r['layers']:6d} {r['merit']:12.4g} {r['mean']:9.4g} {r['std']:9.4g} "
              f"{r['p90']:9.4g} {r['solved_share']:7.0%}")
    return rows


if __name__ == "__main__":
    main()
