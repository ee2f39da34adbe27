"""Every installed domain, and a tiny one built from the public API only, keeps the contract."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from specialist import domain
from specialist.domain import END, Domain
from tests.toy_domain import ToyDomain


def _instances():
    return [pytest.param(cls(), id=name) for name, cls in sorted(domain.available().items())] + \
        [pytest.param(ToyDomain(), id="toy")]


@pytest.fixture(scope="module", params=_instances())
def case(request):
    d = request.param
    train, heldout = d.curriculum(0)
    return d, train, heldout


def test_photonics_is_installed_through_the_entry_point():
    assert "photonics" in domain.available()
    assert domain.load("photonics").spec.name == "photonics"


def test_unknown_domain_lists_the_installed_ones():
    with pytest.raises(KeyError, match="installed domains: .*photonics"):
        domain.load("alchemy")


def test_broken_plugin_warns_and_is_skipped(monkeypatch):
    class Broken:
        name, value = "broken", "nowhere:Nothing"

        def load(self):
            raise ImportError("no module named nowhere")

    real = domain.entry_points
    monkeypatch.setattr(domain, "entry_points", lambda group: list(real(group=group)) + [Broken()])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = domain.available()
    assert "broken" not in found and "photonics" in found
    assert any("broken" in str(w.message) for w in caught)


def test_protocol_and_spec(case):
    d, _, _ = case
    assert isinstance(d, Domain)
    assert d.spec.vocab_size > 3 and d.spec.max_tokens >= 2 and d.spec.cond_dim >= 1


def test_curriculum_is_fixed_and_split(case):
    d, train, heldout = case
    again = d.curriculum(0)
    assert json.dumps(again, sort_keys=True) == json.dumps((train, heldout), sort_keys=True)
    assert train and heldout
    assert not {json.dumps(g, sort_keys=True) for g in train} & {json.dumps(g, sort_keys=True) for g in heldout}


def test_encode_decode_verify_round_trip(case):
    d, train, _ = case
    rng = np.random.default_rng(0)
    for goal in train[:3]:
        cond, none = d.encode(goal)
        assert none is None and cond.shape == (d.spec.cond_dim,) and cond.dtype == np.float32
        assert np.all(np.isfinite(cond))
        for _ in range(5):
            tokens = rng.integers(3, d.spec.vocab_size, d.spec.max_tokens - 1).tolist() + [END]
            design = d.decode(goal, tokens)
            _, toks = d.encode(goal, design)
            assert toks[-1] == END and len(toks) <= d.spec.max_tokens
            assert all(0 <= t < d.spec.vocab_size for t in toks)
            assert d.decode(goal, toks) == design  # decoded designs are fixed points
            (verdict,) = d.verify(goal, [design])
            assert "rejected" in verdict or (np.isfinite(verdict["merit"]) and verdict["solved"] in (True, False))


def test_refine_keeps_budget_and_never_worsens(case):
    d, train, _ = case
    goal = train[0]
    rng = np.random.default_rng(1)
    designs = [d.decode(goal, rng.integers(3, d.spec.vocab_size, d.spec.max_tokens - 1).tolist() + [END])
               for _ in range(3)]
    before = [v["merit"] for v in d.verify(goal, designs) if "merit" in v]
    refined, verdicts, spent = d.refine(goal, designs, 30)
    assert 0 <= spent <= 30 and len(refined) == len(verdicts) >= 1
    after = [v["merit"] for v in d.verify(goal, refined) if "merit" in v]
    assert [v.get("merit") for v in verdicts] == pytest.approx([v.get("merit") for v in d.verify(goal, refined)])
    if before:
        assert min(after) <= min(before) + 1e-12


def test_from_record_shape(case):
    d, _, _ = case
    found = d.from_record({"id": "x", "title": "", "abstract": ""})
    assert set(found) == {"goals", "claims", "measurements"} and all(isinstance(v, list) for v in found.values())
