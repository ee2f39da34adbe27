"""The designer's analyses on the command line: `specialist phase` and `specialist field`.

The numbers come from domains.photonics.analysis (conventions there); these commands parse the
options, print tables for people or one JSON document, and write --csv and --plot files.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
from rich import box
from rich.console import Console
from rich.table import Table

from domains.photonics import analysis, design, plots
from domains.photonics.commands import check_output, wavelengths
from specialist.cli.io import (Command, count_note, csv_arg, emit, fmt, json_flag, plot_arg, read_json,
                               write_csv)
from specialist.errors import InputError

_console = Console()
ROWS = 15  # table rows shown for people; --json and --csv carry every point

_CONVENTION = ("Conventions: N = n + ik with time dependence exp(-iwt), so GD = dphi/dw > 0 means delay and "
               "GDD = d2phi/dw2; amplitudes of the tangential field (Macleod), so s and p agree at normal "
               "incidence. Essential Macleod's exp(+iwt) negates every phase but gives the same GD and GDD; "
               "tmm's p reflection phase differs by 180 deg. Reflection phase at the front surface; transmission "
               "from the front surface to just inside the substrate.")
_THICK = ("A thick substrate (substrate_thickness_mm) is taken as semi-infinite here, R and T included: its back "
          "surface returns light incoherently, which adds intensity but no phase and no coherent field.")


def _common_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("design", metavar="DESIGN.json", help="one design")
    p.add_argument("--angle", type=float, default=0.0, help="angle of incidence in degrees, in [0, 90) (default 0)")
    p.add_argument("--polarization", default="s", choices=("s", "p"), help="default s")
    json_flag(p)
    csv_arg(p)
    plot_arg(p)


def _load(args: argparse.Namespace) -> design.Design:
    """The design file and the angle, checked."""
    if not (math.isfinite(args.angle) and 0 <= args.angle < 90):
        raise InputError("--angle", "", f"is {args.angle:g}; allowed: degrees in [0, 90)")
    check_output("--csv", args.csv, ".csv")
    check_output("--plot", args.plot, ".png")
    obj = read_json(args.design)
    if isinstance(obj, list):
        raise InputError(args.design, "", "holds a list; allowed: one design (a JSON object)")
    return design.parse(obj, args.design)


def _title(what: str, args: argparse.Namespace, d: design.Design) -> str:
    thick = ", thick substrate taken as semi-infinite" if d.substrate_thickness_mm is not None else ""
    return (f"{what} of {args.design}: {args.polarization} polarization, {args.angle:g} deg incidence, "
            f"{d.incident.name} → {len(d.layers)} layers → {d.substrate.name}{thick}")


def _listed(x: np.ndarray) -> list:
    """Numbers for JSON, None where undefined (NaN never reaches the output)."""
    return [None if not np.isfinite(v) else float(v) for v in np.asarray(x, dtype=np.float64)]


# --- phase -----------------------------------------------------------------------------------

_PHASE_KEYS = ("r_phase_deg", "t_phase_deg", "r_gd_fs", "t_gd_fs", "r_gdd_fs2", "t_gdd_fs2")


def _phase_args(p: argparse.ArgumentParser) -> None:
    p.description = ("Reflection and transmission phase [deg, in (-180, 180]], group delay GD [fs] and group delay "
                     "dispersion GDD [fs^2], exact derivatives in angular frequency with the materials' dispersion. "
                     "Any wavelength grid, a single wavelength included. " + _CONVENTION + " " + _THICK)
    _common_args(p)
    p.add_argument("--wavelengths", default="400:700:301", help="start:stop:count in nm (default 400:700:301)")


def phase(args: argparse.Namespace) -> int:
    d = _load(args)
    wl = wavelengths(args.wavelengths)
    out = analysis.phase(d, wl, args.angle, args.polarization, args.design)
    doc = {"wavelength_nm": wl.tolist(), "angle_deg": args.angle, "polarization": args.polarization,
           **{k: _listed(out[k]) for k in _PHASE_KEYS}, "R": _listed(out["R"]), "T": _listed(out["T"])}
    title = _title("phase", args, d)
    if args.csv:
        cols = ("wavelength_nm", "R", "T") + _PHASE_KEYS
        write_csv(args.csv, cols, [["" if doc[c][i] is None else doc[c][i] for c in cols] for i in range(len(wl))])
    if args.plot:
        plots.phase_figure(doc, title, args.plot)
    emit(args, doc, lambda doc: _render_phase(doc, title))
    return 0


def _cell(x, digits: int) -> str:
    return "—" if x is None else fmt(x, digits)  # a phase is undefined where r (or t) vanishes


def _render_phase(doc: dict, title: str) -> None:
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for col in ("λ nm", "R", "T", "φr deg", "φt deg", "GDr fs", "GDt fs", "GDDr fs²", "GDDt fs²"):
        table.add_column(col, justify="right")
    wl = doc["wavelength_nm"]
    rows = np.unique(np.linspace(0, len(wl) - 1, min(len(wl), ROWS)).round().astype(int))
    for i in rows:
        table.add_row(f"{wl[i]:.1f}", _cell(doc["R"][i], 4), _cell(doc["T"][i], 4),
                      *(_cell(doc[k][i], 1 if "phase" in k else 2) for k in _PHASE_KEYS))
    _console.print(table)
    if len(wl) > 1:
        _console.print(count_note(len(rows), len(wl), "wavelengths"))
    _console.print("GD > 0 is a delay; phases in the exp(-iwt) convention (Essential Macleod shows them negated)"
                   + ("; — where r or t vanishes and its phase is undefined." if None in doc["r_phase_deg"] +
                      doc["t_phase_deg"] else "."))


# --- field -----------------------------------------------------------------------------------

def _field_args(p: argparse.ArgumentParser) -> None:
    p.description = ("Electric-field intensity |E(z)|^2 (the whole field vector) relative to the incident wave's "
                     f"|E0+|^2, from {analysis.PAD_NM:g} nm before the front surface (depth 0) through every layer "
                     f"to {analysis.PAD_NM:g} nm into the substrate, with the layer boundaries. "
                     "|E|^2 = |Ex|^2 + |Ey|^2 + |Ez|^2 (as tmm.position_resolved); a sample on a boundary belongs to the deeper medium, where "
                     "for p the normal component jumps (normal D is continuous). " + _THICK)
    _common_args(p)
    p.add_argument("--wavelength", required=True, help="vacuum wavelength in nm, e.g. 550")
    p.add_argument("--step", type=float, default=1.0,
                   help=f"depth step in nm (default 1; at most {analysis.MAX_SAMPLES} samples)")


def _wavelength(spec: str) -> float:
    try:
        value = float(spec)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise InputError("--wavelength", "", f"is '{spec}'; allowed: one finite wavelength in nm > 0, e.g. 550")
    return value


def field(args: argparse.Namespace) -> int:
    d = _load(args)
    wl = _wavelength(args.wavelength)
    out = analysis.field(d, wl, args.angle, args.polarization, args.step, args.design)
    doc = {"wavelength_nm": wl, "angle_deg": args.angle, "polarization": args.polarization,
           "depth_nm": out["depth_nm"].tolist(), "intensity": out["intensity"].tolist(),
           "layers": [{"material": m, "start_nm": a, "end_nm": b} for m, a, b in out["layers"]],
           "R": out["R"], "T": out["T"]}
    title = _title(f"|E|² at {wl:g} nm", args, d)
    media = _media(doc, d)
    if args.csv:
        write_csv(args.csv, ("depth_nm", "intensity", "medium"), zip(doc["depth_nm"], doc["intensity"], media))
    if args.plot:
        plots.field_figure(doc, title, args.plot, d.incident.name, d.substrate.name)
    emit(args, doc, lambda doc: _render_field(doc, title, media))
    return 0


def _media(doc: dict, d: design.Design) -> list[str]:
    """The medium each depth sample lies in (a boundary belongs to the deeper medium)."""
    names = [d.incident.name] + [layer["material"] for layer in doc["layers"]] + [d.substrate.name]
    starts = [0.0] + [layer["end_nm"] for layer in doc["layers"]]
    return [names[int(np.searchsorted(starts, z, side="right"))] for z in doc["depth_nm"]]


def _render_field(doc: dict, title: str, media: list[str]) -> None:
    depth, intensity = np.asarray(doc["depth_nm"]), np.asarray(doc["intensity"])
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for col in ("layer", "material", "from nm", "to nm", "|E|² at front", "peak |E|²"):
        table.add_column(col, justify="right")
    for i, layer in enumerate(doc["layers"]):
        inside = (depth >= layer["start_nm"]) & (depth <= layer["end_nm"])
        front = intensity[np.argmin(np.abs(depth - layer["start_nm"]))]
        peak = max(intensity[inside].max(), front) if inside.any() else front
        table.add_row(str(i + 1), layer["material"], fmt(layer["start_nm"], 2), fmt(layer["end_nm"], 2),
                      fmt(front, 6), fmt(peak, 6))
    _console.print(table)
    _console.print(f"R {fmt(doc['R'])}  T {fmt(doc['T'])}; |E|² relative to the incident wave; "
                   f"{len(depth)} depth samples, {fmt(depth[0], 1)} to {fmt(depth[-1], 1)} nm "
                   f"(front surface at 0), peak {fmt(intensity.max(), 4)} in {media[int(intensity.argmax())]}")


COMMANDS = {
    "phase": Command("reflection and transmission phase, group delay and group delay dispersion of a design",
                     _phase_args, phase),
    "field": Command("electric-field intensity |E|² through a design's layers at one wavelength",
                     _field_args, field),
}
