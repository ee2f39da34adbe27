"""Every installed domain, and a tiny one built from the public API only, keeps the contract: the
required Domain protocol, and each optional capability a domain offers."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from specialist import domain
from specialist.domain import (END, Benchmarks, ClaimCheck, Curves, Domain, Exports, Generator, Hindsight, LabData,
                               Optimizer, Process, Synthetic, Tolerance, goal_hash)
from specialist.errors import InputError
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


def _offering(case, capability):
    d = case[0]
    if not isinstance(d, capability):
        pytest.skip(f"domain '{d.spec.name}' does not offer {capability.__name__}")
    return case


def _design(d, goal, seed=2):
    rng = np.random.default_rng(seed)
    return d.decode(goal, rng.integers(3, d.spec.vocab_size, d.spec.max_tokens - 1).tolist() + [END])


def test_every_capability_is_a_small_protocol():
    for capability in domain.CAPABILITIES:
        members = [m for m in vars(capability) if not m.startswith("_")] + \
            list(getattr(capability, "__annotations__", {}))
        assert 1 <= len(set(members)) <= 5, capability.__name__
        assert capability.__doc__ and "domain." in capability.__doc__  # shows how the loop calls it


def test_photonics_offers_every_capability_and_the_toy_some():
    assert all(isinstance(domain.load("photonics"), c) for c in domain.CAPABILITIES)
    assert {c.__name__ for c in domain.CAPABILITIES if isinstance(ToyDomain(), c)} == {"Optimizer", "Curves"}


def test_synthetic_pairs_are_seeded_and_each_design_meets_its_goal(case):
    d, _, _ = _offering(case, Synthetic)
    pairs = d.synthetic(3, 4)
    assert len(pairs) == 4 and json.dumps(pairs, sort_keys=True) == json.dumps(d.synthetic(3, 4), sort_keys=True)
    for goal, design in pairs:
        (verdict,) = d.verify(goal, [design])
        assert verdict.get("solved") is True, verdict
        cond, tokens = d.encode(goal, design)
        assert cond.shape == (d.spec.cond_dim,) and tokens[-1] == END


def test_hindsight_goals_are_seeded_and_met_by_their_designs(case):
    d, train, _ = _offering(case, Hindsight)
    goal = train[0]
    designs = [_design(d, goal, seed) for seed in range(2, 7)]
    goals = d.hindsight(goal, designs, 11)
    assert len(goals) == len(designs)
    assert json.dumps(goals, sort_keys=True) == json.dumps(d.hindsight(goal, designs, 11), sort_keys=True)
    made = 0
    for written, design, original in zip(goals, designs, d.verify(goal, designs)):
        if "rejected" in original:
            assert written is None  # a design invalid for the goal gets no goal
            continue
        if written is None:
            continue
        made += 1
        assert set(goal) - {"provenance"} <= set(written) and goal_hash(written) != goal_hash(goal)
        (verdict,) = d.verify(written, [design])
        assert verdict.get("solved") is True and verdict["merit"] < 1e-3, verdict
        assert d.encode(written, design)[1][-1] == END
    assert made >= 1


def test_generated_goals_are_a_fixed_endless_sequence_apart_from_the_curriculum(case):
    d, train, heldout = _offering(case, Generator)
    first = d.generate(0, 6)
    assert len(first) == 6 and json.dumps(d.generate(3, 3), sort_keys=True) == json.dumps(first[3:], sort_keys=True)
    far = d.generate(10_000, 3)
    hashes = {goal_hash(g) for g in first + far}
    assert len(hashes) == 9 and not hashes & {goal_hash(g) for g in train + heldout}
    for goal in first[:3] + far:
        assert d.encode(goal)[0].shape == (d.spec.cond_dim,)


def test_optimizer_keeps_its_budget_and_reports_what_verify_says(case):
    d, train, _ = _offering(case, Optimizer)
    assert d.methods and all(isinstance(m, str) for m in d.methods)
    goal = train[0]
    for method in d.methods:
        found = d.optimize(goal, method, 12, seed=0)
        assert set(found) >= {"design", "merit", "solved", "evaluations"} and 0 <= found["evaluations"] <= 12
        if found["design"] is not None:
            (verdict,) = d.verify(goal, [found["design"]])
            assert verdict["merit"] == pytest.approx(found["merit"]) and verdict["solved"] == found["solved"]
    starts = d.starts(goal, 3, seed=0)  # the portfolio's candidates: valid designs, seeded
    assert len(starts) == 3 and json.dumps(starts, sort_keys=True) == json.dumps(d.starts(goal, 3, seed=0), sort_keys=True)
    assert all("merit" in v for v in d.verify(goal, starts))


def test_lab_data_names_a_bad_file_and_calibrates_nothing_to_nothing(case, tmp_path):
    d, _, _ = _offering(case, LabData)
    csv, sidecar = tmp_path / "s.csv", tmp_path / "s.json"
    csv.write_text("not,a\nspectrum\n")
    sidecar.write_text("{}")
    with pytest.raises(InputError, match="s.csv|s.json"):
        d.read_result(csv, sidecar, "s.csv", "s.json")
    assert callable(d.judge) and callable(d.calibrate)


def test_curves_are_plain_series(case):
    d, train, _ = _offering(case, Curves)
    goal = train[0]
    series = d.curves(goal, _design(d, goal))
    assert series and {s["kind"] for s in series} <= {"goal", "design"}
    for s in series:
        assert set(s) >= {"panel", "label", "kind", "x", "y", "xlabel"} and len(s["x"]) == len(s["y"])
        json.dumps(s)  # plain data: it crosses processes and reaches the dashboard


def test_claim_figures_simulate_each_stated_target(case):
    d, train, _ = _offering(case, ClaimCheck)
    goal = train[0]
    figures = d.claim_figures(goal, _design(d, goal))
    assert len(figures) == len(goal["targets"])
    for f in figures:
        assert set(f) >= {"stated", "simulated", "statistic", "met"} and np.isfinite(f["simulated"])
        assert f["met"] in (True, False)


def test_benchmarks_validation_goals_are_apart_and_classic_rows_are_summarised(case):
    d, train, heldout = _offering(case, Benchmarks)
    validation = d.validation_goals()
    assert validation and not {goal_hash(g) for g in validation} & {goal_hash(g) for g in train + heldout}
    for goal in validation[:3]:
        assert d.encode(goal)[0].shape == (d.spec.cond_dim,)
    rows = d.classic(None, [5], 0)
    assert rows and all({"problem", "summary"} <= set(r) for r in rows)


def _valid_design(d, goal):
    """A decoded design the goal accepts (the first of a few seeds)."""
    for seed in range(2, 12):
        design = _design(d, goal, seed)
        (verdict,) = d.verify(goal, [design])
        if "merit" in verdict:
            return design, verdict
    pytest.fail("no decoded design was valid for the goal")


def test_exports_are_text_files_holding_the_design(case):
    d, train, _ = _offering(case, Exports)
    goal = train[0]
    design, verdict = _valid_design(d, goal)
    files = d.export(goal, design)
    assert "design.json" in files and all(isinstance(k, str) and isinstance(v, str) and v for k, v in files.items())
    assert d.verify(goal, [json.loads(files["design.json"])]) == [verdict]


def test_tolerance_reports_its_runs_and_refuses_bad_arguments(case):
    d, train, _ = _offering(case, Tolerance)
    goal = train[0]
    design, verdict = _valid_design(d, goal)
    report = d.tolerance(goal, design, thickness_pct=1.0, index_sigma=0.01, runs=8, seed=0)
    assert set(report) >= {"merit", "mean", "std", "median", "p90", "solved_share", "runs", "thickness_pct",
                           "index_sigma", "seed"}
    assert report["merit"] == pytest.approx(verdict["merit"]) and report["runs"] == 8 and report["std"] >= 0
    assert 0 <= report["solved_share"] <= 1 and json.dumps(report)
    assert report == d.tolerance(goal, design, thickness_pct=1.0, index_sigma=0.01, runs=8, seed=0)
    for bad in ({"thickness_pct": -1.0}, {"index_sigma": -1.0}, {"runs": 0}):
        with pytest.raises(InputError, match=next(iter(bad))):
            d.tolerance(goal, design, **bad)


def test_process_leaves_a_goal_without_a_calibration_or_a_process_as_it_is(case):
    d, train, _ = _offering(case, Process)
    goal = train[0]
    assert d.calibrated(goal, None) is goal
    assert d.calibrated(goal, {"version": 1}) is goal  # the curriculum's goals name no process
    assert json.dumps(d.calibrated(goal, {"version": 1}))
