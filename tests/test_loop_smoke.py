"""In process: propose -> verify -> learn improves the proposals (toy domain and photonics)."""

from __future__ import annotations

import numpy as np

from domains.photonics.plugin import PhotonicsDomain
from learner import Learner, LearnerConfig
from specialist.loop import Replay, keys, propose, run_round
from specialist.model import ModelConfig
from tests.toy_domain import ToyDomain


def _learner(domain, width=32, layers=2):
    s = domain.spec
    return Learner(ModelConfig(s.vocab_size, s.max_tokens, s.cond_dim, width=width, layers=layers, heads=4),
                   LearnerConfig(learning_rate=3e-3, warmup_steps=5), seed=0)


def _mean_merit(domain, learner, goals, key):
    designs = propose(domain, learner, goals, 8, key, temperature=0.5)
    merits = []
    for goal, group in zip(goals, designs):
        v = [x.get("merit", 1e3) for x in domain.verify(goal, group)]
        merits.append(np.mean(v))
    return float(np.mean(merits))


def test_toy_domain_learns_from_its_verified_results():
    domain = ToyDomain()
    goals = domain.curriculum(0)[0][:8]
    learner, replay, stream = _learner(domain), Replay(), keys(0)
    before = _mean_merit(domain, learner, goals, next(stream))
    for _ in range(30):
        stats = run_round(domain, learner, replay, goals, next(stream), group=8, train_steps=4)
    after = _mean_merit(domain, learner, goals, next(stream))
    assert after < 0.5 * before, (before, after)
    assert stats["loss"] < 2.0


def test_photonics_round_trip_trains_and_improves_sampled_designs():
    domain = PhotonicsDomain()
    goals = domain.curriculum(0)[0][:4]
    learner, replay, stream = _learner(domain), Replay(), keys(1)
    first = run_round(domain, learner, replay, goals, next(stream), group=8, refine_budget=60, train_steps=1)
    assert np.isfinite(first["loss"]) and len(replay.best) >= 1
    before = _mean_merit(domain, learner, goals, next(stream))
    for _ in range(12):
        run_round(domain, learner, replay, goals, next(stream), group=8, refine_budget=60, train_steps=5)
    after = _mean_merit(domain, learner, goals, next(stream))
    assert after < before, (before, after)
