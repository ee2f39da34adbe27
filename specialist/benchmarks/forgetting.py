"""Forgetting benchmark: train on one goal family only, and measure the held-out solve rate on
the earlier families before and after.

    python -m specialist.benchmarks.forgetting --data-dir DIR --family curve_sigmoid --rounds 60 [--json]

DIR is a daemon's data directory (typically one run with ``daemon.skip_families`` naming the
family, so that it is new). It is copied to --work-dir (DIR is left as it is); there the
newest checkpoint trains in process on the family's training goals alone, while expert
iteration keeps replaying every earlier goal (the guard being measured). The held-out
evaluation (the daemon's, at its largest budget) runs before and after.

Figures: the solve rate over the earlier families' held-out goals before and after (the drop,
in points; target <= 2), its backward transfer (after - before) per family, and the new
family's solve rate before and after.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import tempfile
import time
from contextlib import closing
from pathlib import Path

import numpy as np

from specialist import config
from specialist.app.builders import InProcess, build_evaluation
from specialist.app.schedule import train_goals
from specialist.domain import family
from specialist.paths import Paths


def measure(data_dir: Path, work_dir: Path, new_family: str, rounds: int, cfg: config.Config) -> dict:
    source, paths = Paths(data_dir), Paths(work_dir)
    if not source.store.is_file():
        raise SystemExit(f"{data_dir}: no store.sqlite here; allowed: the data directory of a daemon that has run")
    # The store through SQLite's backup, so that what sits in its write-ahead log comes along.
    with closing(sqlite3.connect(source.store)) as src, closing(sqlite3.connect(paths.store)) as dst:
        src.backup(dst)
    for part in ("checkpoints", "champion", "jax_cache"):
        if getattr(source, part).is_dir():
            shutil.copytree(getattr(source, part), getattr(paths, part), dirs_exist_ok=True)
    run = InProcess(cfg, paths)
    run.goals = [t for t in train_goals(run.store) if family(t.goal) == new_family]
    if not run.goals:
        raise SystemExit(f"no training goals of family {new_family!r} in {data_dir}")
    evaluation = build_evaluation(cfg, paths)
    top = str(max(evaluation.budgets))
    before = evaluation.evaluate(run.learner.params(), record=False)
    start = time.perf_counter()
    for _ in range(rounds):
        run.step()
    trained_s = time.perf_counter() - start
    after = evaluation.evaluate(run.learner.params(), record=False)
    earlier = [i for i, g in enumerate(evaluation.goals) if family(g) != new_family]
    new = [i for i, g in enumerate(evaluation.goals) if family(g) == new_family]
    rate = lambda report, idx: float(np.mean([report["solved"][i] for i in idx])) if idx else float("nan")
    return {"family": new_family, "rounds": rounds, "train_seconds": trained_s, "budget": int(top),
            "version_before": before["version"], "version_after": after["version"],
            "earlier_goals": len(earlier), "new_goals": len(new),
            "earlier_before": rate(before, earlier), "earlier_after": rate(after, earlier),
            "drop_points": 100 * (rate(before, earlier) - rate(after, earlier)),
            "new_before": rate(before, new), "new_after": rate(after, new),
            "backward_transfer": {f: after["families"][f] - before["families"][f]
                                  for f in before["families"] if f != new_family},
            "median_merit_before": before["budgets"][top]["median_merit"],
            "median_merit_after": after["budgets"][top]["median_merit"]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m specialist.benchmarks.forgetting", description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", required=True, help="a daemon's data directory (left unchanged)")
    p.add_argument("--family", required=True, help="the new goal family to train on")
    p.add_argument("--rounds", type=int, default=60, help="rounds of training on it (default 60)")
    p.add_argument("--config", help="the daemon's TOML configuration, if it had one")
    p.add_argument("--work-dir", help="where the copy trains (default: a new temporary directory)")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    args = p.parse_args(argv)
    cfg = config.load(args.config, {"daemon": {"skip_families": ""}})
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="specialist-forgetting-"))
    work.mkdir(parents=True, exist_ok=True)
    doc = measure(Path(args.data_dir), work, args.family, args.rounds, cfg)
    doc["work_dir"] = str(work)
    if args.json:
        print(json.dumps(doc))
    else:
        print(f"after {doc['rounds']} rounds ({doc['train_seconds']:.0f} s) on the new family {doc['family']}:")
        print(f"  earlier families ({doc['earlier_goals']} held-out goals), solve rate at budget {doc['budget']}: "
              f"{doc['earlier_before']:.1%} -> {doc['earlier_after']:.1%} (drop {doc['drop_points']:.1f} points; "
              "target <= 2)")
        print(f"  new family ({doc['new_goals']} held-out goals): {doc['new_before']:.1%} -> {doc['new_after']:.1%}")
        print("  backward transfer per earlier family: " + ", ".join(
            f"{f} {v:+.2f}" for f, v in doc["backward_transfer"].items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
