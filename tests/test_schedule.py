"""The round schedule: the same store and round give the same goals, an edge share of 0 is the uniform
epoch, the edge slots favour the family whose solve rate is nearest one half, new goals are reached,
and rounds in flight do not repeat one another's goals."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from specialist import config
from specialist.app import schedule
from specialist.core import Task
from specialist.domain import family, goal_hash
from specialist.errors import InputError
from specialist.mgpo import mgpo_weight
from specialist.store import Store


def _goal(fam: str, i: int, targets: int = 1, max_layers: int | None = 8) -> dict:
    body = {"name": f"{fam}-{i}", "domain": "test", "index": f"{fam}{i}", "targets": [{"k": t} for t in range(targets)],
            "provenance": {"family": fam}}
    if max_layers is not None:
        body["max_layers"] = max_layers
    return body


def _add(store: Store, goals: list[dict]) -> list[str]:
    store.put_many([("goals", {"hash": goal_hash(g), "name": g["name"], "domain": "test", "split": "train",
                               "body": g, "provenance": {"source": "test"}}) for g in goals])
    return [goal_hash(g) for g in goals]


def _record(store: Store, round_: int, verdicts: dict[str, list[bool]]) -> None:
    """A round's sampled hypotheses with their verdicts, as the experiments write them."""
    records = []
    for slot, (h, solved) in enumerate(verdicts.items()):
        for j, s in enumerate(solved):
            key = f"{round_}:{slot}:{h[:12]}:{j}"
            records += [("hypotheses", {"key": key, "goal_hash": h, "design": {}, "params_version": 0,
                                        "round": round_, "origin": "sampled"}),
                        ("verdicts", {"hypothesis_key": key, "merit": 0.0 if s else 1.0, "solved": int(s),
                                      "detail": {}})]
    store.put_many(records)


def _cfg(**daemon) -> config.Config:
    return config.load(None, {"daemon": {"goals_per_round": 8, "rounds_in_flight": 3, **daemon}})


@pytest.fixture
def three_families(tmp_path):
    """Families a (always solved), b (never) and c (half) of 20 goals each, ten rounds of verdicts."""
    store = Store(tmp_path / "store.sqlite")
    fams = {f: _add(store, [_goal(f, i) for i in range(20)]) for f in "abc"}
    for r in range(10):
        picks = {h: [True] * 8 for h in fams["a"][2 * (r % 10): 2 * (r % 10) + 2]}
        picks.update({h: [False] * 8 for h in fams["b"][2 * (r % 10): 2 * (r % 10) + 2]})
        picks.update({h: [True, False] * 4 for h in fams["c"][2 * (r % 10): 2 * (r % 10) + 2]})
        _record(store, r, picks)
    return store, tmp_path / "store.sqlite"


def _families(tasks: list[Task]) -> Counter:
    return Counter(family(t.goal) for t in tasks)


def test_the_same_store_and_round_give_the_same_goals(three_families):
    store, path = three_families
    cfg = _cfg()
    first = [[t.goal_hash for t in schedule.round_goals(schedule.train_goals(store), r, cfg)] for r in range(10, 30)]
    again = Store(path)  # a restart: another connection, the goals read afresh
    goals = schedule.train_goals(again)
    second = [[t.goal_hash for t in schedule.round_goals(goals, r, cfg)] for r in range(10, 30)]
    assert first == second
    assert first[0] != first[1]  # rounds differ
    other = [[t.goal_hash for t in schedule.round_goals(goals, r, _cfg(seed=1))] for r in range(10, 30)]
    assert other != first


def test_the_family_at_the_edge_of_ability_is_drawn_most(three_families):
    store, _ = three_families
    goals = schedule.train_goals(store)
    edge = Counter()
    for r in range(10, 110):
        edge += _families(schedule.round_goals(goals, r, _cfg()))
    uniform = Counter()
    for r in range(10, 110):
        uniform += _families(schedule.round_goals(goals, r, _cfg(edge_share=0.0)))
    # weights 1 for c (p = 0.5), 2^-2 for a and b: c takes about 2/3 of the edge slots
    assert edge["c"] > 2 * edge["a"] and edge["c"] > 2 * edge["b"], edge
    assert max(uniform.values()) < 1.3 * min(uniform.values()), uniform  # without the edge share, no favourite
    assert sum(edge.values()) == sum(uniform.values()) == 800


def _uniform_epoch(tasks: list[Task], round_: int, cfg: config.Config) -> list[Task]:
    """The schedule before edge slots: each epoch visits every goal once, in an order fixed by the seed."""
    n, out = cfg.daemon.goals_per_round, []
    for k in range(round_ * n, (round_ + 1) * n):
        epoch, i = divmod(k, len(tasks))
        out.append(tasks[np.random.default_rng([cfg.daemon.seed, epoch]).permutation(len(tasks))[i]])
    return out


def test_a_zero_edge_share_is_the_uniform_epoch(three_families):
    store, _ = three_families
    cfg = _cfg(edge_share=0.0, goals_per_round=7, seed=3)
    tasks = [Task(r["hash"], r["body"]) for r in store.rows("goals", "split = 'train' ORDER BY hash")]
    goals = schedule.train_goals(store)
    for r in range(40):  # epochs of 60 goals end inside rounds
        expected = [t.goal_hash for t in _uniform_epoch(tasks, r, cfg)]
        assert [t.goal_hash for t in schedule.round_goals(goals, r, cfg)] == expected
        assert [t.goal_hash for t in schedule.round_goals(tasks, r, cfg)] == expected
        assert schedule.round_goals(goals, r, cfg)[0].goal == tasks[tasks.index(_uniform_epoch(tasks, r, cfg)[0])].goal


