"""Per-goal optimizers a lab would otherwise run: the yardstick the specialist must beat.

Budget accounting (GUIDE): one spectrum of one design over all of a goal's targets costs 1; a
gradient of it (value included) costs 3. Every method stops when the next step would exceed
the budget and returns the best design it verified.

Methods: ``random`` (random designs), ``de`` (scipy differential evolution), ``cmaes`` (the
``cma`` package, with restarts), ``gradient`` (multistart Adam through the JAX solver, with
needle insertion of thin layers while budget remains).

Continuous encodings (DE, CMA-ES): per layer a thickness gene and, for goals with more than two
materials, a material gene, all in [0, 1]. A thickness gene below a small cut-off drops the
layer, so the layer count is searched too; with two materials layers alternate H/L.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from domains.photonics.merit import GRADIENT_COST, Evaluator
from domains.photonics.refine import adam_refine, needle_insert

METHODS = ("random", "de", "cmaes", "gradient")
_CHUNK = 32  # designs per solver call: a fixed batch shape keeps the compilations few
_DROP = 0.15  # share of a thickness gene's range that means "no layer"


@dataclass
class Result:
    """The best verified design of a run; ``evaluations`` as the budget counts them."""

    mats_L: np.ndarray
    d_L: np.ndarray
    merit: float
    evaluations: int


class Budgeted:
    """Scores designs through an Evaluator in fixed-size chunks, counting the budget spent."""

    def __init__(self, evaluator: Evaluator, budget: int):
        self.ev, self.budget, self.spent = evaluator, budget, 0
        self.best = Result(np.zeros(evaluator.n_layers, np.int32), np.zeros(evaluator.n_layers), np.inf, 0)

    @property
    def left(self) -> int:
        return self.budget - self.spent

    def merit(self, mats_BxL: np.ndarray, d_BxL: np.ndarray) -> np.ndarray:
        """Merits of as many designs as the budget allows (the rest get +inf)."""
        n = min(len(mats_BxL), max(self.left, 0))
        out = np.full(len(mats_BxL), np.inf)
        for s in range(0, n, _CHUNK):
            e = min(n, s + _CHUNK)
            out[s:e] = self._chunk(self.ev.merit, mats_BxL[s:e], d_BxL[s:e])[: e - s]
        self.spent += n
        self._track(mats_BxL[:n], d_BxL[:n], out[:n])
        return out

    def value_and_grad(self, mats_BxL, d_BxL):
        """Merits and thickness gradients; costs GRADIENT_COST per design."""
        self.spent += GRADIENT_COST * len(mats_BxL)
        values, grads = [], []
        for s in range(0, len(mats_BxL), _CHUNK):
            v, g = self._chunk(self.ev.value_and_grad, mats_BxL[s:s + _CHUNK], d_BxL[s:s + _CHUNK])
            n = min(_CHUNK, len(mats_BxL) - s)
            values.append(v[:n]), grads.append(g[:n])
        v = np.concatenate(values)
        self._track(mats_BxL, d_BxL, v)
        return v, np.concatenate(grads)

    def _chunk(self, fn, mats, d):
        pad = _CHUNK - len(mats)
        mats = np.concatenate([mats, np.zeros((pad, mats.shape[1]), mats.dtype)])
        d = np.concatenate([d, np.zeros((pad, d.shape[1]))])
        out = fn(mats, d)
        return tuple(np.asarray(o) for o in out) if isinstance(out, tuple) else np.asarray(out)

    def _track(self, mats, d, merits):
        merits = np.where(self._valid(d), merits, np.inf)  # only designs keeping every constraint
        if len(merits) and np.min(merits) < self.best.merit:
            i = int(np.argmin(merits))
            self.best = Result(mats[i].copy(), d[i].copy(), float(merits[i]), 0)


    def _valid(self, d_BxL: np.ndarray) -> np.ndarray:
        goal = self.ev.goal
        lo, hi = goal.thickness_nm
        present = d_BxL > 0
        ok = np.all(~present | ((d_BxL >= lo) & (d_BxL <= hi)), axis=1)
        ok &= present.sum(axis=1) <= goal.max_layers
        if goal.max_total_thickness_nm is not None:
            ok &= d_BxL.sum(axis=1) <= goal.max_total_thickness_nm
        return ok


def run(method: str, evaluator: Evaluator, budget: int, seed: int = 0) -> Result:
    """Optimize one goal with one method within ``budget`` evaluations."""
    scorer = Budgeted(evaluator, budget)
    rng = np.random.default_rng(seed)
    _RUNNERS[method](scorer, rng)
    best = scorer.best
    return Result(best.mats_L, best.d_L, best.merit, scorer.spent)


# --- encodings -------------------------------------------------------------------------------

def _genes(ev: Evaluator) -> int:
    n_mat = len(ev.goal.materials)
    return ev.goal.max_layers * (2 if n_mat > 2 else 1)


def decode(ev: Evaluator, x_BxG: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mats_BxL, d_BxL) from genes in [0, 1], repaired to keep every hard constraint."""
    goal, L = ev.goal, ev.goal.max_layers
    n_mat = len(goal.materials)
    x = np.clip(x_BxG, 0.0, 1.0)
    lo, hi = goal.thickness_nm
    t = x[:, :L]
    d = np.where(t < _DROP, 0.0, lo + (t - _DROP) / (1 - _DROP) * (hi - lo))
    if n_mat > 2:
        m = np.minimum((x[:, L:] * n_mat).astype(np.int32), n_mat - 1)
    else:
        m = np.broadcast_to((np.arange(L) % n_mat).astype(np.int32), d.shape).copy()
    return _pad(ev, *_repair(goal, m, d))


