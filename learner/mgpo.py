"""Group-relative policy gradient weighted by MGPO: pure functions on one round's groups.

For each goal the proposer sampled a group of G designs; experiments verified them.
- reward of a design: -ln(merit + 1e-3) (merit 0 is a perfect design); a design that breaks a
  constraint gets the group's worst reward minus one;
- advantage: the reward standardised within its group (zero when the group is all alike);
- MGPO goal weight: w = exp(-lambda * D), D = p ln(p / 0.5) + (1 - p) ln((1 - p) / 0.5), p the
  share of the group that solved the goal. Goals at the edge of ability (p near 0.5) weigh 1;
  goals always or never solved weigh 2^-lambda.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from specialist.core import Group
from specialist.mgpo import mgpo_weight


def advantages(merits: Sequence[float | None]) -> np.ndarray:
    """Group-standardised rewards of a group's designs (None: a rejected design)."""
    r = np.array([-math.log(m + 1e-3) if m is not None else np.nan for m in merits])
    if np.all(np.isnan(r)):
        return np.zeros(len(r))
    r = np.where(np.isnan(r), np.nanmin(r) - 1.0, r)
    std = r.std()
    return np.zeros(len(r)) if std < 1e-6 else (r - r.mean()) / std


def group_rows(groups: list[Group], lam: float, pg_weight: float) -> tuple[list[tuple[dict, dict]], np.ndarray, dict]:
    """The policy-gradient rows of a round: ((goal, design) per row, weight per row, goal weights).

    Rows of a group whose advantages are all zero are left out (they carry no signal).
    """
    rows, weights, goal_w = [], [], {}
    for g in groups:
        p = float(np.mean(g.solved)) if g.solved else 0.0
        goal_w[g.goal_hash] = w = mgpo_weight(p, lam)
        adv = advantages(g.merits)
        for design, a in zip(g.designs, adv):
            if a != 0.0:
                rows.append((g.goal, design))
                weights.append(w * a)
    n = max(sum(len(g.designs) for g in groups), 1)
    return rows, pg_weight * np.asarray(weights, np.float64) / n, goal_w
