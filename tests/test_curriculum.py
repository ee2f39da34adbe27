"""The curriculum feed: the fixed curriculum once, then new generated goals at every poll, never a
held-out or validation goal, resuming from its position."""

from __future__ import annotations

import pytest

from domains.photonics.plugin import PhotonicsDomain
from feeds.curriculum import DELIVERED, CurriculumFeed
from feeds.worker import FeedWorker
from specialist.domain import goal_hash
from specialist.store import Store

DOMAIN = PhotonicsDomain()


def test_the_curriculum_first_then_generated_goals_poll_after_poll(tmp_path):
    store = Store(tmp_path / "store.sqlite")
    worker = FeedWorker(store, [CurriculumFeed(DOMAIN, 0, per_poll=5)])
    assert worker.poll().new == {"curriculum:photonics:0": 260}
    assert worker.poll().new == {"curriculum:photonics:0": 5}
    assert worker.poll().new == {"curriculum:photonics:0": 5}
    assert store.count("goals", "split = 'train'") == 210 and store.count("goals", "split = 'heldout'") == 60
    generated = list(store.rows("goals", "json_extract(provenance, '$.source') = 'generator'"))
    assert sorted(r["hash"] for r in generated) == sorted(goal_hash(g) for g in DOMAIN.generate(0, 10))
    assert store.get("cursors", "curriculum:photonics:0")["position"] == {"curriculum": DELIVERED, "generated": 10}


def test_a_position_of_the_fixed_curriculum_alone_goes_on_with_generated_goals():
    rows, position = CurriculumFeed(DOMAIN, 0, per_poll=3).poll(DELIVERED)  # a store written before the generator
    assert len(rows) == 3 and position["generated"] == 3
    assert CurriculumFeed(DOMAIN, 0, per_poll=0).poll(position) == ([], position)


def test_held_out_and_validation_goals_are_never_generated_for_training(monkeypatch):
    heldout, validation = DOMAIN.curriculum(0)[1][0], DOMAIN.validation_goals()[0]
    fresh = DOMAIN.generate(0, 1)[0]
    monkeypatch.setattr(DOMAIN, "generate", lambda start, count: [heldout, validation, fresh])
    rows, _ = CurriculumFeed(DOMAIN, 0, per_poll=3).poll({"curriculum": DELIVERED, "generated": 0})
    assert [r["hash"] for _, r in rows] == [goal_hash(fresh)] and rows[0][1]["split"] == "train"


def test_a_domain_without_a_generator_delivers_its_curriculum_only():
    from tests.toy_domain import ToyDomain

    feed = CurriculumFeed(ToyDomain(), 0, per_poll=5)
    rows, position = feed.poll(None)
    assert rows and feed.poll(position) == ([], position)


@pytest.mark.parametrize("start, count", [(-1, 2), (0, -1)])
def test_endless_refuses_negative_ranges(start, count):
    from domains.photonics import families

    with pytest.raises(ValueError):
        families.endless(start, count)
