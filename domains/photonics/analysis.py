"""The designer's analyses of one design: phase, group delay and dispersion, and the field profile.

Shape legend: M materials in the batch's index table, L layers (padded), K = L + 1 interfaces,
W wavelengths, Z depth samples.

Conventions (those of the solver): N = n + ik, fields vary as exp(i(kz - wt)); the amplitudes r
and t are of the tangential field components (Macleod's), so s and p agree at normal incidence.
The reflection phase is referred to the front surface of the coating; the transmission phase
compares the tangential E just inside the substrate with the incident one at the front surface
(so it includes the delay of crossing the coating, not of any incident medium it replaces).

Group delay GD = dphi/dw and group delay dispersion GDD = d2phi/dw2, w the angular frequency.
With exp(-iwt) a delay tau multiplies the field by exp(+iw tau), so GD > 0 means the light is
delayed. In the exp(+iwt) convention of Macleod's book and Essential Macleod (N = n - ik) every
phase has the opposite sign and GD = -dphi/dw there: the delays (GD, GDD) are the same numbers,
the phases are negated. tmm uses exp(-iwt) as here, but its p amplitudes are of the whole field
vector (Born & Wolf): r_p(tmm) = -r_p, a 180 degree shift of the p reflection phase.

The derivatives are exact (forward-mode autodiff of the solver with respect to w, all
wavelengths in one batch, compiled once) given the material's dn/dw and d2n/dw2, which come
from the material's own formula by a three-point stencil in w (relative step 1e-3; for a
tabulated material at least the local spacing of its table, whose linear interpolation has no
second derivative of its own; one-sided at the ends of its data). Any wavelength grid works,
a single wavelength included.

A thick substrate (``substrate_thickness_mm``) is treated here as semi-infinite: its back surface
adds intensities only, no phase, so r, t, R, T and the field in the coating are those of the
coating on the semi-infinite substrate.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from domains.photonics import solver, spectra
from domains.photonics.design import Design
from domains.photonics.materials import Material
from specialist.errors import InputError

C_NM_PER_FS = 299.792458  # speed of light [nm/fs]
REL_STEP = 1e-3  # relative step in w of the material-derivative stencil
UNDEFINED = 1e-100  # |r| or |t| below this: the phase (and its derivatives) is undefined
PAD_NM = 100.0  # depth of incident medium and substrate shown on either side of the coating
MAX_SAMPLES = 1_000_000

# Stencil weights by offset a (nodes w0 + h (a, a+1, a+2)): first derivative, times h.
_D1 = {-1: (-0.5, 0.0, 0.5), 0: (-1.5, 2.0, -0.5), -2: (0.5, -2.0, 1.5)}


def omega(wavelength_nm: np.ndarray) -> np.ndarray:
    """Angular frequency [rad/fs] of vacuum wavelengths [nm]."""
    return 2 * np.pi * C_NM_PER_FS / np.asarray(wavelength_nm, dtype=np.float64)


def _step(m: Material, w_W: np.ndarray) -> np.ndarray:
    """Stencil step in w: relative 1e-3, at least a tabulated material's local knot spacing."""
    rel_W = np.full(w_W.shape, REL_STEP)
    if m.model.get("kind") == "table":
        knots = np.asarray(m.model["wavelength_nm"], dtype=np.float64)
        spacing = np.diff(knots) / knots[:-1]
        wl_W = omega(w_W)  # 2 pi c / x is its own inverse: the wavelength [nm] of w
        rel_W = np.maximum(rel_W, np.interp(wl_W, (knots[:-1] + knots[1:]) / 2, spacing))
    return rel_W * w_W


