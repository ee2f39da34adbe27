"""Photonics as a specialist domain: thin-film coatings for a goal spectrum.

Tokens: a design is (material, thickness bin) per layer from the incident side, then END.
Material tokens index the goal's material list (first K_MAX materials); thickness bins split the
goal's [lo, hi] thickness range into N_BINS equal bins, decoded at their centres.

Conditioning (float32, COND_DIM): on a fixed grid of GRID_POINTS wavelengths over GRID_NM, for
each quantity (R, T, A) and angle bucket (normal, oblique), four channels: presence of a "<=",
">=" and "=" target and its value; then n and k of each material slot and n of the substrate at
five reference wavelengths; then max_layers, the thickness range, the oblique angle and the
number of materials, each scaled to about [0, 1].
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from domains.photonics import (baselines, calibration as calibration_mod, classic as classic_mod, design as design_mod,
                               extract, families, goals as goals_mod, merit, results, synthetic)
from specialist.domain import END, Spec

K_MAX, N_BINS, L_MAX = 8, 64, 32
GRID_NM, GRID_POINTS = (400.0, 1000.0), 64
_REF_NM = np.array([400.0, 550.0, 700.0, 850.0, 1000.0])
_MAT0 = END + 1  # first id after the reserved PAD, BOS, END
_BIN0 = _MAT0 + K_MAX
_SLOTS = [(q, b) for q in ("R", "T", "A") for b in ("normal", "oblique")]
COND_DIM = len(_SLOTS) * 4 * GRID_POINTS + K_MAX * 2 * len(_REF_NM) + len(_REF_NM) + 5


class PhotonicsDomain:
    """Thin-film coating design, verified by the transfer-matrix solver.

    Beyond the Domain protocol it offers every optional capability of ``specialist.domain``:
    Synthetic, Generator, Optimizer, LabData, Curves, ClaimCheck and Benchmarks.
    """

    spec = Spec("photonics", vocab_size=_BIN0 + N_BINS, max_tokens=2 * L_MAX + 1, cond_dim=COND_DIM)
    methods = baselines.METHODS

    def __init__(self, cache_size: int = 64):
        self._evaluators: OrderedDict[str, merit.Evaluator] = OrderedDict()
        self._goals: OrderedDict[str, goals_mod.Goal] = OrderedDict()
        self._cache_size = cache_size

    def curriculum(self, seed: int) -> tuple[list[dict], list[dict]]:
        return families.split(seed=seed)

    def encode(self, goal: dict, design: dict | None = None):
        g = self._goal(goal)
        return _condition(g), None if design is None else _tokens(g, self._design(g, design))

    def decode(self, goal: dict, tokens: Sequence[int]) -> dict:
        g = self._goal(goal)
        lo, hi = g.thickness_nm
        layers, material = [], None
        for tok in tokens:
            if tok == END:
                break
            if _MAT0 <= tok < _BIN0 and tok - _MAT0 < len(g.materials):
                material = g.materials[tok - _MAT0]
            elif tok >= _BIN0 and material is not None and len(layers) < g.max_layers:
                layers.append((material, lo + (tok - _BIN0 + 0.5) / N_BINS * (hi - lo)))
                material = None
        return g.design(layers).to_json()

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

    def generate(self, start: int, count: int) -> list[dict]:
        """Goals of every family drawn with seeds no split uses, one after another for ever
        (``families.endless``; Generator)."""
        return families.endless(start, count)

    def synthetic(self, seed: int, count: int) -> list[tuple[dict, dict]]:
        """(goal, design) pairs made by the simulator, each design meeting its goal: the data of
        the pretraining ("spectrum") phase (Synthetic)."""
        return synthetic.pairs(seed, count)

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

    def classic(self, search, budgets, seed: int = 0) -> list[dict]:
        """A broadband antireflection coating and a quarter-wave reflector at each budget
        (``classic.run``; Benchmarks)."""
        return classic_mod.run(self, search, budgets, seed)

    def _evaluator(self, goal: dict) -> merit.Evaluator:
        return _cached(self._evaluators, goal, self._cache_size,
                       lambda: merit.Evaluator(self._goal(goal)))

    def _goal(self, goal: dict) -> goals_mod.Goal:
        """The parsed goal; parsing is cheap next to an Evaluator, so encoding stays fast."""
        return _cached(self._goals, goal, 4 * self._cache_size,
                       lambda: goals_mod.parse(goal, goal.get("name", "goal")))

    @staticmethod
    def _design(g, obj: dict):
        return design_mod.parse(obj, "design", g.inline_materials)


def _cached(cache: OrderedDict, goal: dict, size: int, make):
    """``make()`` for ``goal``, kept in a bounded least-recently-used cache."""
    key = families.goal_hash(goal) + goal.get("name", "")
    if key not in cache:
        cache[key] = make()
        if len(cache) > size:
            cache.popitem(last=False)
    cache.move_to_end(key)
    return cache[key]


def _tokens(g, design) -> list[int]:
    lo, hi = g.thickness_nm
    index = {m.key: i for i, m in enumerate(g.materials[:K_MAX])}
    out = []
    for m, t in design.layers[:L_MAX]:
        if m.key not in index:
            continue
        b = int(np.clip(np.floor((t - lo) / max(hi - lo, 1e-9) * N_BINS), 0, N_BINS - 1))
        out += [_MAT0 + index[m.key], _BIN0 + b]
    return out + [END]


def _condition(g) -> np.ndarray:
    grid = np.linspace(*GRID_NM, GRID_POINTS)
    spectral = np.zeros((len(_SLOTS), 4, GRID_POINTS), np.float32)
    for t in g.targets:
        slot = _SLOTS.index((t.quantity, "normal" if t.angle_deg == 0 else "oblique"))
        lo, hi = t.wavelength_nm
        inside = (grid >= lo) & (grid <= hi) if hi > lo else np.arange(GRID_POINTS) == np.argmin(np.abs(grid - lo))
        rel = goals_mod.RELATIONS.index(t.relation)
        spectral[slot, rel, inside] = 1.0
        values = np.interp(grid, t.grid(), t.value) if t.points > 1 else np.full(GRID_POINTS, t.value[0])
        spectral[slot, 3, inside] = values[inside]
    mats = np.zeros((K_MAX, 2, len(_REF_NM)), np.float32)
    for i, m in enumerate(g.materials[:K_MAX]):
        nk = m.nk(np.clip(_REF_NM, *m.valid_nm))
        mats[i] = nk.real / 4.0, nk.imag / 10.0
    sub = g.substrate.nk(np.clip(_REF_NM, *g.substrate.valid_nm)).real / 4.0
    oblique = [t.angle_deg for t in g.targets if t.angle_deg > 0]
    scalars = [g.max_layers / L_MAX, g.thickness_nm[0] / 1000, g.thickness_nm[1] / 1000,
               (np.mean(oblique) if oblique else 0.0) / 90, min(len(g.materials), K_MAX) / K_MAX]
    return np.concatenate([spectral.ravel(), mats.ravel(), sub, scalars]).astype(np.float32)
