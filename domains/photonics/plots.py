"""Pictures for the photonics commands' ``--plot FILE.png`` (matplotlib, no display needed).

matplotlib is imported when a picture is drawn, never when a command merely starts.
"""

from __future__ import annotations

import numpy as np

from specialist.errors import InputError

DPI = 120


def figure(width: float = 7.5, height: float = 4.5, **grid):
    """A new figure and axes on the non-interactive backend (``grid``: more plt.subplots arguments)."""
    import matplotlib  # matplotlib loads only when a picture is drawn

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # matplotlib loads only when a picture is drawn

    return plt.subplots(figsize=(width, height), dpi=DPI, **grid)


def save(fig, path: str) -> None:
    """Write the figure as PNG and close it; a path that cannot be written is an InputError."""
    import matplotlib.pyplot as plt  # matplotlib loads only when a picture is drawn

    if not str(path).lower().endswith(".png"):
        plt.close(fig)
        raise InputError("--plot", "", f"is '{path}'; allowed: a file name ending in .png")
    try:
        fig.tight_layout()
        fig.savefig(path, format="png")
    except OSError as err:
        raise InputError("--plot", "", f"is '{path}', which cannot be written ({err.strerror}); allowed: a "
                         "file in an existing, writable folder") from None
    finally:
        plt.close(fig)


# --- spectra, angle maps and layer stacks (simulate, evaluate) -------------------------------

UNIT_LABELS = {"fraction": "fraction", "percent": "%", "dB": "dB"}
_COLORS = {"R": "tab:blue", "T": "tab:green", "A": "tab:red"}
_LINES = {"": "-", "s": "--", "p": ":"}  # average, s, p
_DB_VIEW = 100.0  # dB axes show at most this far below their top: a -300 dB floor would flatten all


def stack_label(design) -> str:
    """'7 layers TiO2/SiO2, 1.23 µm': layer count, materials in order of first use, total thickness."""
    n = len(design.layers)
    if not n:
        return "uncoated"
    names = "/".join(dict.fromkeys(m.name for m, _ in design.layers))
    total = design.total_thickness_nm
    thickness = f"{total:.0f} nm" if total < 1000 else f"{total / 1000:.3g} µm"
    return f"{n} layer{'s' if n > 1 else ''} {names}, {thickness}"


def spectrum(ax, wavelength_W, curves: dict, unit: str) -> None:
    """Curves named R, T, A (solid) or R_s, T_p, ... (s dashed, p dotted) against wavelength [nm]."""
    for name, values_W in curves.items():
        quantity, _, pol = name.partition("_")
        ax.plot(wavelength_W, values_W, color=_COLORS.get(quantity), linestyle=_LINES.get(pol, "-"),
                marker="o" if len(wavelength_W) == 1 else None, label=name)
    ax.set_xlabel("wavelength (nm)")
    ax.set_ylabel(f"{', '.join(dict.fromkeys(n.partition('_')[0] for n in curves))} ({unit})")
    if unit == "dB":
        top = ax.get_ylim()[1]
        ax.set_ylim(max(ax.get_ylim()[0], top - _DB_VIEW), top)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", ncol=3 if len(curves) > 3 else 1)


def angle_map(ax, wavelength_W, angle_A, value_AxW, label: str):
    """A value over wavelength x angle of incidence, with a colorbar labelled ``label``."""

    mesh = ax.pcolormesh(np.asarray(wavelength_W), np.asarray(angle_A), np.asarray(value_AxW),
                         shading="nearest", cmap="viridis")
    ax.figure.colorbar(mesh, ax=ax, label=label)
    ax.set_xlabel("wavelength (nm)")
    ax.set_ylabel("angle of incidence (°)")
    return mesh


def stack(ax, design) -> None:
    """The layer stack to scale: depth [nm] from the incident side down, one colour a material."""
    import matplotlib.patches as mpatches  # matplotlib loads only when a picture is drawn

    colors = {name: f"C{i % 10}" for i, name in enumerate(dict.fromkeys(m.name for m, _ in design.layers))}
    depth = 0.0
    for m, d in design.layers:
        ax.bar(0, d, bottom=depth, width=1.0, color=colors[m.name], edgecolor="white", linewidth=0.3)
        depth += d
    below = max(depth, 100.0) * 0.12  # a band standing for the semi-infinite (or thick) substrate
    ax.bar(0, below, bottom=depth, width=1.0, color="0.85", hatch="//", edgecolor="0.6")
    ax.set_ylim(depth + below, -0.04 * (depth + below))
    ax.set_xlim(-0.5, 0.5)
    ax.set_xticks([])
    ax.set_ylabel("depth from incident side (nm)")
    ax.set_title(f"{design.incident.name}\n↓", fontsize="small")
    ax.set_xlabel(design.substrate.name, fontsize="small")
    handles = [mpatches.Patch(color=c, label=n) for n, c in colors.items()]
    if handles:
        ax.legend(handles=handles, fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.12))


def spectrum_figure(path: str, wavelength_W, curves: dict, unit: str, title: str, design) -> None:
    """R, T, A against wavelength beside the design's stack, saved as PNG."""
    fig, (ax, side) = figure(9.5, 5.0, ncols=2, gridspec_kw={"width_ratios": [5, 1]})
    spectrum(ax, wavelength_W, curves, unit)
    stack(side, design)
    fig.suptitle(title, fontsize="medium")
    save(fig, path)


