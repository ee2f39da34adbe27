"""The learning rules of the online phase, the pretraining data, the held-out evaluation with its
promotion gate, and the contamination guard."""

from __future__ import annotations

import math

import numpy as np
import pytest

from domains.photonics import classic, families
from domains.photonics.plugin import PhotonicsDomain
from learner import gate, mgpo
from learner.checkpoint import Checkpoints
from learner.evaluation import Evaluation
from learner.replay import Replay
from learner.worker import LearnerWorker
from specialist import config
from learner.checkpoint import load_params
from specialist.app import builders
from specialist.paths import Paths
from specialist.core import Best, Checked, Group
from specialist.domain import goal_hash
from specialist.model import ModelConfig
from specialist.store import Store


def test_mgpo_weight_is_one_at_the_edge_of_ability_and_smallest_at_the_ends():
    assert mgpo.mgpo_weight(0.5, 2.0) == pytest.approx(1.0)
    assert mgpo.mgpo_weight(0.0, 2.0) == pytest.approx(2 ** -2.0)
    assert mgpo.mgpo_weight(1.0, 2.0) == pytest.approx(2 ** -2.0)
    p = 0.25
    d = p * math.log(p / 0.5) + (1 - p) * math.log((1 - p) / 0.5)
    assert mgpo.mgpo_weight(p, 3.0) == pytest.approx(math.exp(-3.0 * d))
    assert mgpo.mgpo_weight(0.25, 1.0) < mgpo.mgpo_weight(0.4, 1.0) < 1.0


def test_advantages_are_standardised_within_the_group_and_rank_by_merit():
    adv = mgpo.advantages([0.1, 1.0, 10.0, None])
    assert adv.mean() == pytest.approx(0.0) and adv.std() == pytest.approx(1.0)
    assert adv[0] > adv[1] > adv[2] > adv[3]  # lower merit is better; a rejected design is worst
    assert np.all(mgpo.advantages([2.0, 2.0, 2.0]) == 0)
    assert np.all(mgpo.advantages([None, None]) == 0)


def test_group_rows_weigh_advantages_by_the_goal_weight_and_skip_flat_groups():
    groups = [Group("a", {"g": 1}, [1, 2], [0.5, 5.0], [True, False]),
              Group("b", {"g": 2}, [3, 4], [5.0, 5.0], [False, False])]
    rows, weights, goal_w = mgpo.group_rows(groups, lam=2.0, pg_weight=0.5)
    assert [d for _, d in rows] == [1, 2]
    assert goal_w == {"a": pytest.approx(1.0), "b": pytest.approx(0.25)}
    assert weights == pytest.approx(0.5 * np.array([1.0, -1.0]) / 4)


def test_gate_refuses_only_a_regression_beyond_noise():
    assert gate.decide(None, [False] * 4, 2.0)[0]
    champion = [True] * 10 + [False] * 10
    assert gate.decide(champion, champion, 2.0)[0]
    assert gate.decide(champion, [False] + champion[1:], 2.0)[0]  # one goal lost: noise
    assert not gate.decide(champion, [False] * 20, 2.0)[0]  # ten lost, none won
    assert gate.decide(champion, [False] * 5 + [True] * 5 + [True] * 5 + [False] * 5, 2.0)[0]  # 5 lost, 5 won


def test_synthetic_pairs_are_designs_that_meet_their_goals():
    domain = PhotonicsDomain()
    pairs = domain.synthetic(3, 6)
    assert pairs == domain.synthetic(3, 6)  # seeded
    assert len({len(d["layers"]) for _, d in pairs}) > 1
    for goal, design in pairs:
        verdict = domain.verify(goal, [design])[0]
        assert verdict["merit"] < 1e-3, (goal, verdict)
        cond, tokens = domain.encode(goal, design)
        assert cond.shape == (domain.spec.cond_dim,) and len(tokens) == 2 * len(design["layers"]) + 1


def test_replay_refuses_held_out_goals_and_retrieves_neighbours():
    domain = PhotonicsDomain()
    train, heldout = families.split(n_train=26, n_heldout=13)
    replay = Replay(domain, exclude=frozenset(goal_hash(g) for g in heldout))
    assert not replay.offer(goal_hash(heldout[0]), heldout[0], {"layers": []}, 0.0)
    assert replay.refused == {goal_hash(heldout[0])} and len(replay) == 0
    for g in train:
        design = families._hidden_design(np.random.default_rng(0), __import__("domains.photonics.goals",
                                         fromlist=["parse"]).parse(g)).to_json()
        assert replay.offer(goal_hash(g), g, design, 1.0)
    near = replay.nearest(heldout[0], 3)
    assert len(near) == 3
    verdicts = domain.verify(heldout[0], near)  # rewritten for the new goal: every one is valid
    assert all("merit" in v for v in verdicts)


