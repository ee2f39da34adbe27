"""Hindsight pairs: every verified design (sampled or refined) is an exact answer to the goal
written from its own spectrum, and the learner trains on those pairs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from domains.photonics import families
from domains.photonics.plugin import PhotonicsDomain
from experiments.worker import Experiments
from learner.checkpoint import Checkpoints
from learner.worker import LearnerWorker, hindsight_picks
from specialist import config
from specialist.core import Best, Checked, Group, Proposals, Task
from specialist.domain import Hindsight, goal_hash
from specialist.errors import InputError
from specialist.paths import Paths
from specialist.store import Store


@pytest.fixture(scope="module")
def domain():
    return PhotonicsDomain()


@pytest.fixture(scope="module")
def split():
    return families.split(n_train=13, n_heldout=13)


def _designs(domain, goal, n, seed=0):
    """``n`` valid designs for ``goal``: 1 to 8 layers of its materials within its thickness range."""
    rng = np.random.default_rng(seed)
    lo, hi = goal["thickness_nm"]
    out = []
    for _ in range(n):
        layers = [{"material": goal["materials"][int(rng.integers(len(goal["materials"])))],
                   "thickness_nm": round(float(rng.uniform(lo, min(hi, lo + 250.0))), 2)}
                  for _ in range(int(rng.integers(1, min(8, goal["max_layers"]) + 1)))]
        out.append(domain.decode(goal, domain.encode(goal, {"incident": goal.get("incident", "air"),
                                                             "substrate": goal["substrate"], "layers": layers})[1]))
    return out


def test_photonics_hindsight_goals_are_met_by_their_designs_and_new(domain, split):
    assert isinstance(domain, Hindsight)
    for goal in split[0][:4]:
        designs = _designs(domain, goal, 4)
        designs[1] = {**designs[1], "layers": designs[1]["layers"] + [
            {"material": goal["materials"][0], "thickness_nm": goal["thickness_nm"][1] + 40.0}]}  # too thick
        designs[1]["layers"] = designs[1]["layers"][-min(len(designs[1]["layers"]), goal["max_layers"]):]
        written = domain.hindsight(goal, designs, seed=7)
        assert len(written) == 4 and all(w is not None for w in written)
        assert len({goal_hash(w) for w in written} | {goal_hash(goal)}) == 5  # each new, none the original
        for i, (w, design) in enumerate(zip(written, designs)):
            assert w["name"] == f"hindsight-{goal['name']}-{i}"
            for key in ("incident", "substrate", "materials", "max_layers", "solved_below"):
                assert w.get(key) == goal.get(key), key
            (verdict,) = domain.verify(w, [design])
            assert verdict.get("solved") is True and verdict["merit"] < 1e-3, verdict
        # a layer beyond the goal's thickness range widens the range rather than losing the design
        assert written[1]["thickness_nm"][1] >= goal["thickness_nm"][1] + 40.0
        assert written[0]["thickness_nm"] == goal["thickness_nm"] or \
            max(layer["thickness_nm"] for layer in designs[0]["layers"]) > goal["thickness_nm"][1]


def test_photonics_hindsight_targets_span_the_goal_and_are_seeded(domain, split):
    goal = split[0][0]
    designs = _designs(domain, goal, 3, seed=1)
    first = domain.hindsight(goal, designs, seed=3)
    assert json.dumps(first, sort_keys=True) == json.dumps(domain.hindsight(goal, designs, seed=3), sort_keys=True)
    assert json.dumps(first, sort_keys=True) != json.dumps(domain.hindsight(goal, designs, seed=4), sort_keys=True)
    wl = [w for t in goal["targets"] for w in np.atleast_1d(t["wavelength_nm"])]
    centre = (min(wl) * max(wl)) ** 0.5
    for w in first:
        got = [x for t in w["targets"] for x in np.atleast_1d(t["wavelength_nm"])]
        assert min(min(wl), 0.95 * centre) - 0.2 <= min(got) and max(got) <= max(max(wl), 1.05 * centre)
        oblique = max(t.get("angle_deg", 0.0) for t in goal["targets"]) or 45.0
        assert {t["angle_deg"] for t in w["targets"]} <= {0.0, oblique}


def test_photonics_hindsight_gives_none_for_invalid_designs(domain, split):
    goal = split[0][2]
    (good,) = _designs(domain, goal, 1, seed=2)
    other = next(m for m in ("TiO2", "SiO2", "Ta2O5", "MgF2", "Al2O3", "HfO2") if m not in goal["materials"])
    invalid = [
        {**good, "substrate": "air" if goal["substrate"] != "air" else "N-BK7"},   # other media
        {**good, "layers": [{"material": other, "thickness_nm": 80.0}]},           # a material not allowed
        {**good, "layers": [{"material": goal["materials"][0], "thickness_nm": 50.0}] * (goal["max_layers"] + 1)},
        {**good, "layers": [{"material": "Unobtainium", "thickness_nm": 50.0}]},   # unreadable
        {"substrate": goal["substrate"], "layers": "none"},
    ]
    written = domain.hindsight(goal, [good] + invalid, seed=0)
    assert written[0] is not None and written[1:] == [None] * len(invalid)
    assert domain.hindsight(goal, invalid, seed=0) == [None] * len(invalid)
    with pytest.raises(InputError):
        domain.hindsight({"name": "broken"}, [good], seed=0)


def test_picks_are_capped_refined_first_and_deterministic():
    groups = [Group(f"h{k}", {"k": k}, [{"d": k, "i": i} for i in range(6)], [1.0, None, 2.0, 3.0, 1.0, 0.5],
                    [False] * 6, refined=[{"r": k}, {"r": k}]) for k in range(3)]
    picks = hindsight_picks(groups, 7, np.random.default_rng(0))
    chosen = [d for _, ds in picks for d in ds]
    assert len(chosen) == 7 and [d for d in chosen if "r" in d] == [{"r": 0}, {"r": 1}, {"r": 2}]
    assert {"d": 0, "i": 1} not in chosen  # rejected designs are never picked
    assert picks == hindsight_picks(groups, 7, np.random.default_rng(0))
    assert [d for _, ds in hindsight_picks(groups, 2, np.random.default_rng(0)) for d in ds] == [{"r": 0}, {"r": 1}]
    assert hindsight_picks(groups, 0, np.random.default_rng(0)) == []


def test_refined_designs_reach_the_learner_in_their_group(domain, split, tmp_path):
    goal = split[0][0]
    designs = _designs(domain, goal, 3, seed=3)
    store = Store(tmp_path / "store.sqlite")
    store.put("goals", {"hash": goal_hash(goal), "name": goal["name"], "domain": "photonics", "split": "train",
                        "body": goal, "provenance": {}})
    experiments = Experiments(domain, store, refine_budget=12, refine_top=1)
    checked = experiments.check(Proposals(0, 0, [Task(goal_hash(goal), goal)], [designs]))
    (group,) = checked.groups
    assert group.designs == designs and group.refined
    assert all("merit" in v for v in domain.verify(goal, group.refined))
    # a group written before refined designs were carried still reads
    assert Group("h", goal, designs, [1.0] * 3, [False] * 3).refined == []


def _worker(tmp_path, domain, heldout, **learner):
    cfg = config.load(None, {"model": {"width": 32, "layers": 1, "heads": 2},
                             "learner": {"batch_size": 8, "checkpoint_every": 1000, "pretrain_steps": 0,
                                         "steps_per_round": 1, **learner}})
    paths = Paths(tmp_path)
    return LearnerWorker(domain, cfg.model.for_domain(domain.spec), cfg.learner, 0, Store(paths.store),
                         Checkpoints(paths.checkpoints), frozenset(goal_hash(g) for g in heldout))


def _round(domain, goals, round_=0):
    groups, best = [], []
    for k, goal in enumerate(goals):
        designs = _designs(domain, goal, 4, seed=10 * round_ + k)
        verdicts = domain.verify(goal, designs)
        merits = [v.get("merit") for v in verdicts]
        groups.append(Group(goal_hash(goal), goal, designs, merits, [bool(v.get("solved")) for v in verdicts],
                            refined=designs[:1]))
        m, i = min((m, i) for i, m in enumerate(merits) if m is not None)
        best.append(Best(goal_hash(goal), goal, designs[i], m, False))
    return Checked(round=round_, version=0, verified=0, goals=len(goals), groups=groups, best=best,
                   solve_rate=0.0, sampled_solve_rate=0.0, mean_best_merit=1.0, median_sampled_merit=1.0)


def test_learner_grows_its_hindsight_buffer_and_mixes_it_into_batches(domain, split, tmp_path):
    train, heldout = split
    worker = _worker(tmp_path, domain, heldout, hindsight_share=0.5, hindsight_buffer=10, hindsight_per_round=6)
    learned = worker.learn(_round(domain, [train[0], train[1], heldout[0]]))
    assert learned.hindsight_rows == 6 == len(worker.hindsight_buffer)  # the held-out group gives none
    assert np.isfinite(learned.loss)
    learned = worker.learn(_round(domain, [train[2], train[3]], round_=1))
    assert learned.hindsight_rows == 12 and len(worker.hindsight_buffer) == 10  # the newest 10 kept

    groups = _round(domain, [train[0]]).groups
    rows, weights = worker._online_batch(*worker._policy_rows(groups))
    from_buffer = sum(any(r is b for b in worker.hindsight_buffer) for r in rows[:worker.cfg.batch_size])
    assert from_buffer >= 4 and len(rows) == len(weights) == worker.cfg.batch_size + 4  # a fixed width
    assert np.all(weights[:worker.cfg.batch_size] >= 0) and weights[:worker.cfg.batch_size].sum() == pytest.approx(1.0)


def test_learner_drops_hindsight_goals_that_are_held_out(domain, split, tmp_path, monkeypatch):
    train, heldout = split
    worker = _worker(tmp_path, domain, heldout)
    monkeypatch.setattr(worker, "hindsight", lambda goal, designs, seed: [heldout[0]] * len(designs))
    learned = worker.learn(_round(domain, [train[0]]))
    assert learned.hindsight_rows == 0 and worker.hindsight_buffer == []
    rows, _ = worker._online_batch(*worker._policy_rows([]))
    assert len(rows) == worker.cfg.batch_size  # no buffer: replay and simulator-made rows fill the batch


def test_hindsight_share_is_checked():
    with pytest.raises(InputError, match="hindsight_share"):
        config.load(None, {"learner": {"hindsight_share": 1.5}})
    with pytest.raises(InputError, match="hindsight_share"):
        config.load(None, {"learner": {"synthetic_share": 0.5, "hindsight_share": 0.6}})
    assert config.load(None).learner.hindsight_share == 0.25