def angle_map_figure(path: str, wavelength_W, angle_A, maps: dict, unit: str, title: str, design) -> None:
    """One angle map per named value (e.g. R_s, R_p, R) beside the design's stack, saved as PNG."""
    fig, axes = figure(5.0 * len(maps) + 2.0, 5.0, ncols=len(maps) + 1,
                       gridspec_kw={"width_ratios": [5] * len(maps) + [1]})
    for ax, (name, value_AxW) in zip(axes, maps.items()):
        angle_map(ax, wavelength_W, angle_A, value_AxW, f"{name} ({unit})")
        ax.set_title(name)
    stack(axes[-1], design)
    fig.suptitle(title, fontsize="medium")
    save(fig, path)


def target_figure(path: str, panels: list, title: str) -> None:
    """Panels of (title, targets): each target a dict of wavelength_nm, values (the design's),
    lo and hi (the allowed region, -inf/inf where open) and label; saved as PNG."""
    fig, axes = figure(8.0, 3.2 * len(panels) + 0.8, nrows=len(panels), squeeze=False)
    for ax, (name, targets) in zip(axes[:, 0], panels):
        target_panel(ax, targets)
        ax.set_title(name, fontsize="medium")
    fig.suptitle(title, fontsize="medium")
    save(fig, path)


def target_panel(ax, targets: list) -> None:
    """The design's curve of each target, its allowed region shaded (bounds clipped to the view)."""

    finite = np.concatenate([np.ravel(t[k]) for t in targets for k in ("values", "lo", "hi")])
    finite = finite[np.isfinite(finite)]
    pad = max(0.08 * (finite.max() - finite.min()), 1e-3)
    bottom, top = finite.min() - pad, finite.max() + pad
    for i, t in enumerate(targets):
        wl = np.asarray(t["wavelength_nm"])
        lo, hi = (np.clip(np.broadcast_to(t[k], wl.shape), bottom, top) for k in ("lo", "hi"))
        ax.fill_between(wl, lo, hi, color=f"C{2 + i % 8}", alpha=0.2, label=f"allowed: {t['label']}")
        ax.plot(wl, t["values"], color="tab:blue", marker="o" if len(wl) == 1 else None,
                label="design" if i == 0 else None)
    ax.set_ylim(bottom, top)
    ax.set_xlabel("wavelength (nm)")
    ax.set_ylabel(f"{targets[0]['quantity']} (fraction)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")


# --- phase and field profile (phase, field) --------------------------------------------------

def _broken_at_wraps(values) -> "np.ndarray":
    """A wrapped phase [deg] with NaN where it jumps by more than 180 deg, so no line spans a wrap."""

    v = np.array([np.nan if x is None else x for x in values], dtype=float)
    v[1:][np.abs(np.diff(v)) > 180.0] = np.nan
    return v


def phase_figure(doc: dict, title: str, path: str) -> None:
    """Panels of phase [deg], GD [fs] and GDD [fs²] of reflection and transmission vs wavelength."""

    fig, axes = figure(8.0, 8.5, nrows=3, sharex=True)
    wl = np.asarray(doc["wavelength_nm"])
    marker = "o" if len(wl) == 1 else None
    panels = (("phase", "phase (°)"), ("gd_fs", "group delay GD (fs)"), ("gdd_fs2", "GDD (fs²)"))
    for ax, (key, label) in zip(axes, panels):
        for q, color in (("r", "tab:blue"), ("t", "tab:green")):
            name = f"{q}_{key}_deg" if key == "phase" else f"{q}_{key}"
            values = doc[name]
            y = _broken_at_wraps(values) if key == "phase" else np.array(
                [np.nan if x is None else x for x in values], dtype=float)
            ax.plot(wl, y, color=color, marker=marker, label={"r": "reflection", "t": "transmission"}[q])
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    axes[0].set_ylim(-185, 185)
    axes[0].set_yticks([-180, -90, 0, 90, 180])
    axes[-1].set_xlabel("wavelength (nm)")
    fig.suptitle(title, fontsize="medium")
    save(fig, path)


def field_figure(doc: dict, title: str, path: str, incident: str, substrate: str) -> None:
    """|E|² against depth, the incident side on the left, layers shaded in their material's colour."""
    import matplotlib.patches as mpatches  # matplotlib loads only when a picture is drawn

    fig, ax = figure(9.0, 4.8)
    colors = {name: f"C{i % 10}" for i, name in enumerate(dict.fromkeys(lay["material"] for lay in doc["layers"]))}
    depth = doc["depth_nm"]
    total = doc["layers"][-1]["end_nm"] if doc["layers"] else 0.0
    ax.axvspan(total, depth[-1], color="0.85", alpha=0.6)
    for lay in doc["layers"]:
        ax.axvspan(lay["start_nm"], lay["end_nm"], color=colors[lay["material"]], alpha=0.25, linewidth=0)
    ax.plot(depth, doc["intensity"], color="black", linewidth=1.2)
    ax.set_xlim(depth[0], depth[-1])
    ax.set_ylim(0, max(doc["intensity"]) * 1.12 or 1.0)
    top = ax.get_ylim()[1]
    ax.text(0.0, -0.09, f"← {incident} (incident)", transform=ax.transAxes, ha="left", va="top", fontsize="small")
    ax.text(1.0, -0.09, f"{substrate} (substrate) →", transform=ax.transAxes, ha="right", va="top", fontsize="small")
    if len(doc["layers"]) <= 12:  # names inside the layers while they fit; the legend names them always
        for lay in doc["layers"]:
            ax.text((lay["start_nm"] + lay["end_nm"]) / 2, top * 0.02, lay["material"],
                    rotation=0 if len(lay["material"]) <= 3 else 90, ha="center", va="bottom", fontsize="x-small")
    handles = [mpatches.Patch(color=c, alpha=0.4, label=n) for n, c in colors.items()]
    if handles:
        ax.legend(handles=handles, fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_xlabel("depth from the front surface (nm)")
    ax.set_ylabel("|E|² / |E₀⁺|²")
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize="medium")
    save(fig, path)