def test_new_goals_are_reached(tmp_path):
    def run(share: float) -> set[str]:
        store = Store(tmp_path / f"store-{share}.sqlite")
        old = _add(store, [_goal("a", i) for i in range(40)] + [_goal("b", i) for i in range(40)])
        solved = {h: [h in old[:40]] * 8 for h in old}  # a always solved, b never
        for r in range(10):  # every old goal worked on
            _record(store, r, {h: solved[h] for h in old[8 * r: 8 * r + 8]})
        new = _add(store, [_goal("a", i) for i in range(40, 44)] + [_goal("d", i) for i in range(4)])
        solved.update({h: [True, False] * 4 for h in new})
        goals = schedule.train_goals(store)  # as the daemon reads them again after a poll
        reached = set()
        for r in range(10, 16):  # each round recorded before the next is drawn
            tasks = schedule.round_goals(goals, r, _cfg(edge_share=share))
            _record(store, r, {t.goal_hash: solved[t.goal_hash] for t in tasks})
            reached |= {t.goal_hash for t in tasks}
        return set(new) & reached

    assert len(run(0.8)) == 8  # d new (p = 0.5: weight 1), a's new goals first in a's cell
    assert len(run(0.0)) < 8  # the uniform epoch: 48 of 88 goals (5 of the new ones here)


def test_rounds_in_flight_do_not_repeat_one_anothers_goals(three_families):
    store, _ = three_families
    goals = schedule.train_goals(store)
    cfg = _cfg(edge_share=1.0)
    in_flight = [t.goal_hash for r in (10, 11, 12) for t in schedule.round_goals(goals, r, cfg)]
    assert len(set(in_flight)) == len(in_flight) == 24
    # once round 10 is recorded, round 11 is drawn as before and round 13 joins the rounds in flight
    round_10 = schedule.round_goals(goals, 10, cfg)
    _record(store, 10, {t.goal_hash: [False] * 8 for t in round_10})
    assert [t.goal_hash for t in schedule.round_goals(goals, 11, cfg)] == in_flight[8:16]


def test_the_least_recently_worked_goal_of_a_cell_comes_first(tmp_path):
    store = Store(tmp_path / "store.sqlite")
    hashes = _add(store, [_goal("a", i) for i in range(6)])
    for r, h in enumerate(hashes):  # worked on once each, in this order
        _record(store, r, {h: [True, False] * 4})
    picks = schedule.round_goals(schedule.train_goals(store), 6, _cfg(edge_share=1.0, goals_per_round=3))
    assert [t.goal_hash for t in picks] == hashes[:3]


def test_a_round_reads_the_store_twice_and_no_body_but_its_own(three_families):
    store, _ = three_families
    goals = schedule.train_goals(store)
    statements = []
    store._db.set_trace_callback(statements.append)
    tasks = schedule.round_goals(goals, 10, _cfg())
    store._db.set_trace_callback(None)
    assert len(statements) == 2, statements  # the verdict window, then the round's goals by key
    assert len(tasks) == 8


def test_difficulty_and_family_read_in_sql_agree_with_the_goal(tmp_path):
    store = Store(tmp_path / "store.sqlite")
    goals = [_goal("a", 0, 1, 1), _goal("a", 1, 3, 4), _goal("b", 2, 2, 5), _goal("b", 3, 2, 30),
             _goal("c", 4, 0, None), {"name": "bare", "domain": "test", "target": [0.1]}]
    _add(store, goals)
    index = schedule.train_goals(store)
    python = schedule.TrainGoals.from_tasks([Task(goal_hash(g), g) for g in goals])
    assert sorted(zip(index.hashes, (index.cells[c] for c in index.cell_of))) == \
        sorted(zip(python.hashes, (python.cells[c] for c in python.cell_of)))
    assert [schedule.difficulty(g) for g in goals] == [(1, 1), (3, 3), (2, 4), (2, 6), (0, 0), (0, 0)]
    assert {c[0] for c in index.cells} == {"a", "b", "c", "all"}
    assert len(schedule.train_goals(store, "a, b")) == 2
    assert {t.goal_hash for t in index} == {goal_hash(g) for g in goals}


def test_the_weight_is_the_learners_and_the_share_is_checked():
    import learner.mgpo  # the learner's loss uses the same weight (its package loads JAX, which the driver must not)

    assert learner.mgpo.mgpo_weight is mgpo_weight
    with pytest.raises(InputError, match="daemon.edge_share"):
        config.load(None, {"daemon": {"edge_share": 1.5}})
    with pytest.raises(InputError, match="daemon.edge_window"):
        config.load(None, {"daemon": {"edge_window": 0}})


def test_a_goals_last_round_comes_from_an_index_alone(tmp_path):
    store = Store(tmp_path / "store.sqlite")
    plan = store.query("EXPLAIN QUERY PLAN SELECT MAX(round) FROM hypotheses WHERE goal_hash = ?", ("x",))
    assert any("COVERING INDEX hypotheses_goal_round" in r[3] for r in plan), [tuple(r) for r in plan]
