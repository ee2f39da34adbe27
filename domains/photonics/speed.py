"""Speed of the transfer-matrix solver against tmmax and tmm on one shared batch.

What is measured: N random designs of L layers (thicknesses 10-300 nm, materials drawn from
dispersive library oxides and fluorides) between air and an N-BK7 substrate, each solved at W
wavelengths evenly spaced over 400-800 nm for three spectra: normal incidence (s only, since s and
p coincide there), 45 deg s and 45 deg p. All three solvers see the same complex indices, computed
once from the material library on the benchmark grid.

  ours   ``solver.coherent_jit``, once at 0 deg with pols ("s",), once at 45 deg with ("s", "p").
  tmmax  its jitted ``vectorized_coh_tmm``, vmapped and jitted over the designs, fed an nk table
         sampled on the benchmark grid (so its interpolation returns our values): 0 and 45 deg s,
         then 45 deg p. tmmax only runs with 64-bit JAX off, so it runs in 32-bit mode (its
         design; it computes in complex64). tmmax 1.1.4 multiplies its layer matrices wrongly
         (see ``_coh_matmul_fixed``), so it is also timed as "tmmax_fixed", with that one step
         corrected; the tmmax target is judged against the faster of the two.
  tmm    ``tmm.coh_tmm`` in a Python loop over a subsample of designs, scaled up to the batch.

The JAX solvers are called once to compile, then timed over ``--repeats`` runs (best and median,
each ended by ``jax.block_until_ready``); compile time is the first call less the median run.
Rates and speed-ups use median times.

Evaluations are counted as designs x layers x wavelengths x spectra (3 spectra): one evaluation is
one layer at one wavelength for one angle and polarization.

Run as ``python -m domains.photonics.speed [--designs 1024] [--layers 16] [--wavelengths 128]
[--tmm-sample 16] [--repeats 5] [--json]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import statistics
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from rich.console import Console
from rich.table import Table

from domains.photonics import solver
from domains.photonics.materials import library

LAYER_MATERIALS = ("SiO2", "TiO2", "Ta2O5", "HfO2", "MgF2", "Nb2O5", "Al2O3")
INCIDENT, SUBSTRATE = "air", "N-BK7"
WAVELENGTH_NM = (400.0, 800.0)
THICKNESS_NM = (10.0, 300.0)
ANGLE_DEG = 45.0
SPECTRA = (("s", 0.0), ("s", ANGLE_DEG), ("p", ANGLE_DEG))  # (polarization, angle [deg])
TARGETS = {"speedup_vs_tmmax": 2.0, "speedup_vs_tmm": 300.0, "ours_evals_per_s": 1e8}


@dataclass(frozen=True)
class Batch:
    """The benchmark batch; materials are indices into ``nk_MxW`` (layers first, then media)."""

    wavelength_W: np.ndarray  # [nm]
    nk_MxW: np.ndarray
    mats_BxL: np.ndarray
    d_BxL: np.ndarray  # [nm]
    inc: int
    sub: int

    @property
    def evaluations(self) -> int:
        """Layer-wavelength evaluations in the batch: designs x layers x wavelengths x spectra."""
        return self.d_BxL.size * self.wavelength_W.size * len(SPECTRA)


def make_batch(designs: int, layers: int, wavelengths: int, seed: int = 0) -> Batch:
    """Seeded random designs, with nk of every material computed once from the library."""
    rng = np.random.default_rng(seed)
    wl = np.linspace(*WAVELENGTH_NM, wavelengths)
    names = (*LAYER_MATERIALS, INCIDENT, SUBSTRATE)
    nk = np.stack([library()[name].nk(wl) for name in names])
    mats = rng.integers(0, len(LAYER_MATERIALS), (designs, layers)).astype(np.int32)
    d = rng.uniform(*THICKNESS_NM, (designs, layers))
    return Batch(wl, nk, mats, d, names.index(INCIDENT), names.index(SUBSTRATE))


def time_calls(fn: Callable[[], object], repeats: int, warm_up: bool = True) -> tuple[object, dict]:
    """Result of ``fn`` and its timings: best, median and (when warmed up) compile seconds."""
    first = None
    if warm_up:
        start = time.perf_counter()
        jax.block_until_ready(fn())
        first = time.perf_counter() - start
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    compile_s = None if first is None else max(first - median, 0.0)
    return out, {"best_s": min(times), "median_s": median, "compile_s": compile_s}


def ours(batch: Batch) -> Callable[[], tuple]:
    """A call of our solver on the batch: R at 0 deg (s) and at 45 deg (s, p)."""
    B = batch.d_BxL.shape[0]
    common = (jnp.asarray(batch.nk_MxW), jnp.asarray(batch.wavelength_W))
    stack = (batch.inc, jnp.asarray(batch.mats_BxL), jnp.asarray(batch.d_BxL),
             jnp.full(B, batch.sub, jnp.int32))
    sin0, sin45 = jnp.zeros(1), jnp.asarray([math.sin(math.radians(ANGLE_DEG))])

    def run():
        r0, _ = solver.coherent_jit(*common, sin0, *stack, pols=("s",))
        r45, _ = solver.coherent_jit(*common, sin45, *stack, pols=("s", "p"))
        return r0, r45
    return run


def ours_spectra(out: tuple) -> np.ndarray:
    """Our R as B x spectra x W, spectra in the order of ``SPECTRA``."""
    r0, r45 = (np.asarray(r) for r in out)
    return np.concatenate([r0[:, 0], r45[:, 0]], axis=1)


def tmmax_data(batch: Batch) -> np.ndarray:
    """tmmax's nk table (materials, [wavelength m, n, k], W) holding our values on our grid."""
    wl_m = np.broadcast_to(batch.wavelength_W * 1e-9, batch.nk_MxW.shape)
    return np.stack([wl_m, batch.nk_MxW.real, batch.nk_MxW.imag], axis=1).astype(np.float32)