def _small(tmp_path, **learner):
    cfg = config.load(None, {"model": {"width": 32, "layers": 1, "heads": 2},
                             "learner": {"batch_size": 8, "checkpoint_every": 1000, **learner},
                             "evaluation": {"samples": 4, "retrieved": 2, "budgets": "1,4,20"}})
    return cfg, Paths(tmp_path)


def test_learner_pretrains_on_simulator_pairs_then_learns_online_and_refuses_held_out_goals(tmp_path):
    cfg, paths = _small(tmp_path, pretrain_steps=3, pretrain_steps_per_round=2, steps_per_round=1)
    domain = PhotonicsDomain()
    train, heldout = families.split(n_train=13, n_heldout=13)
    store = Store(paths.store)
    model_cfg = cfg.model.for_domain(domain.spec)
    worker = LearnerWorker(domain, model_cfg, cfg.learner, 0, store, Checkpoints(paths.checkpoints),
                           frozenset(goal_hash(g) for g in heldout))
    design = {"incident": "air", "substrate": train[0]["substrate"],
              "layers": [{"material": train[0]["materials"][0], "thickness_nm": 100.0}]}
    group = lambda g: Group(goal_hash(g), g, [design, design], [1.0, 3.0], [False, False])
    checked = Checked(round=0, version=0, verified=0, goals=2, groups=[group(train[0]), group(heldout[0])],
                      best=[Best(goal_hash(g), g, design, 1.0, False) for g in (train[0], heldout[0])],
                      solve_rate=0.0, sampled_solve_rate=0.0, mean_best_merit=1.0, median_sampled_merit=1.0)
    phases = [worker.learn(checked) for _ in range(3)]
    assert [m.phase for m in phases] == ["spectrum", "spectrum", "signal"]
    assert [m.step for m in phases] == [2, 4, 5]
    assert phases[-1].contaminated_refused == 1 and phases[-1].replay_goals == 1
    assert all(np.isfinite(m.loss) for m in phases)


def test_evaluation_reports_budgets_and_families_and_the_gate_keeps_a_champion(tmp_path):
    cfg, paths = _small(tmp_path, pretrain_steps=0, steps_per_round=1)
    run = builders.InProcess(cfg, paths)
    run.step()
    heldout = builders.heldout_goals(run.proposer.domain, cfg)[:3]
    evaluation = Evaluation(run.proposer.domain, cfg.model.for_domain(run.proposer.domain.spec), cfg.evaluation,
                            heldout, run.store, paths.champion)
    report = evaluation.evaluate(run.learner.params())
    assert set(report["budgets"]) == {"1", "4", "20"}
    assert set(report["families"]) == {families.FAMILIES[i] for i in range(3)}
    assert report["promoted"] and report["champion"] == report["version"]
    assert evaluation.evaluate(run.learner.params()) == report  # recorded once
    assert run.store.get("evaluations", report["version"])["report"]["solved"] == report["solved"]
    _, _, champion_params, champion_version = load_params(paths.checkpoints, paths.champion)
    assert champion_version == report["version"]
    leaves = lambda p: np.concatenate([np.ravel(x) for x in __import__("jax").tree.leaves(p)])
    assert np.array_equal(leaves(champion_params), leaves(run.learner.params()[1]))
    for b in (1, 4, 20):  # each budget is kept
        per = run.proposer.search(heldout, (b,), 4, None, 0)[0][b]
        assert per["evaluations"] <= b


def test_the_solver_agrees_with_the_analytic_quarter_wave_peak():
    exact = classic.reflectance(classic.qw_design(), 550.0)[0]
    assert abs(exact - classic.analytic_peak()) < 1e-12
    assert classic.analytic_peak(1) < classic.analytic_peak(4) < 1.0


def test_classic_problems_one_row_per_problem_method_and_budget():
    rows = classic.run(PhotonicsDomain(), None, [10, 100], seed=0)
    assert [(r["method"], r["budget"]) for r in rows] == [("gradient", 10), ("gradient", 100)] * 2
    assert all(r["evaluations"] <= r["budget"] for r in rows)
    for r in rows:
        if "average_R" in r:
            grid = np.linspace(400, 700, 61)
            assert r["average_R"] == pytest.approx(classic.reflectance(r["design"], grid).mean())
            assert r["met"] == (r["average_R"] <= 0.001) and len(r["design"]["layers"]) <= 8
        else:  # no stack of these layers reflects more than the quarter-wave one
            assert r["found_R"] <= classic.analytic_peak() + 1e-12
            assert r["met"] == (classic.analytic_peak() - r["found_R"] <= 1e-4)
