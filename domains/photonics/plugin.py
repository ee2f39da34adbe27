"""Photonics as a specialist domain: thin-film coatings for a goal spectrum.

Tokens and conditioning are described in ``encoding`` (optical thickness in fine quarter-wave
bins at the goal's reference wavelength; conditioning on a grid relative to it).
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from domains.photonics import (baselines, calibration as calibration_mod, classic as classic_mod, design as design_mod,
                               encoding, exports, extract, families, goals as goals_mod, merit, results, synthetic,
                               tolerance as tolerance_mod)
from specialist.domain import Spec
from specialist.errors import InputError

# the families goals are generated in, and the goals extracted from papers ("paper"): what a
# training goal's provenance.family holds, so what daemon.skip_families may name
GOAL_FAMILIES = (*families.FAMILIES, "paper")


class PhotonicsDomain:
    """Thin-film coating design, verified by the transfer-matrix solver.

    Beyond the Domain protocol it offers every optional capability of ``specialist.domain``:
    Synthetic, Hindsight, Generator, Optimizer, LabData, Curves, ClaimCheck, Benchmarks, Families,
    Pretrained, Exports, Tolerance and Process.
    """

    spec = Spec("photonics", vocab_size=encoding.VOCAB, max_tokens=encoding.MAX_TOKENS, cond_dim=encoding.COND_DIM)
    methods = baselines.METHODS
    families = GOAL_FAMILIES

    def __init__(self, cache_size: int = 64):
        self._evaluators: OrderedDict[str, merit.Evaluator] = OrderedDict()
        self._goals: OrderedDict[str, tuple[goals_mod.Goal, encoding.Frame]] = OrderedDict()
        self._cache_size = cache_size

    def curriculum(self, seed: int) -> tuple[list[dict], list[dict]]:
        return families.split(seed=seed)

    def encode(self, goal: dict, design: dict | None = None):
        g, f = self._framed(goal)
        cond = encoding.condition(g, f)
        return cond, None if design is None else encoding.tokens(g, f, self._design(g, design))

    def decode(self, goal: dict, tokens: Sequence[int]) -> dict:
        g, f = self._framed(goal)
        return g.design(encoding.layers(g, f, tokens)).to_json()

    def verify(self, goal: dict, designs: Sequence[dict]) -> list[dict]:
        ev = self._evaluator(goal)
        return ev.score([self._design(ev.goal, d) for d in designs])

    def refine(self, goal: dict, designs: Sequence[dict], budget: int):
        """The gradient search (Adam, then needles) from the given designs; returns the best found."""
        ev = self._evaluator(goal)
        scorer = baselines.Budgeted(ev, budget)
        ok = [d for d in (self._design(ev.goal, x) for x in designs) if ev.goal.violation(d) is None]
        if ok and budget >= merit.GRADIENT_COST * len(ok):
            rng = np.random.default_rng(int(budget) + len(ok))
            baselines.gradient_search(scorer, *ev.encode(ok), rng)
        if not np.isfinite(scorer.best.merit):
            return list(designs), self.verify(goal, designs), scorer.spent
        best = ev.decode(scorer.best.mats_L, scorer.best.d_L)
        return [best.to_json()], [{"merit": scorer.best.merit,
                                   "solved": bool(scorer.best.merit <= ev.goal.solved_below)}], scorer.spent

    def from_record(self, record: dict) -> dict[str, list[Any]]:
        """Goals and claims a paper's title and abstract state (``extract.extract``).

        Records of other kinds yield nothing here (measurements come with result files), and a
        paper stating nothing concrete yields empty lists rather than guesses.
        """
        empty: dict[str, list[Any]] = {"goals": [], "claims": [], "measurements": []}
        if record.get("kind", "paper") != "paper" or not isinstance(record.get("abstract"), str):
            return empty
        paper_id = str(record.get("arxiv_id") or record.get("id") or "paper")
        return {**empty, **extract.extract(paper_id, str(record.get("title") or ""), record["abstract"])}

    def curves(self, goal: dict, design: dict) -> list[dict]:
        """Series to plot a design against its goal: per target, the goal's bound and the design
        (Curves)."""
        ev = self._evaluator(goal)
        out = []
        for t, d in zip(ev.goal.targets, ev.detail(self._design(ev.goal, design))):
            panel = f"{t.quantity} at {t.angle_deg:g} deg" + (f" ({t.polarization})" if t.angle_deg else "")
            out += [{"panel": panel, "label": f"goal ({t.relation})", "kind": "goal",
                     "x": d["wavelength_nm"], "y": list(t.value), "xlabel": "wavelength [nm]"},
                    {"panel": panel, "label": "design", "kind": "design", "x": d["wavelength_nm"],
                     "y": d["values"], "xlabel": "wavelength [nm]"}]
        return out

    def claim_figures(self, goal: dict, design: dict) -> list[dict]:
        """Per target, the simulated statistic a claim states (band average, or the worst point
        for a bound) next to the stated value, met within the target's tolerance (ClaimCheck)."""
        ev = self._evaluator(goal)
        statistic = (goal.get("provenance") or {}).get("statistic", "bound")
        out = []
        for target, detail in zip(goal["targets"], ev.detail(self._design(ev.goal, design))):
            values = [float(v) for v in detail["values"]]
            relation, stated, slack = target["relation"], float(target["value"]), float(target.get("tolerance", 0.01))
            value = sum(values) / len(values) if statistic == "average" else max(values) if relation == "<=" \
                else min(values)
            met = value <= stated + slack if relation == "<=" else value >= stated - slack if relation == ">=" \
                else abs(value - stated) <= slack
            out.append({"quantity": target["quantity"], "relation": relation, "stated": stated,
                        "statistic": statistic, "simulated": value, "met": met})
        return out

    def optimize(self, goal: dict, method: str, budget: int, seed: int = 0) -> dict:
        """A per-goal optimizer (one of ``methods``) within ``budget``: the yardstick (Optimizer).
        Returns {"design", "merit", "solved", "evaluations"}."""
        ev = self._evaluator(goal)
        r = baselines.run(method, ev, budget, seed)
        found = bool(np.isfinite(r.merit))
        return {"design": ev.decode(r.mats_L, r.d_L).to_json() if found else None,
                "merit": float(r.merit) if found else None,
                "solved": bool(found and r.merit <= ev.goal.solved_below), "evaluations": r.evaluations}

    def starts(self, goal: dict, count: int, seed: int = 0) -> list[dict]:
        """Where the gradient method starts: quarter-wave stacks and thin multistarts, in turn
        (Optimizer)."""
        ev = self._evaluator(goal)
        mats, d = baselines.starts(ev, count, np.random.default_rng([int(seed), 0x57A7]))
        return [ev.decode(m, x).to_json() for m, x in zip(mats, d)]

    def generate(self, start: int, count: int) -> list[dict]:
        """Goals of every family drawn with seeds no split uses, one after another for ever
        (``families.endless``; Generator)."""
        return families.endless(start, count)

    def synthetic(self, seed: int, count: int) -> list[tuple[dict, dict]]:
        """(goal, design) pairs made by the simulator, each design meeting its goal: the data of
        the pretraining ("spectrum") phase (Synthetic)."""
        return synthetic.pairs(seed, count)

    def hindsight(self, goal: dict, designs: Sequence[dict], seed: int = 0) -> list[dict | None]:
        """Per design, a goal written from its own spectrum that it meets exactly (None for a
        design invalid for ``goal``): the learner's hindsight pairs (``synthetic.hindsight``;
        Hindsight)."""
        return synthetic.hindsight(goal, list(designs), seed)

    def read_result(self, csv_path: Path, sidecar_path: Path, csv_label: str, sidecar_label: str) -> dict:
        """A measured result pair (spectrum CSV and JSON sidecar) as its ``results`` row, checked
        (``results.read_result``; raises InputError). The lab feed reads result files with it (LabData)."""
        return results.read_result(csv_path, sidecar_path, csv_label, sidecar_label)

    def judge(self, design: dict, measurement: dict, calibration: dict | None = None) -> dict:
        """How far a measured spectrum is from the (calibrated) simulation (``results.verdict``).
        The verdict stored with each result (LabData)."""
        return results.verdict(design, measurement, calibration)

    def calibrate(self, results_rows: Iterable[dict], steps: int = 40) -> dict:
        """Film index offsets and run thickness scales fitted to stored ``results`` rows
        (``calibration.fit``); ``experiments.measurements`` versions and applies them (LabData)."""
        return calibration_mod.fit(results.measured(results_rows), steps)

    def validation_goals(self) -> list[dict]:
        """The held-out goals of split seed 1, which the daemon (seed 0) never sees: for choosing
        test-time settings without touching the test set (Benchmarks)."""
        return families.split(n_heldout=39, seed=1)[1]

    def ood_goals(self, skipped=()) -> list[dict]:
        """Every family but curve_hidden moved into the wavelength band that pretraining and the
        generator leave out (``bands.OOD_NM``, 1150-1450 nm), and held-out goals of the
        ``skipped`` families (``families.ood``; Benchmarks); "paper" has no held-out goals to add."""
        return families.ood(tuple(f for f in skipped if f in families.FAMILIES))

    def classic(self, search, budgets, seed: int = 0) -> list[dict]:
        """A broadband antireflection coating and a quarter-wave reflector at each budget
        (``classic.run``; Benchmarks)."""
        return classic_mod.run(self, search, budgets, seed)

    def weights(self) -> Path | None:
        """The weights this package ships (``weights/``: params.msgpack and meta.json with its
        provenance), made by ``specialist pretrain --ship``; None if absent (Pretrained)."""
        folder = Path(__file__).with_name("weights")
        return folder if (folder / "meta.json").exists() and (folder / "params.msgpack").exists() else None

    def export(self, goal: dict, design: dict) -> dict[str, str]:
        """The design as "design.json", "layers.csv" (thicknesses, quarter waves at the goal's
        reference wavelength) and "spectrum.csv" (R and T over the goal's targets) (``exports``;
        Exports)."""
        g, f = self._framed(goal)
        return exports.files(g, f.ref_nm, self._design(g, design))

    def tolerance(self, goal: dict, design: dict, thickness_pct: float = 1.0, index_sigma: float = 0.01,
                  runs: int = 200, seed: int = 0) -> dict:
        """The merit over ``runs`` copies made with thickness and film-index errors, with each
        copy's merit as "merits" (``tolerance.tolerance``, which states the draws; Tolerance), and
        per layer the merit's derivative in its thickness and the merit with it 1 % thicker and
        thinner as "sensitivity", the layers that move it most as "most_sensitive_layers".
        Raises InputError for a bad argument or a design that breaks the goal's limits."""
        ev = self._evaluator(goal)
        return tolerance_mod.tolerance(ev, self._design(ev.goal, design), thickness_pct, index_sigma, runs, seed)

    def calibrated(self, goal: dict, calibration: dict | None) -> dict:
        """A goal naming a ``process`` (a deposition run) with the calibration's film index offsets
        and that run's thickness scale attached as its ``calibration`` (Process); unchanged
        without a process or a calibration, or where the goal gives its own."""
        if not calibration or "process" not in goal or "calibration" in goal:
            return goal
        return {**goal, "calibration": {"version": int(calibration.get("version", 0)),
                                        "delta_n": dict(calibration.get("delta_n", {})),
                                        "thickness_scale": float(calibration.get("thickness_scale", {}).get(
                                            str(goal["process"]), 1.0))}}

    def _evaluator(self, goal: dict) -> merit.Evaluator:
        return _cached(self._evaluators, goal, self._cache_size,
                       lambda: merit.Evaluator(self._goal(goal)))

    def _goal(self, goal: dict) -> goals_mod.Goal:
        return self._framed(goal)[0]

    def _framed(self, goal: dict) -> tuple[goals_mod.Goal, encoding.Frame]:
        """The parsed goal and its reference frame; both are cheap next to an Evaluator, so
        encoding stays fast."""
        def make():
            g = goals_mod.parse(goal, goal.get("name", "goal"))
            return g, encoding.frame(g)
        return _cached(self._goals, goal, 4 * self._cache_size, make)

    @staticmethod
    def _design(g, obj: dict):
        return design_mod.parse(obj, "design", g.inline_materials)


def _cached(cache: OrderedDict, goal: dict, size: int, make):
    """``make()`` for ``goal``, kept in a bounded least-recently-used cache."""
    if not isinstance(goal, dict):  # checked here: the key is made before the goal is parsed
        raise InputError("goal", "", f"is {type(goal).__name__} {str(goal)[:40]!r}; allowed: a JSON object (a goal)")
    key = families.goal_hash(goal) + str(goal.get("name", ""))
    if key not in cache:
        cache[key] = make()
        if len(cache) > size:
            cache.popitem(last=False)
    cache.move_to_end(key)
    return cache[key]