def tmmax(batch: Batch, fixed: bool = False) -> Callable[[], tuple]:
    """A call of tmmax on the batch: R at 0 and 45 deg (s), then at 45 deg (p).

    tmmax fails to trace with 64-bit JAX (its scan carry is complex64 while its constants promote
    to complex128), and our solver turns 64-bit mode on, so tmmax runs, as it was written to, in
    32-bit mode: ``jax.enable_x64(False)`` around each call, with float32 inputs. Its polarization
    must be a shape-(1,) bool array ([False] s, [True] p); a scalar silently gives NaN.
    With ``fixed``, tmmax's layer step is replaced by ``_coh_matmul_fixed`` (see there).
    """
    from tmmax import cascaded_matmul  # tmmax and tmm are the [test] extra's oracles, not dependencies
    from tmmax.tmm import vectorized_coh_tmm  # (see cascaded_matmul)

    args = _tmmax_inputs(batch)
    # The unjitted function, so the fixed trace never shares tmmax's own jit cache.
    fn = vectorized_coh_tmm.__wrapped__ if fixed else vectorized_coh_tmm
    over_designs = jax.jit(jax.vmap(fn, in_axes=(None, 0, 0, None, None, None)))
    calls = ((np.radians([0.0, ANGLE_DEG]), [False]), (np.radians([ANGLE_DEG]), [True]))

    def run():
        with jax.enable_x64(False), _swapped(cascaded_matmul, "coh_matmul",
                                             _coh_matmul_fixed if fixed else None):
            return tuple(over_designs(*args, jnp.asarray(angles, jnp.float32), jnp.asarray(pol))[0]
                         for angles, pol in calls)
    return run


def _tmmax_inputs(batch: Batch) -> tuple:
    """tmmax's data table, material distributions, thicknesses [m] and wavelengths [m] (32-bit)."""
    B = batch.d_BxL.shape[0]
    media = np.full((B, 1), batch.inc), np.full((B, 1), batch.sub)
    dist = np.concatenate([media[0], batch.mats_BxL, media[1]], axis=1).astype(np.int32)
    with jax.enable_x64(False):
        return tuple(jnp.asarray(a) for a in (
            tmmax_data(batch), dist, (batch.d_BxL * 1e-9).astype(np.float32),
            (batch.wavelength_W * 1e-9).astype(np.float32)))


