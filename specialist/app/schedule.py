"""Which goals each round works on: the store's training goals, in an order fixed by the seed.

    tasks = round_goals(train_goals(store, cfg.daemon.skip_families), round, cfg)
    round = next_round(store)          # after a restart: the first round not yet recorded
"""

from __future__ import annotations

import numpy as np

from specialist import domain as domains
from specialist.config import Config
from specialist.core import Task
from specialist.store import Store


def train_goals(store: Store, skip_families: str = "") -> list[Task]:
    """The store's training goals, in a fixed order, without the goals of the families named
    (comma-separated) in ``skip_families``."""
    skip = {f.strip() for f in skip_families.split(",") if f.strip()}
    return [Task(r["hash"], r["body"]) for r in store.rows("goals", "split = 'train' ORDER BY hash")
            if domains.family(r["body"]) not in skip]


def round_goals(tasks: list[Task], round_: int, cfg: Config) -> list[Task]:
    """The tasks of a round: each epoch visits every goal once, in an order fixed by the seed."""
    n, out = cfg.daemon.goals_per_round, []
    for k in range(round_ * n, (round_ + 1) * n):
        epoch, i = divmod(k, len(tasks))
        out.append(tasks[np.random.default_rng([cfg.daemon.seed, epoch]).permutation(len(tasks))[i]])
    return out


def next_round(store: Store) -> int:
    """The first round not yet recorded in the store."""
    last = store.query("SELECT MAX(round) FROM hypotheses")[0][0]
    return 0 if last is None else int(last) + 1
