"""Test-time search: many samples for free, repeats dropped, likelihood ranking, the portfolio."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp

from specialist import proposer as proposer_mod
from specialist.model import ModelConfig, Specialist
from specialist.proposer import Proposer, verified
from tests.toy_domain import ToyDomain


def _proposer(domain=None) -> Proposer:
    d = domain or ToyDomain()
    cfg = ModelConfig(d.spec.vocab_size, d.spec.max_tokens, d.spec.cond_dim, width=16, layers=1, heads=2)
    params = Specialist(cfg).init(jax.random.key(0), jnp.zeros((1, cfg.cond_dim)),
                                  jnp.zeros((1, cfg.max_tokens), jnp.int32))
    return Proposer(d, cfg, params, 0, seed=0, group=4, temperature=1.0)


def test_unique_samples_are_distinct_and_ranked_most_likely_first():
    p = _proposer()
    goal = {"name": "g", "domain": "toy", "target": [0.5]}  # one value: at most 20 distinct designs
    (rows,) = p.designs([goal], 64, jax.random.key(1), unique=True)
    texts = [json.dumps(d, sort_keys=True) for d, _ in rows]
    assert len(texts) == len(set(texts)) < 64
    likelihoods = [lp for _, lp in rows]
    assert likelihoods == sorted(likelihoods, reverse=True)
    (plain,) = p.designs([goal], 64, jax.random.key(1))
    assert len(plain) == 64


def test_a_budget_verifies_a_few_candidates_and_keeps_the_rest_for_refinement():
    assert [verified(b) for b in (1, 10, 30, 100, 1000, 5000)] == [1, 10, 10, 10, 64, 64]


def test_the_portfolio_verifies_as_many_optimizer_starts_as_the_gradient_baseline_refines():
    from domains.photonics import merit

    assert [proposer_mod.portfolio_starts(b) for b in (10, 29, 30, 100, 1000, 3000, 10**5)] == [0, 0, 2, 2, 3, 8, 8]
    for b in (1000, 3000):  # as many starts as baselines._gradient refines at that budget
        assert proposer_mod.portfolio_starts(b) == max(1, min(8, b // (merit.GRADIENT_COST * 100)))


def test_the_optimizer_starts_join_from_the_portfolio_budget_and_nothing_overspends():
    p, d = _proposer(), ToyDomain()
    goal = {"name": "g", "domain": "toy", "target": [0.2, 0.9, 0.4]}
    small, large = proposer_mod.PORTFOLIO_FROM - 1, proposer_mod.PORTFOLIO_FROM
    found = p.search([goal], (1, small, large), samples=8)[0]
    for b, r in found.items():
        assert r["evaluations"] <= b and r["design"] is not None
        (v,) = d.verify(goal, [r["design"]])
        assert v["merit"] == r["merit"]
    assert found[1]["source"] == "sampled"


def test_the_portfolio_refines_a_model_design_only_where_it_is_clearly_better_than_the_optimizer_starts():
    start = (2.0, {"s": 1}, {}, "optimizer start")
    good, close = (0.9, {"m": 1}, {}, "sampled"), (1.5, {"m": 2}, {}, "sampled")
    kept = proposer_mod._trusted([good, close, start])
    assert good in kept and start in kept and close not in kept
    assert proposer_mod._trusted([good, close]) == [good, close]  # no optimizer starts: all stay
