"""The promotion gate: a new parameter version serves only if held-out results do not regress.

Evaluations are paired: the same held-out goals, the same seeds. Of the goals where champion
and candidate differ, ``losses`` were solved by the champion only and ``wins`` by the candidate
only. Under "no difference" each such goal is a fair coin, so losses - wins has standard
deviation sqrt(losses + wins) (McNemar's test). The candidate is refused only when it loses
more than it wins by more than ``z`` of those deviations: a regression beyond noise.
"""

from __future__ import annotations

import math
from typing import Sequence


def decide(champion: Sequence[bool] | None, candidate: Sequence[bool], z: float) -> tuple[bool, str]:
    """(promote, reason) for a candidate's per-goal solved flags against the champion's."""
    if champion is None:
        return True, "no champion yet"
    if len(champion) != len(candidate):
        return True, "the held-out set changed; the candidate starts a new series"
    losses = sum(c and not n for c, n in zip(champion, candidate))
    wins = sum(n and not c for c, n in zip(champion, candidate))
    limit = z * math.sqrt(losses + wins)
    if losses - wins > limit:
        return False, f"lost {losses} goals and won {wins}: a regression beyond {z:g} sd ({limit:.1f})"
    return True, f"lost {losses} goals and won {wins} (allowed: losses - wins <= {limit:.1f})"
