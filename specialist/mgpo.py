"""The MGPO weight of a solve rate, shared by the learner's loss and the round schedule.

    w = mgpo_weight(p, lam)    # exp(-lam * KL(Bernoulli(p) || Bernoulli(0.5)))

p near 0.5 (the edge of ability) weighs 1; p of 0 or 1 (always or never solved) weighs 2^-lam.
It sits with the contracts so that the daemon's driver can use it without importing the learner
package, whose ``__init__`` loads JAX.
"""

from __future__ import annotations

import math


def mgpo_weight(p: float, lam: float) -> float:
    """exp(-lam * KL(Bernoulli(p) || Bernoulli(0.5)))."""
    d = sum(q * math.log(q / 0.5) for q in (p, 1.0 - p) if q > 0)
    return math.exp(-lam * d)
