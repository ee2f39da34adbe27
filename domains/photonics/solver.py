"""Transfer-matrix solver: R, T and A of batches of thin-film stacks, in JAX.

Shape legend: B designs, L layers (padded), M materials in the batch's index table,
A angles, P polarizations, W wavelengths.

Formulation (characteristic matrices, H. A. Macleod, Thin-Film Optical Filters, ch. 2, with the
sign of i flipped for the N = n + ik convention): with
kz = sqrt(N^2 - beta^2) the normal wavevector in units of 2*pi/lambda (beta = N_inc sin(theta)
is conserved across the stack), the tilted admittances are eta_s = kz and eta_p = N^2 / kz, a
layer of thickness d has phase delta = 2*pi*kz*d/lambda and

    [B; C] = prod_j [[cos d_j, -i sin d_j / eta_j], [-i eta_j sin d_j, cos d_j]] [1; eta_sub]
    r = (eta_0 B - C) / (eta_0 B + C),   T = 4 Re(eta_0) Re(eta_sub) / |eta_0 B + C|^2.

The principal square root gives the forward-wave branch for passive media (Im N >= 0): Im kz >= 0,
so evanescent and absorbed waves decay, and propagating waves have Re kz > 0.

The product is applied to the vector from the substrate side, one 2x2-by-vector step per layer.
A layer of zero thickness is exactly the identity, so padding a design with zero-thickness
layers (on the substrate side) leaves its result bit-for-bit unchanged.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

jax.config.update("jax_enable_x64", True)

POLARIZATIONS = ("s", "p")


def _tables(nk_MxW, wavelength_W, sin_A, inc):
    """Per-material quantities shared by every layer: phase rate and admittances."""
    beta_AxW = jnp.real(nk_MxW[inc])[None, :] * sin_A[:, None]
    n2_MxAxW = (nk_MxW * nk_MxW)[:, None, :]
    kz_MxAxW = jnp.sqrt(n2_MxAxW - (beta_AxW * beta_AxW)[None].astype(n2_MxAxW.dtype))
    phase_MxAxW = kz_MxAxW * (2 * jnp.pi / wavelength_W)
    eta = {"s": kz_MxAxW, "p": n2_MxAxW / kz_MxAxW}
    return kz_MxAxW, phase_MxAxW, eta


# Minimax coefficients of the fdlibm kernels __kernel_sin / __kernel_cos on |r| <= pi/4, and
# pi/2 split in three for Cody-Waite reduction (exact products k * P1 for |k| < 2^20).
_SIN = (-1.66666666666666324348e-01, 8.33333333332248946124e-03, -1.98412698298579493134e-04,
        2.75573137070700676789e-06, -2.50507602534068634195e-08, 1.58969099521155010221e-10)
_COS = (4.16666666666666019037e-02, -1.38888888888741095749e-03, 2.48015872894767294178e-05,
        -2.75573143513906633035e-07, 2.08757232129817482790e-09, -1.13596475577881948265e-11)
_PIO2 = (1.57079632673412561417e+00, 6.07710050630396597660e-11, 2.02226624871116645580e-21)


def _horner(z, coefficients):
    acc = coefficients[-1]
    for c in coefficients[-2::-1]:
        acc = acc * z + c
    return acc


def sincos(x):
    """sin(x) and cos(x) for real float64 x, |x| < 1e6, to within 1 ulp.

    XLA's CPU sin and cos are scalar library calls, several times slower than this vectorizable
    polynomial, and they dominate the solver's cost otherwise.
    """
    k = jnp.round(x * (2 / jnp.pi))
    r = ((x - k * _PIO2[0]) - k * _PIO2[1]) - k * _PIO2[2]
    z = r * r
    s = r + r * z * _horner(z, _SIN)
    c = 1.0 - 0.5 * z + z * z * _horner(z, _COS)
    q = k.astype(jnp.int32) & 3
    sin = jnp.where(q == 0, s, jnp.where(q == 1, c, jnp.where(q == 2, -s, -c)))
    cos = jnp.where(q == 0, c, jnp.where(q == 1, -s, jnp.where(q == 2, -c, s)))
    return sin, cos


# Cap on Im(delta) of one layer, as tmm does: beyond it the layer passes less than e^-35 of the
# field amplitude, so R changes by < e^-70 relative, while exp(Im delta) would overflow past ~709.
_MAX_DECAY = 35.0


def _cos_sin(delta):
    """cos and sin of a complex phase from one exp and one real sincos."""
    a, b = jnp.real(delta), jnp.minimum(jnp.imag(delta), _MAX_DECAY)
    eb = jnp.exp(b)
    emb = 1.0 / eb
    ch, sh = 0.5 * (eb + emb), 0.5 * (eb - emb)
    sa, ca = sincos(a)
    return jax.lax.complex(ca * ch, -sa * sh), jax.lax.complex(sa * ch, ca * sh)


def _propagate(phase_MxAxW, eta, mats_BxL, d_BxL, sub_B, pols):
    """[B; C] for each polarization after the whole stack, starting from the substrate.

    A scan over layers keeps each step one fused loop over B x A x W (an unrolled loop makes XLA
    materialize every gathered table, several times slower on CPU).
    """
    # exp(-i w t) convention (N = n + ik): the off-diagonal terms carry -i.
    ieta = {p: -1j * eta[p] for p in pols}
    iinv = {p: -1j / eta[p] for p in pols}

    def step(vec, layer):
        m_B, d_B = layer
        cos_d, sin_d = _cos_sin(phase_MxAxW[m_B] * d_B[:, None, None])
        return {p: (cos_d * b + sin_d * iinv[p][m_B] * c, sin_d * ieta[p][m_B] * b + cos_d * c)
                for p, (b, c) in vec.items()}, None

    start = {p: (jnp.ones_like(eta[p][sub_B]), eta[p][sub_B]) for p in pols}
    vec, _ = jax.lax.scan(step, start, (mats_BxL.T[::-1], d_BxL.T[::-1]))
    return vec


def _rt(eta0, b, c, eta_out):
    """Power reflectance, transmittance and 1 - R from the stack vector [B; C].

    1 - R = 4 Re(eta0 B conj(C)) / |eta0 B + C|^2 is computed directly, without the cancellation
    of 1 - |r|^2 when R is within rounding of 1 (light trapped in a thick substrate).
    """
    den = eta0 * b + c
    den2 = jnp.abs(den) ** 2
    r = (eta0 * b - c) / den
    t_num = 4 * jnp.real(eta0) * jnp.real(eta_out)
    return jnp.abs(r) ** 2, t_num / den2, 4 * jnp.real(eta0 * b * jnp.conj(c)) / den2


def coherent(nk_MxW, wavelength_W, sin_A, inc, mats_BxL, d_BxL, sub_B, pols=POLARIZATIONS):
    """R and T of coherent stacks on semi-infinite substrates.

    Args:
        nk_MxW: complex index of each material in the batch at each wavelength.
        wavelength_W: vacuum wavelengths [nm].
        sin_A: sine of each incidence angle, in the incident medium.
        inc: index (into nk_MxW) of the incident medium, shared by the batch; it must be lossless.
        mats_BxL: material index of each layer, listed from the incident side.
        d_BxL: thickness of each layer [nm]; padding layers have thickness 0.
        sub_B: material index of each design's substrate.
        pols: polarizations to compute, a static tuple drawn from ("s", "p").

    Returns:
        (R_BxAxPxW, T_BxAxPxW).
    """
    _, phase, eta = _tables(nk_MxW, wavelength_W, sin_A, inc)
    vec = _propagate(phase, eta, mats_BxL, d_BxL, sub_B, pols)
    out = [_rt(eta[p][inc][None], *vec[p], eta[p][sub_B])[:2] for p in pols]
    return jnp.stack([o[0] for o in out], axis=2), jnp.stack([o[1] for o in out], axis=2)


def incoherent(nk_MxW, wavelength_W, sin_A, inc, mats_BxL, d_BxL, sub_B, sub_mm_B, exit_B,
               pols=POLARIZATIONS):
    """R and T of coherent stacks on thick substrates treated incoherently.

    The substrate (thickness ``sub_mm_B`` [mm]) has an uncoated back surface into ``exit_B``.
    Intensities add: R = R1 + T1 T1' R2 P^2 / (1 - R1' R2 P^2), T = T1 T2 P / (1 - R1' R2 P^2),
    with primes for light meeting the coating from the substrate side and P the single-pass
    attenuation exp(-4 pi Im(kz) d / lambda) of the substrate.
    """
    kz, phase, eta = _tables(nk_MxW, wavelength_W, sin_A, inc)
    front = _propagate(phase, eta, mats_BxL, d_BxL, sub_B, pols)
    back = _propagate(phase, eta, mats_BxL[:, ::-1], d_BxL[:, ::-1],
                      jnp.full_like(sub_B, inc), pols)
    alpha = 2 * jnp.pi * jnp.imag(kz[sub_B]) * (sub_mm_B * 1e6)[:, None, None] / wavelength_W
    atten = jnp.exp(-2 * alpha)
    r_out, t_out = [], []
    for p in pols:
        e_inc, e_sub, e_exit = eta[p][inc][None], eta[p][sub_B], eta[p][exit_B]
        r1, t1, _ = _rt(e_inc, *front[p], e_sub)
        r1b, t1b, leak1b = _rt(e_sub, *back[p], e_inc)
        r2, t2, leak2 = _rt(e_sub, jnp.ones_like(e_exit), e_exit, e_exit)
        # 1 - R1' R2 P^2 as a sum of non-negative terms: exact when light is trapped (R1', R2 ~ 1).
        loop = leak1b + r1b * (leak2 - r2 * jnp.expm1(-4 * alpha))
        safe = jnp.where(loop > 0, loop, 1.0)  # loop = 0 only if nothing enters the substrate
        r_out.append(r1 + jnp.where(loop > 0, t1 * t1b * r2 * atten ** 2 / safe, 0.0))
        t_out.append(jnp.where(loop > 0, t1 * t2 * atten / safe, 0.0))
    return jnp.stack(r_out, axis=2), jnp.stack(t_out, axis=2)


coherent_jit = jax.jit(coherent, static_argnames=("pols",))
incoherent_jit = jax.jit(incoherent, static_argnames=("pols",))


# --- amplitudes and fields (the designer's analyses: phase, group delay, field profile) ---------

def amplitudes(nk_MxW, wavelength_W, sin_A, inc, mats_BxL, d_BxL, sub_B, pols=POLARIZATIONS):
    """Complex amplitude coefficients r and t of coherent stacks on semi-infinite substrates.

    Both refer to the tangential field components (Macleod's convention): r = (eta_0 B - C) /
    (eta_0 B + C) is the reflected over the incident tangential E at the front surface and
    t = 2 eta_0 / (eta_0 B + C) the tangential E just inside the substrate over the incident one,
    so r_p = r_s and t_p = t_s at normal incidence. In the Born & Wolf convention of tmm, whose p
    amplitudes are of the whole field vector, r_p(tmm) = -r_p and t_p(tmm) = t_p cos(theta_0) /
    cos(theta_sub); s amplitudes agree. Time dependence exp(-i w t), as everywhere in the solver.

    Args and shapes as ``coherent``.

    Returns:
        (r_BxAxPxW, t_BxAxPxW, T_BxAxPxW) with T the power transmittance.
    """
    _, phase, eta = _tables(nk_MxW, wavelength_W, sin_A, inc)
    vec = _propagate(phase, eta, mats_BxL, d_BxL, sub_B, pols)
    r_out, t_out, T_out = [], [], []
    for p in pols:
        e0, (b, c) = eta[p][inc][None], vec[p]
        den = e0 * b + c
        r_out.append((e0 * b - c) / den)
        t_out.append(2 * e0 / den)
        T_out.append(_rt(e0, b, c, eta[p][sub_B])[1])
    return tuple(jnp.stack(q, axis=2) for q in (r_out, t_out, T_out))


def interface_fields(nk_MxW, wavelength_W, sin_A, inc, mats_BxL, d_BxL, sub_B, pol):
    """Tangential E and H at every interface of coherent stacks, for unit tangential E in the substrate.

    H is in units of the free-space admittance, so H = eta E for a forward wave.

    Returns:
        (E_KxBxAxW, H_KxBxAxW) with K = L + 1: index l is the front of layer l (0: the front
        surface), index L the substrate side of the last interface.
    """
    _, phase, eta = _tables(nk_MxW, wavelength_W, sin_A, inc)
    e = eta[pol]

    def step(vec, layer):
        m_B, d_B = layer
        cos_d, sin_d = _cos_sin(phase[m_B] * d_B[:, None, None])
        b, c = vec
        new = (cos_d * b - 1j * sin_d / e[m_B] * c, -1j * sin_d * e[m_B] * b + cos_d * c)
        return new, new

    start = (jnp.ones_like(e[sub_B]), e[sub_B])
    _, (b_L, c_L) = jax.lax.scan(step, start, (mats_BxL.T[::-1], d_BxL.T[::-1]))
    return (jnp.concatenate([b_L[::-1], start[0][None]]), jnp.concatenate([c_L[::-1], start[1][None]]))