def material_derivatives(mats: tuple[Material, ...], wavelength_W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """dN/dw [fs] and d2N/dw2 [fs^2] of each material at each wavelength (each M x W, complex).

    A three-point stencil in w on the material's own formula: centred, or one-sided where a
    centred one would leave the material's data (its second derivative is then first order).
    """
    w_W = omega(wavelength_W)
    d1, d2 = [], []
    for m in mats:
        h_W = _step(m, w_W)
        lo, hi = m.valid_nm
        a_W = np.where(omega(w_W - h_W) > hi, 0, np.where(omega(w_W + h_W) < lo, -2, -1))
        f_3xW = np.stack([m.nk(omega(w_W + (a_W + j) * h_W)) for j in range(3)])
        weights_3xW = np.stack([np.choose(a_W + 2, [_D1[-2][j], _D1[-1][j], _D1[0][j]]) for j in range(3)])
        d1.append((weights_3xW * f_3xW).sum(0) / h_W)
        d2.append((f_3xW[0] - 2 * f_3xW[1] + f_3xW[2]) / h_W ** 2)
    return np.stack(d1), np.stack(d2)


@partial(jax.jit, static_argnames=("pol",))
def _phase_core(nk_MxW, dn_MxW, d2n_MxW, w_W, sin_A, inc, mats_BxL, d_BxL, sub_B, pol):
    """(r, t, T) stacked (3 x B x A x 1 x W) and their first and second derivatives in w."""
    def amp(x_W):
        dx_W = x_W - w_W  # zero at the primal point: the index and its first two derivatives
        nk = nk_MxW + dn_MxW * dx_W + 0.5 * d2n_MxW * dx_W * dx_W
        r, t, T = solver.amplitudes(nk, 2 * jnp.pi * C_NM_PER_FS / x_W, sin_A, inc, mats_BxL, d_BxL,
                                    sub_B, (pol,))
        return jnp.stack([r, t, T.astype(r.dtype)])

    ones = jnp.ones_like(w_W)
    (f0, f1), (_, f2) = jax.jvp(lambda x: jax.jvp(amp, (x,), (ones,)), (w_W,), (ones,))
    return f0, f1, f2


def _packed(d: Design, wavelength_W: np.ndarray, source: str) -> spectra.Packed:
    """The design as solver arrays; an absorbing incident medium is refused (r is referred to it)."""
    packed = spectra.pack([d], wavelength_W, sources=[source])
    k_W = packed.nk_MxW[packed.inc].imag
    if np.any(k_W > 0):
        at = float(wavelength_W[np.argmax(k_W)])
        raise InputError(source, "incident", f"'{d.incident.name}' absorbs (k > 0) at {at:g} nm; allowed: a "
                         "lossless incident medium")
    return packed


def _wrap_deg(phi: np.ndarray) -> np.ndarray:
    """Angles [rad] as degrees in (-180, 180]; within 1e-9 deg of -180 counts as 180 (a real r < 0)."""
    deg = 180.0 - np.mod(180.0 - np.degrees(phi), 360.0)
    return np.where(deg <= -180.0 + 1e-9, deg + 360.0, deg)


def phase(d: Design, wavelength_W: np.ndarray, angle_deg: float = 0.0, pol: str = "s",
          source: str = "design") -> dict[str, np.ndarray]:
    """Phase, group delay and group delay dispersion of reflection and transmission.

    Returns:
        Arrays over the wavelengths: R, T, r and t (complex amplitudes), r_phase_deg,
        t_phase_deg (wrapped to (-180, 180]), r_gd_fs, t_gd_fs, r_gdd_fs2, t_gdd_fs2. Where
        |r| or |t| vanishes (below 1e-100) its phase is undefined: NaN there.
    """
    wl = np.asarray(wavelength_W, dtype=np.float64)
    packed = _packed(d, wl, source)
    dn, d2n = material_derivatives(packed.materials, wl)
    sin_A = np.sin(np.radians([angle_deg]))
    f0, f1, f2 = (np.asarray(f)[:, 0, 0, 0] for f in _phase_core(
        packed.nk_MxW, dn, d2n, omega(wl), sin_A, packed.inc, packed.mats_BxL, packed.d_BxL,
        packed.sub_B, pol))
    out = {"R": np.abs(f0[0]) ** 2, "T": f0[2].real, "r": f0[0], "t": f0[1]}
    for i, q in enumerate("rt"):
        ok = np.abs(f0[i]) > UNDEFINED
        safe = np.where(ok, f0[i], 1.0)
        g1 = f1[i] / safe
        out[f"{q}_phase_deg"] = np.where(ok, _wrap_deg(np.angle(safe)), np.nan)
        out[f"{q}_gd_fs"] = np.where(ok, g1.imag, np.nan)
        out[f"{q}_gdd_fs2"] = np.where(ok, (f2[i] / safe - g1 * g1).imag, np.nan)
    return out


@partial(jax.jit, static_argnames=("pol",))
def _field_core(nk_MxW, wavelength_W, sin_A, inc, mats_BxL, d_BxL, sub_B, pol, medium_Z, iface_Z, dist_Z,
                in_sub_Z):
    """(|E|^2 / |E0+|^2 at the depth samples, r, T) of one design at one angle and wavelength.

    A sample in medium m takes the fields of interface ``iface`` (the back of its layer; the front
    surface for the incident medium) through a slab of m of thickness ``dist``; in the substrate
    only the forward wave travels, ``dist`` beyond the last interface.
    """
    E_K, H_K = (f[:, 0, 0, 0] for f in solver.interface_fields(nk_MxW, wavelength_W, sin_A, inc, mats_BxL,
                                                                 d_BxL, sub_B, pol))
    kz_MxAxW, phase_MxAxW, eta = solver._tables(nk_MxW, wavelength_W, sin_A, inc)
    eta_M, phase_M, nk_M = eta[pol][:, 0, 0], phase_MxAxW[:, 0, 0], nk_MxW[:, 0]
    cos_Z, sin_Z = solver._cos_sin(phase_M[medium_Z] * dist_Z)
    e_Z, E_i, H_i = eta_M[medium_Z], E_K[iface_Z], H_K[iface_Z]
    sub = sub_B[0]
    forward_Z = jnp.exp(1j * phase_M[sub] * dist_Z)  # exp(-i w t): a forward wave grows as exp(+ikz z)
    E_Z = jnp.where(in_sub_Z, forward_Z, cos_Z * E_i - 1j * sin_Z / e_Z * H_i)
    H_Z = jnp.where(in_sub_Z, eta_M[sub] * forward_Z, -1j * sin_Z * e_Z * E_i + cos_Z * H_i)
    intensity_Z = jnp.abs(E_Z) ** 2
    if pol == "p":  # the normal component: E_z = -beta H / N^2 (tangential H, normal D continuous)
        beta = jnp.real(nk_M[inc]) * sin_A[0]
        intensity_Z = intensity_Z + jnp.abs(beta * H_Z / nk_M[medium_Z] ** 2) ** 2
    e0 = eta_M[inc]
    incident_tan = (e0 * E_K[0] + H_K[0]) / (2 * e0)
    cos0 = jnp.real(kz_MxAxW[inc, 0, 0] / nk_M[inc]) if pol == "p" else 1.0
    r, t, T = solver.amplitudes(nk_MxW, wavelength_W, sin_A, inc, mats_BxL, d_BxL, sub_B, (pol,))
    return intensity_Z * cos0 ** 2 / jnp.abs(incident_tan) ** 2, r[0, 0, 0, 0], T[0, 0, 0, 0]


def depth_grid(thickness_L: np.ndarray, step_nm: float, option: str = "--step") -> np.ndarray:
    """Depths [nm] every ``step_nm`` from PAD_NM before the front surface (0) to PAD_NM into the substrate."""
    if not (np.isfinite(step_nm) and step_nm > 0):
        raise InputError(option, "", f"is {step_nm:g}; allowed: a finite step in nm > 0")
    span = float(np.sum(thickness_L)) + 2 * PAD_NM
    count = int(np.floor(span / step_nm * (1 + 1e-12))) + 1
    if count > MAX_SAMPLES:
        least = span / (MAX_SAMPLES - 1)
        scale = 10.0 ** (np.floor(np.log10(least)) - 2)
        raise InputError(option, "", f"is {step_nm:g}, which makes {count} samples across {span:g} nm; allowed: a "
                         f"step of at least {np.ceil(least / scale) * scale:.3g} nm (at most {MAX_SAMPLES} samples)")
    return -PAD_NM + step_nm * np.arange(count)


def _locate(z_Z: np.ndarray, packed: spectra.Packed, n_layers: int):
    """(medium, interface, distance, in substrate) of each depth sample; a boundary belongs to the deeper medium."""
    edges = np.concatenate([[0.0], np.cumsum(packed.d_BxL[0, :n_layers])])
    layer_Z = np.clip(np.searchsorted(edges, z_Z, side="right") - 1, 0, max(n_layers - 1, 0))
    inside_Z = (z_Z >= 0) & (z_Z < edges[-1])
    in_sub_Z = z_Z >= edges[-1]
    mats_L = packed.mats_BxL[0]
    medium_Z = np.where(inside_Z, mats_L[layer_Z], np.where(in_sub_Z, packed.sub_B[0], packed.inc))
    iface_Z = np.where(inside_Z, layer_Z + 1, np.where(in_sub_Z, packed.mats_BxL.shape[1], 0))
    back_Z = edges[np.minimum(layer_Z + 1, n_layers)]
    dist_Z = np.where(inside_Z, back_Z - z_Z, np.where(in_sub_Z, z_Z - edges[-1], -z_Z))
    return medium_Z.astype(np.int32), iface_Z.astype(np.int32), dist_Z, in_sub_Z, edges


def field(d: Design, wavelength_nm: float, angle_deg: float = 0.0, pol: str = "s", step_nm: float = 1.0,
          source: str = "design") -> dict:
    """The electric-field intensity |E(z)|^2 / |E0+|^2 through the stack (whole field vector).

    Returns:
        {"depth_nm": Z, "intensity": Z, "layers": [(material, start_nm, end_nm)...], "R", "T", "r"}:
        depth 0 is the front surface, negative in the incident medium; a sample on a boundary
        belongs to the deeper medium.
    """
    wl = np.array([float(wavelength_nm)])
    packed = _packed(d, wl, source)
    z_Z = depth_grid(packed.d_BxL[0, :len(d.layers)], step_nm)
    # Padded to a power of two (extra samples at the front surface), so a few shapes serve all grids.
    count = len(z_Z)
    z_pad = np.concatenate([z_Z, np.zeros(max(1024, 1 << (count - 1).bit_length()) - count)])
    medium, iface, dist, in_sub, edges = _locate(z_pad, packed, len(d.layers))
    intensity, r, T = _field_core(packed.nk_MxW, wl, np.sin(np.radians([angle_deg])), packed.inc, packed.mats_BxL,
                                  packed.d_BxL, packed.sub_B, pol, medium, iface, dist, in_sub)
    intensity = np.asarray(intensity)[:count]
    layers = [(m.name, float(edges[i]), float(edges[i + 1])) for i, (m, _) in enumerate(d.layers)]
    r = complex(r)
    return {"depth_nm": z_Z, "intensity": intensity, "layers": layers, "R": abs(r) ** 2,
            "T": float(T), "r": r}