def encode(ev: Evaluator, mats_BxL: np.ndarray, d_BxL: np.ndarray) -> np.ndarray:
    """Genes in [0, 1] that ``decode`` maps back to the given designs (extra layers cut)."""
    goal, L = ev.goal, ev.goal.max_layers
    n_mat = len(goal.materials)
    lo, hi = goal.thickness_nm
    x = np.zeros((len(d_BxL), _genes(ev)))
    for b, (mats, ds) in enumerate(zip(mats_BxL, d_BxL)):
        slot = 0
        for m, t in zip(mats[ds > 0], ds[ds > 0]):
            if n_mat <= 2 and slot % n_mat != m:
                slot += 1  # leave this slot empty so the alternation lands on material m
            if slot >= L:
                break
            x[b, slot] = _DROP + (1 - _DROP) * ((t - lo) / (hi - lo) if hi > lo else 0.0)
            if n_mat > 2:
                x[b, L + slot] = (m + 0.5) / n_mat
            slot += 1
    return x


def _repair(goal, m, d):
    """Scale stacks over the total-thickness limit down, dropping layers that fall below lo."""
    if goal.max_total_thickness_nm is not None:
        total = d.sum(axis=1, keepdims=True)
        # A hair under the limit, so rounding in the rescaled sum never crosses it.
        scale = np.minimum(1.0, goal.max_total_thickness_nm * (1 - 1e-12) / np.maximum(total, 1e-12))
        d = d * scale
        d = np.where(d < goal.thickness_nm[0], 0.0, d)
    return m, d


def _pad(ev: Evaluator, m, d):
    """Move present layers to the front (order kept) and pad to the evaluator's layer count."""
    B, L = d.shape
    mats = np.zeros((B, ev.n_layers), np.int32)
    out = np.zeros((B, ev.n_layers))
    for b in range(B):
        keep = d[b] > 0
        k = int(keep.sum())
        mats[b, :k], out[b, :k] = m[b, keep], d[b, keep]
    return mats, out


# --- methods ---------------------------------------------------------------------------------

def _random(scorer: Budgeted, rng: np.random.Generator) -> None:
    while scorer.left > 0:
        n = min(scorer.left, _CHUNK)
        scorer.merit(*decode(scorer.ev, rng.random((n, _genes(scorer.ev)))))


