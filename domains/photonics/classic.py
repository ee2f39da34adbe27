"""Classic coating problems with known answers, printed by ``specialist bench --classic``.

- Broadband antireflection: 400-700 nm on glass n = 1.52 with layers of n = 1.38, 1.46 and
  2.35, at most 8 layers; asked: average R <= 0.1 %. The goal bounds R by 0 with tolerance
  0.001, so merit = RMS(R) / 0.001 and merit <= 1 guarantees the average.
- Quarter-wave reflector: (HL)^N H of n = 2.35 / 1.38 on n = 1.52 at 550 nm. Its peak
  reflectance has a closed form, R = ((1 - Y) / (1 + Y))^2 with Y = (nH/nL)^(2N) nH^2 / ns; the
  solver must agree with it, and an optimizer given the materials and the layer count must find
  a design within 1e-4 of it.
"""

from __future__ import annotations

import numpy as np

from domains.photonics import design as design_mod, goals, spectra

_H, _L, _M, _SUB = 2.35, 1.38, 1.46, 1.52
_MATS = [{"name": "H", "n": _H}, {"name": "L", "n": _L}, {"name": "M", "n": _M}]
_PAIRS, _CENTER = 4, 550.0


def ar_goal() -> dict:
    return {"name": "classic-broadband-ar", "domain": "photonics", "incident": "air",
            "substrate": {"name": "glass", "n": _SUB}, "materials": _MATS, "max_layers": 8,
            "thickness_nm": [5, 500], "max_total_thickness_nm": None,
            "targets": [{"quantity": "R", "polarization": "avg", "angle_deg": 0, "wavelength_nm": [400, 700],
                         "points": 61, "relation": "<=", "value": 0.0, "tolerance": 0.001, "weight": 1.0}],
            "solved_below": 1.0}


def analytic_peak(pairs: int = _PAIRS) -> float:
    y = (_H / _L) ** (2 * pairs) * _H ** 2 / _SUB
    return ((1 - y) / (1 + y)) ** 2


def qw_design(pairs: int = _PAIRS) -> dict:
    layers = [{"material": _MATS[i % 2], "thickness_nm": _CENTER / (4 * (_H, _L)[i % 2])}
              for i in range(2 * pairs + 1)]
    return {"incident": "air", "substrate": {"name": "glass", "n": _SUB}, "layers": layers}


def qw_goal(pairs: int = _PAIRS) -> dict:
    """Reflect as much as possible at the centre: R >= the analytic peak - 1e-4, solved if met."""
    return {"name": "classic-quarter-wave-reflector", "domain": "photonics", "incident": "air",
            "substrate": {"name": "glass", "n": _SUB}, "materials": _MATS[:2], "max_layers": 2 * pairs + 1,
            "thickness_nm": [5, 500], "max_total_thickness_nm": None,
            "targets": [{"quantity": "R", "polarization": "avg", "angle_deg": 0, "wavelength_nm": _CENTER,
                         "points": 1, "relation": ">=", "value": analytic_peak(pairs) - 1e-4,
                         "tolerance": 1e-4, "weight": 1.0}],
            "solved_below": 1e-9}


def reflectance(design: dict, wavelengths_nm) -> np.ndarray:
    d = design_mod.parse(design, "classic")
    return spectra.simulate([d], np.atleast_1d(np.asarray(wavelengths_nm, float)))["R"][0, 0]


def run(domain, search, budgets, seed: int = 0) -> list[dict]:
    """Both problems at each budget, by the gradient baseline and (if ``search`` is given) the
    specialist; one row per problem, method and budget."""
    solvers = {"gradient": lambda g: {b: domain.optimize(g, "gradient", b, seed) for b in budgets}}
    if search is not None:
        solvers["specialist"] = lambda g: search([g], tuple(budgets))[0]
    out = []
    for method, solve in solvers.items():
        for problem, row in ((ar_goal(), _ar_row), (qw_goal(), _qw_row)):
            out += [row(method, b, r) for b, r in solve(problem).items()]
    return out


def _ar_row(method: str, budget: int, r: dict) -> dict:
    R = reflectance(r["design"], goals.parse(ar_goal()).targets[0].grid()) if r["design"] else np.array([np.nan])
    met = bool(R.mean() <= 0.001)
    layers = len(r["design"]["layers"]) if r["design"] else 0
    return {"problem": "broadband AR 400-700 nm, n 1.38/1.46/2.35 on 1.52, <= 8 layers", "method": method,
            "budget": budget, "evaluations": r["evaluations"], "average_R": float(R.mean()),
            "max_R": float(R.max()), "design": r["design"], "met": met,
            "summary": f"{method} at budget {budget}: average R {100 * R.mean():.3f} % (max {100 * R.max():.3f} %, "
                       f"{layers} layers); target <= 0.1 %: {'met' if met else 'not met'}"}


def _qw_row(method: str, budget: int, r: dict) -> dict:
    peak = float(reflectance(r["design"], _CENTER)[0]) if r["design"] else float("nan")
    exact = float(reflectance(qw_design(), _CENTER)[0])
    gap, met = analytic_peak() - peak, bool(abs(analytic_peak() - peak) <= 1e-4)
    return {"problem": f"quarter-wave reflector (HL)^{_PAIRS}H at {_CENTER:g} nm", "method": method,
            "budget": budget, "evaluations": r["evaluations"], "analytic_R": analytic_peak(),
            "solver_R_of_quarter_wave_stack": exact, "found_R": peak, "met": met, "design": r["design"],
            "summary": f"{method} at budget {budget}: R {peak:.6f} vs analytic {analytic_peak():.6f} (gap {gap:.1e}; "
                       f"within 1e-4: {'yes' if met else 'no'}); the solver on the exact stack is off by "
                       f"{abs(exact - analytic_peak()):.1e}"}
