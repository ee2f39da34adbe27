"""Model sizes compared at equal wall time: each pretrained from scratch for the same seconds.

    python -m specialist.benchmarks.sizes [--sizes 64x2,128x4,192x6] [--seconds 240] [--json]

Each size (width x blocks) trains on simulator-made pairs for ``--seconds`` on this machine,
then is scored on what it never trained on: the mean token cross-entropy of 256 simulator-made
pairs of a seed no training step uses, and pure proposals (no refinement) for the domain's
validation goals: solve rate of the first sampled design (budget 1) and of the best of ten
(budget 10), and the median merit at 10. The size that learns most per second is the one a
daemon on this machine should run.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import jax
import numpy as np

from learner.checkpoint import load_params
from learner.train import loss_fn, pad_tokens
from learner.worker import synthetic_rows
from specialist import config, domain as domains
from specialist.app.pretrain import pretrain
from specialist.paths import Paths
from specialist.proposer import Proposer

_PROBE_SEED = 2 ** 31 - 1  # far from every training step's seed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m specialist.benchmarks.sizes", description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="64x2,128x4,192x6", help="comma-separated WIDTHxBLOCKS (default 64x2,128x4,192x6)")
    p.add_argument("--seconds", type=float, default=240.0, help="pretraining seconds per size (default 240)")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    args = p.parse_args(argv)
    rows = [measure(size, args.seconds) for size in args.sizes.split(",")]
    if args.json:
        print(json.dumps({"seconds": args.seconds, "rows": rows}))
    else:
        print(f"{'size':>8} {'params':>9} {'steps':>6} {'ex/s':>6} {'probe CE':>9} {'solved@1':>9} {'solved@10':>10} "
              f"{'median@10':>10}")
        for r in rows:
            print(f"{r['size']:>8} {r['params']:>9} {r['steps']:>6} {r['examples_per_s']:>6.0f} {r['probe_ce']:>9.3f} "
                  f"{r['solved_1']:>9.1%} {r['solved_10']:>10.1%} {r['median_10']:>10.2f}")
    return 0


def measure(size: str, seconds: float) -> dict:
    width, blocks = (int(x) for x in size.lower().split("x"))
    cfg = config.load(None, {"model": {"width": width, "layers": blocks, "heads": 4},
                             "learner": {"checkpoint_every": 10 ** 9, "start_from": "scratch"},
                             "feeds": {"arxiv": {"enabled": False}}})
    with tempfile.TemporaryDirectory(prefix="specialist-sizes-") as tmp:  # its compile cache too: scored inside
        paths = Paths(Path(tmp))
        report = pretrain(cfg, paths, steps=10 ** 9, seconds=seconds)
        meta, model_cfg, params, _ = load_params(paths.checkpoints)
        return {"size": size, "steps": report["steps"], "examples_per_s": report["examples_per_s"],
                **_score(meta, model_cfg, params)}


def _score(meta: dict, model_cfg, params) -> dict:
    d = domains.load(meta["domain"])
    probe = synthetic_rows(d, _PROBE_SEED, 0, 256)
    cond = np.stack([c for c, _ in probe])
    tokens = pad_tokens([t for _, t in probe], model_cfg.max_tokens)
    ce = float(loss_fn(params, model_cfg, cond, tokens, np.full(len(probe), 1.0 / len(probe), np.float32)))
    goals = d.validation_goals()
    proposer = Proposer(d, model_cfg, params, 0, seed=0, group=10, temperature=1.0)
    start = time.perf_counter()
    first, best = [], []
    for goal, rows in zip(goals, proposer.designs(goals, 10, jax.random.key(0))):
        merits = [v.get("merit", np.inf) for v in d.verify(goal, [design for design, _ in rows])]
        first.append(merits[0])
        best.append(min(merits))
    solved = [g.get("solved_below", 1.0) for g in goals]
    n_params = sum(int(np.prod(x.shape)) for x in jax.tree_util.tree_leaves(params))
    return {"params": n_params, "probe_ce": ce, "solved_1": float(np.mean([m <= s for m, s in zip(first, solved)])),
            "solved_10": float(np.mean([m <= s for m, s in zip(best, solved)])),
            "median_10": float(np.median(best)), "proposal_seconds": time.perf_counter() - start}


if __name__ == "__main__":
    raise SystemExit(main())