def _de(scorer: Budgeted, rng: np.random.Generator) -> None:
    from scipy.optimize import differential_evolution  # here: a quarter second to import, for DE alone

    G = _genes(scorer.ev)
    popsize = max(5, min(15, scorer.budget // (10 * G) or 1))  # population = popsize * G
    if scorer.budget < popsize * G:
        return _random(scorer, rng)

    def objective(x_GxN):  # scipy's vectorized form: one column per candidate
        return scorer.merit(*decode(scorer.ev, x_GxN.T))

    # A careful user seeds part of the population with quarter-wave stacks.
    init = rng.random((popsize * G, G))
    n_qw = len(init) // 4
    init[:n_qw] = encode(scorer.ev, *_quarter_wave_starts(scorer.ev, n_qw, rng))
    differential_evolution(objective, [(0.0, 1.0)] * G, popsize=popsize, vectorized=True,
                           updating="deferred", polish=False, init=init, tol=0,
                           maxiter=10 ** 6, rng=rng, callback=lambda *a, **k: scorer.left <= 0)


def _cmaes(scorer: Budgeted, rng: np.random.Generator) -> None:
    import cma  # here, not at the top: cma imports scipy.stats and matplotlib, about a second

    G = _genes(scorer.ev)
    popsize = 4 + int(3 * np.log(G))
    restart = 0
    while scorer.left >= popsize:  # IPOP restarts: double the population each time
        # Even restarts start from a quarter-wave stack, odd ones from a random point.
        x0 = (encode(scorer.ev, *_quarter_wave_starts(scorer.ev, 1, rng))[0] if restart % 2 == 0
              else rng.random(G))
        restart += 1
        es = cma.CMAEvolutionStrategy(x0, 0.15 if restart % 2 else 0.3, {
            "bounds": [0, 1], "popsize": popsize, "seed": int(rng.integers(1, 2 ** 31)),
            "verbose": -9, "tolfun": 1e-9, "tolx": 1e-7})
        while not es.stop() and scorer.left >= popsize:
            xs = es.ask()
            es.tell(xs, scorer.merit(*decode(scorer.ev, np.asarray(xs))).tolist())
        popsize *= 2
    if scorer.left > 0:
        _random(scorer, rng)


def _gradient(scorer: Budgeted, rng: np.random.Generator) -> None:
    """Thin multistarts and quarter-wave stacks, improved by ``gradient_search``."""
    ev = scorer.ev
    starts = max(1, min(8, scorer.budget // (GRADIENT_COST * 100)))
    n_qw = starts // 2 if starts > 1 else int(rng.integers(0, 2))
    mats, d = _thin_starts(ev, starts, rng)
    mats[:n_qw], d[:n_qw] = _quarter_wave_starts(ev, n_qw, rng)
    gradient_search(scorer, mats, d, rng)


def starts(ev: Evaluator, n: int, rng: np.random.Generator):
    """(mats_BxL, d_BxL) of ``n`` starts: quarter-wave stacks and thin multistarts in turn."""
    n_qw = (n + 1) // 2
    mats, d = _thin_starts(ev, n, rng)
    mats[:n_qw], d[:n_qw] = _quarter_wave_starts(ev, n_qw, rng)
    return mats, d


def gradient_search(scorer: Budgeted, mats_BxL: np.ndarray, d_BxL: np.ndarray, rng: np.random.Generator) -> None:
    """Adam from the given designs, then the best grown by needles and refined again
    (Tikhonravov's needle method, simplified), until the budget is spent; at the layer limit,
    perturbed restarts of the best design. The scorer keeps the best design seen."""

    steps = max(1, min(40, (scorer.left // 3) // (GRADIENT_COST * len(mats_BxL))))
    adam_refine(scorer, mats_BxL, d_BxL, steps)
    rank = 0  # after a needle that did not help, try the next-best candidate
    while scorer.left >= GRADIENT_COST:
        before = scorer.best.merit
        grown = needle_insert(scorer, scorer.best.mats_L[None], scorer.best.d_L[None], rank)
        if grown is None:
            grown = _perturb(scorer.ev, scorer.best, rng)
        adam_refine(scorer, *grown, max(1, min(60, scorer.left // (GRADIENT_COST * 2))))
        rank = 0 if scorer.best.merit < before - 1e-9 else rank + 1


def _thin_starts(ev: Evaluator, n: int, rng: np.random.Generator):
    """Designs of one to three layers of random materials and moderate thicknesses."""
    lo, hi = ev.goal.thickness_nm
    mats = np.zeros((n, ev.n_layers), np.int32)
    d = np.zeros((n, ev.n_layers))
    for b in range(n):
        k = int(rng.integers(1, min(3, ev.goal.max_layers) + 1))
        mats[b, :k] = rng.integers(0, len(ev.goal.materials), k)
        d[b, :k] = rng.uniform(*_moderate(lo, hi), k)
    return mats, np.clip(d, 0, hi)


def _moderate(lo: float, hi: float) -> tuple[float, float]:
    """20-200 nm cut to the goal's thickness range [lo, hi]; the whole range where they miss."""
    a, b = max(lo, 20.0), min(hi, 200.0)
    return (a, b) if a <= b else (lo, hi)


def _quarter_wave_starts(ev: Evaluator, n: int, rng: np.random.Generator):
    """Alternating highest/lowest-index quarter-wave stacks at random reference wavelengths in
    the goal's range: the classical starting point of a coating designer."""
    goal, L = ev.goal, ev.goal.max_layers
    wl = ev.wavelength_W
    lo, hi = goal.thickness_nm
    angle = np.radians(np.mean([t.angle_deg for t in goal.targets]))
    mats = np.zeros((n, ev.n_layers), np.int32)
    d = np.zeros((n, ev.n_layers))
    for b in range(n):
        w = int(rng.integers(0, len(wl)))
        n_mat = np.real(ev.nk_MxW[3:, w])  # rows after incident, substrate, exit
        beta = np.real(ev.nk_MxW[0, w]) * np.sin(angle)
        pair = (int(np.argmax(n_mat)), int(np.argmin(n_mat)))
        k = int(rng.integers(max(1, L // 2), L + 1))
        first = int(rng.integers(0, 2))
        order = np.array([pair[(first + i) % 2] for i in range(k)])
        kz = np.sqrt(np.maximum(n_mat[order] ** 2 - beta ** 2, 1e-6))
        mats[b, :k], d[b, :k] = order, np.clip(wl[w] / (4 * kz), lo, hi)
    return _repair(goal, mats, d)


def _perturb(ev: Evaluator, best: Result, rng: np.random.Generator):
    """The best design with thicknesses jittered by up to 20 %, kept within bounds."""
    lo, hi = ev.goal.thickness_nm
    d = best.d_L * rng.uniform(0.8, 1.2, best.d_L.shape)
    d = np.where(best.d_L > 0, np.clip(d, lo, hi), 0.0)
    return _repair(ev.goal, best.mats_L[None], d[None])


_RUNNERS = {"random": _random, "de": _de, "cmaes": _cmaes, "gradient": _gradient}