@contextlib.contextmanager
def _swapped(module, name: str, replacement):
    """Temporarily replace ``module.name`` (no-op when ``replacement`` is None)."""
    original = getattr(module, name)
    setattr(module, name, replacement or original)
    try:
        yield
    finally:
        setattr(module, name, original)


def _coh_matmul_fixed(carry, phase_r_t):
    """tmmax 1.1.4's ``coh_matmul`` with its one bug fixed: the layer matrix is made 2x2.

    tmmax builds the layer matrix from shape-(1,) entries, so it is 2x2x1, and
    ``matmul(carry, M)`` then broadcasts to ``M @ carry.T`` instead of ``carry @ M``; every
    stack of two or more layers comes out wrong (the first layer's phase even cancels).
    """
    phase, r, t = phase_r_t[0], phase_r_t[1], phase_r_t[2]
    e_minus, e_plus = jnp.exp(-1j * phase), jnp.exp(1j * phase)
    layer = jnp.array([[e_minus, r * e_minus], [r * e_plus, e_plus]]) / t
    result = jnp.matmul(carry, layer.astype(carry.dtype))
    return result, result


def tmmax_spectra(out: tuple) -> np.ndarray:
    """tmmax's R as B x spectra x W, spectra in the order of ``SPECTRA``."""
    return np.concatenate([np.asarray(r) for r in out], axis=1).astype(np.float64)


def tmm_loop(batch: Batch, sample: int) -> Callable[[], np.ndarray]:
    """A pure-Python tmm run over the first ``sample`` designs: R as sample x spectra x W."""
    import tmm  # the [test] extra's oracle, not a dependency

    def design(b: int) -> np.ndarray:
        idx = [batch.inc, *batch.mats_BxL[b], batch.sub]
        d_list = [np.inf, *batch.d_BxL[b], np.inf]
        return np.array([[tmm.coh_tmm(pol, batch.nk_MxW[idx, w], d_list, math.radians(angle),
                                      lam)["R"]
                          for w, lam in enumerate(batch.wavelength_W)]
                         for pol, angle in SPECTRA])

    return lambda: np.stack([design(b) for b in range(sample)])


def measure(batch: Batch, tmm_sample: int, repeats: int) -> dict:
    """Timings of each solver on the batch (tmm scaled up), with max |dR| from ours."""
    runs = {"ours": ours(batch), "tmmax": tmmax(batch), "tmmax_fixed": tmmax(batch, fixed=True),
            "tmm": tmm_loop(batch, tmm_sample)}
    spectra = {"ours": ours_spectra, "tmmax": tmmax_spectra, "tmmax_fixed": tmmax_spectra,
               "tmm": np.asarray}
    timings = {}
    for name, run in runs.items():
        out, timings[name] = time_calls(run, repeats, warm_up=name != "tmm")
        r = spectra[name](out)
        if name == "ours":
            r_ours = r
        else:
            timings[name]["max_abs_dR"] = float(np.max(np.abs(r - r_ours[:len(r)])))
    scale = batch.d_BxL.shape[0] / tmm_sample
    timings["tmm"].update(best_s=timings["tmm"]["best_s"] * scale, scale=scale,
                          median_s=timings["tmm"]["median_s"] * scale,
                          scaled_from_designs=tmm_sample)
    return timings


