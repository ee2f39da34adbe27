"""Baselines keep their budgets, verify what they return, and improve on a random guess."""

from __future__ import annotations

import numpy as np
import pytest

from domains.photonics import baselines, goals, merit

GOAL = goals.parse({"name": "ar", "incident": "air", "substrate": {"name": "glass", "n": 1.52},
                    "materials": [{"name": "H", "n": 2.35}, {"name": "L", "n": 1.38}],
                    "max_layers": 4, "thickness_nm": [5, 300],
                    "targets": [{"quantity": "R", "wavelength_nm": [500, 600], "points": 11,
                                 "relation": "<=", "value": 0.005, "tolerance": 0.002}]}, "ar")


@pytest.fixture(scope="module")
def evaluator():
    return merit.Evaluator(GOAL)


@pytest.mark.parametrize("method", baselines.METHODS)
@pytest.mark.parametrize("budget", [10, 300])
def test_budget_kept_and_result_verified(evaluator, method, budget):
    r = baselines.run(method, evaluator, budget, seed=1)
    assert 0 < r.evaluations <= budget
    design = evaluator.decode(r.mats_L, r.d_L)
    assert GOAL.violation(design) is None
    assert evaluator.score([design])[0]["merit"] == pytest.approx(r.merit, rel=1e-12)


@pytest.mark.parametrize("method", baselines.METHODS)
def test_more_budget_is_no_worse(evaluator, method):
    small = baselines.run(method, evaluator, 30, seed=2).merit
    large = baselines.run(method, evaluator, 600, seed=2).merit
    assert large <= small + 1e-12


def test_gradient_solves_a_single_band_ar(evaluator):
    """A quarter-wave L layer on glass gives R < 0.5 % near 550 nm with n = 1.38 only at the
    centre; with H available a two-layer V-coat meets the goal, which refinement must find."""
    r = baselines.run("gradient", evaluator, 1000, seed=0)
    assert r.merit <= GOAL.solved_below


def test_decode_keeps_constraints_with_total_thickness_limit():
    goal = goals.parse({**GOAL.raw, "max_total_thickness_nm": 200}, "ar")
    ev = merit.Evaluator(goal)
    mats, d = baselines.decode(ev, np.random.default_rng(0).random((64, baselines._genes(ev))))
    for m, t in zip(mats, d):
        assert goal.violation(ev.decode(m, t)) is None


def test_encode_inverts_decode(evaluator):
    """Alternating encodings may need one empty slot first, so a full stack can lose its last
    layer; everything else comes back exactly."""
    mats, d = baselines._quarter_wave_starts(evaluator, 16, np.random.default_rng(3))
    back_m, back_d = baselines.decode(evaluator, baselines.encode(evaluator, mats, d))
    for m, t, bm, bt in zip(mats, d, back_m, back_d):
        n, k = int((t > 0).sum()), int((bt > 0).sum())
        assert k in (n, n - 1) and k >= 1
        assert np.array_equal(bm[:k], m[:k]) and np.allclose(bt[:k], t[:k], rtol=1e-12)