def summarize(batch: Batch, timings: dict) -> dict:
    """Rates, speed-ups of ours and the targets (each with whether it is met) from timings.

    The tmmax target is judged against the faster of tmmax as shipped and tmmax fixed.
    """
    ours_s = timings["ours"]["median_s"]
    for t in timings.values():
        t["evals_per_s"] = batch.evaluations / t["median_s"]
        t["ours_speedup"] = t["median_s"] / ours_s
    tmmax_s = min(timings[k]["median_s"] for k in ("tmmax", "tmmax_fixed"))
    value = {"speedup_vs_tmmax": tmmax_s / ours_s,
             "speedup_vs_tmm": timings["tmm"]["ours_speedup"],
             "ours_evals_per_s": timings["ours"]["evals_per_s"]}
    targets = {k: {"target": t, "value": value[k], "met": bool(value[k] >= t)}
               for k, t in TARGETS.items()}
    B, L = batch.d_BxL.shape
    size = {"designs": B, "layers": L, "wavelengths": batch.wavelength_W.size,
            "spectra": [f"{a:g} deg {p}" for p, a in SPECTRA], "evaluations": batch.evaluations}
    return {"batch": size, "solvers": timings, "targets": targets}


def render(report: dict) -> None:
    """Print the report as rich tables."""
    console = Console()
    if not console.is_terminal:
        console = Console(width=110)
    console.print(_solvers_table(report))
    console.print(_targets_table(report))
    tmm = report["solvers"]["tmm"]
    console.print(f"tmm was timed on {tmm['scaled_from_designs']} designs (all wavelengths and "
                  f"spectra) and its times scaled x{tmm['scale']:g} to the batch; its max |dR| "
                  "is over those designs. tmmax_fixed is tmmax with _coh_matmul_fixed.")


def _solvers_table(report: dict):
    size = report["batch"]
    table = Table(title=f"{size['designs']} designs x {size['layers']} layers x "
                  f"{size['wavelengths']} wavelengths x {len(size['spectra'])} spectra "
                  f"({', '.join(size['spectra'])}) = {size['evaluations']:,} evaluations; "
                  "rates from median times")
    for col in ("solver", "compile s", "best s", "median s", "evals/s", "ours faster by",
                "max |dR| vs ours"):
        table.add_column(col, justify="left" if col == "solver" else "right")
    for name, t in report["solvers"].items():
        compile_s = "-" if t["compile_s"] is None else f"{t['compile_s']:.2f}"
        dr = f"{t['max_abs_dR']:.2e}" if "max_abs_dR" in t else "-"
        label = f"{name} (scaled)" if "scale" in t else name
        table.add_row(label, compile_s, f"{t['best_s']:.4g}", f"{t['median_s']:.4g}",
                      f"{t['evals_per_s']:.3g}", f"{t['ours_speedup']:.3g}x", dr)
    return table


def _targets_table(report: dict):
    table = Table(title="targets (median times; tmmax: the faster of shipped and fixed)")
    for col in ("measure", "target", "measured", "met"):
        table.add_column(col)
    for name, t in report["targets"].items():
        table.add_row(name, f">= {t['target']:g}", f"{t['value']:.3g}",
                      "[green]yes[/green]" if t["met"] else "[red]no[/red]")
    return table


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options; sizes must be positive and the tmm sample at most the batch."""
    parser = argparse.ArgumentParser(prog="python -m domains.photonics.speed",
                                     description=__doc__.split("\n\n")[0])
    for flag, default in (("designs", 1024), ("layers", 16), ("wavelengths", 128),
                          ("tmm-sample", 16), ("repeats", 5)):
        parser.add_argument(f"--{flag}", type=int, default=default)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    if min(args.designs, args.layers, args.wavelengths, args.tmm_sample, args.repeats) < 1:
        parser.error("--designs, --layers, --wavelengths, --tmm-sample and --repeats must be >= 1")
    if args.tmm_sample > args.designs:
        parser.error(f"--tmm-sample {args.tmm_sample} exceeds --designs {args.designs}")
    return args


def main(argv: Sequence[str] | None = None) -> dict:
    """Run the benchmark, print a table (or JSON with ``--json``) and return the report."""
    args = parse_args(argv)
    start = time.perf_counter()
    batch = make_batch(args.designs, args.layers, args.wavelengths, args.seed)
    report = summarize(batch, measure(batch, args.tmm_sample, args.repeats))
    report["total_s"] = time.perf_counter() - start
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        render(report)
        print(f"whole run: {report['total_s']:.1f} s")
    return report


if __name__ == "__main__":
    main()
