"""`specialist simulate`: R, T and A of designs at one angle or over an angle sweep.

One design or a JSON list of designs, every angle and polarization computed as one batch by
``spectra.simulate``; printed as tables, one JSON document (``--json``), a long-format CSV
(``--csv``) and a picture (``--plot``), in fractions, percent or dB (``--units``).
"""

from __future__ import annotations

import argparse

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from domains.photonics import design as design_mod, plots, spectra
from domains.photonics.commands import angles, check_output, sample_rows, wavelengths
from domains.photonics.design import Design
from specialist.cli.io import (Command, count_note, csv_arg, emit, fmt, json_flag, plot_arg, read_json,
                               write_csv)
from specialist.errors import InputError

_console = Console()

UNITS = ("fraction", "percent", "dB")
DB_FLOOR = 1e-30  # dB of values below it (0 included) print as -300 dB: finite, never -inf
QUANTITIES = ("R", "T", "A")
PER_POLARIZATION = ("R_s", "R_p", "T_s", "T_p", "A_s", "A_p")
ROWS, ANGLE_COLUMNS, DESIGN_TABLES = 15, 7, 20  # what the text output samples (it says so)

_EPILOG = """\
--json prints {"wavelength_nm": [...], "R": [...], "T": [...], "A": [...]} (R, T, A one value per
wavelength); for a JSON list of designs, a list of such documents. An angle sweep (--angle
start:stop:count) adds "angle_deg": [...] and makes R, T and A lists per angle (angles x
wavelengths). --polarization all adds R_s, R_p, T_s, T_p, A_s, A_p (shaped as R) beside the
average R, T, A. --units percent or dB adds "units": "percent" or "dB"; dB is 10 log10(value),
and values below 1e-30 (0 included) print as -300 dB.
--csv writes long format: design, angle_deg, wavelength_nm, R, T, A (+ the per-polarization
columns with --polarization all), one row per design, angle and wavelength.
--plot draws R, T and A against wavelength (an angle sweep: R over wavelength x angle) beside
the layer stack; for a list of designs, the first one."""


def add_args(p: argparse.ArgumentParser) -> None:
    """The options of ``specialist simulate``."""
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = _EPILOG
    p.add_argument("design", metavar="DESIGN.json", help="a design, or a JSON list of designs (one batch)")
    p.add_argument("--wavelengths", default="400:700:301", help="start:stop:count in nm (default 400:700:301)")
    p.add_argument("--angle", default="0", help="angle of incidence in degrees in [0, 90) (default 0), or a "
                   "sweep start:stop:count such as 0:60:13, all angles solved in one batch")
    p.add_argument("--polarization", default="avg", metavar="{s,p,avg,all}",
                   help="s, p, avg (their mean; the default) or all (the average with s and p beside it)")
    p.add_argument("--units", default="fraction", metavar="{fraction,percent,dB}",
                   help="R, T and A as fractions (default), percent, or dB = 10 log10(value)")
    csv_arg(p)
    plot_arg(p)
    json_flag(p)


def simulate(args: argparse.Namespace) -> int:
    """R, T and A of the designs in ``args.design``, printed, and written to --csv / --plot."""
    designs, sources, many = _designs(args.design)
    wl_W = wavelengths(args.wavelengths)
    angle_A, sweep = angles(args.angle), ":" in args.angle
    pol = _choice("--polarization", args.polarization, spectra.SIMULATE_POLARIZATIONS)
    units = _choice("--units", args.units, UNITS)
    check_output("--csv", args.csv, ".csv")
    check_output("--plot", args.plot, ".png")
    out = spectra.simulate(designs, wl_W, angle_A, pol, sources)
    keys = QUANTITIES + (PER_POLARIZATION if pol == "all" else ())
    shown = {k: to_units(out[k], units) for k in keys}  # each B x A x W
    if args.csv:
        write_csv(args.csv, ("design", "angle_deg", "wavelength_nm") + keys,
                  _csv_rows(shown, sources, angle_A, wl_W))
    if args.plot:
        _plot(args.plot, designs[0], sources[0], len(designs), wl_W, angle_A, sweep, shown, pol, units)
    docs = [_doc(shown, b, wl_W, angle_A, sweep, units) for b in range(len(designs))]
    view = _View(designs, sources, angle_A, sweep, pol, units, args)
    emit(args, docs if many else docs[0], lambda _: _render(docs, view))
    return 0


def to_units(x: np.ndarray, units: str) -> np.ndarray:
    """Fractions as ``units``: unchanged, times 100, or 10 log10 (floored at -300 dB)."""
    if units == "percent":
        return 100.0 * x
    if units == "dB":
        return 10.0 * np.log10(np.maximum(x, DB_FLOOR))
    return x


def _designs(path: str) -> tuple[list[Design], list[str], bool]:
    obj = read_json(path)
    many = isinstance(obj, list)
    items = obj if many else [obj]
    if not items:
        raise InputError(path, "", "holds an empty list; give a design or a non-empty list of designs")
    sources = [f"{path}[{i}]" if many else path for i in range(len(items))]
    return [design_mod.parse(o, s) for o, s in zip(items, sources)], sources, many


def _choice(option: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise InputError(option, "", f"is '{value}'; allowed: {', '.join(allowed)}")
    return value


def _doc(shown: dict[str, np.ndarray], b: int, wl_W: np.ndarray, angle_A: np.ndarray, sweep: bool,
         units: str) -> dict:
    """One design's JSON: values per wavelength, or per angle and wavelength for a sweep."""
    doc: dict = {"wavelength_nm": wl_W.tolist()}
    if sweep:
        doc["angle_deg"] = angle_A.tolist()
    for k, v_BxAxW in shown.items():
        doc[k] = v_BxAxW[b].tolist() if sweep else v_BxAxW[b, 0].tolist()
    if units != "fraction":
        doc["units"] = units
    return doc


def _csv_rows(shown: dict[str, np.ndarray], sources: list[str], angle_A: np.ndarray, wl_W: np.ndarray):
    columns = list(shown.values())
    for b, source in enumerate(sources):
        for a, angle in enumerate(angle_A.tolist()):
            values = [c[b, a].tolist() for c in columns]
            for w, wl in enumerate(wl_W.tolist()):
                yield (source, angle, wl, *(v[w] for v in values))


def _plot(path: str, d: Design, source: str, count: int, wl_W: np.ndarray, angle_A: np.ndarray, sweep: bool,
          shown: dict[str, np.ndarray], pol: str, units: str) -> None:
    name = source if count == 1 else f"{source} (the first of {count} designs)"
    title = _title(name, d, angle_A, pol)
    unit = plots.UNIT_LABELS[units]
    if sweep and len(angle_A) > 1:
        maps = {k: shown[k][0] for k in (("R_s", "R_p", "R") if pol == "all" else ("R",))}
        plots.angle_map_figure(path, wl_W, angle_A, maps, unit, title, d)
    else:
        curves = {k: v[0, 0] for k, v in shown.items()}
        plots.spectrum_figure(path, wl_W, curves, unit, title, d)


# --- text ------------------------------------------------------------------------------------

class _View:
    """What the text output needs beside the JSON documents."""

    def __init__(self, designs, sources, angle_A, sweep, pol, units, args):
        self.designs, self.sources, self.angle_A, self.sweep = designs, sources, angle_A, sweep
        self.pol, self.units, self.csv, self.plot = pol, units, args.csv, args.plot


def _render(docs: list[dict], view: _View) -> None:
    for doc, d, source in list(zip(docs, view.designs, view.sources))[:DESIGN_TABLES]:
        title = escape(_title(source, d, view.angle_A, view.pol))
        if view.sweep:
            _render_sweep(doc, title, view)
        else:
            _render_one(doc, title, view)
    if len(docs) > DESIGN_TABLES:
        _console.print(f"tables of {DESIGN_TABLES} of {len(docs)} designs shown; --json or --csv gives every one",
                       soft_wrap=True)
    for option, path in (("CSV", view.csv), ("plot", view.plot)):
        if path:
            _console.print(f"{option} written to {escape(path)}", soft_wrap=True)


def _render_one(doc: dict, title: str, view: _View) -> None:
    keys = [k for k in QUANTITIES + PER_POLARIZATION if k in doc]
    rows = sample_rows(len(doc["wavelength_nm"]), ROWS)
    table = Table(title=title, caption=_unit_text(view.units))
    for col in ["wavelength nm"] + keys:
        table.add_column(col, justify="right")
    for i in rows:
        table.add_row(fmt(doc["wavelength_nm"][i], 1), *(_cell(doc[k][i], view.units) for k in keys))
    _console.print(table)
    means = "  ".join(f"{k} {_cell(_mean(doc[k], view.units), view.units)}" for k in QUANTITIES)
    n = len(doc["wavelength_nm"])
    note = count_note(len(rows), n, _plural(n, "wavelength"))
    _console.print(f"{note}; mean over all {n}: {means}", soft_wrap=True)


def _render_sweep(doc: dict, title: str, view: _View) -> None:
    wl, ang = doc["wavelength_nm"], doc["angle_deg"]
    rows, cols = sample_rows(len(wl), ROWS), sample_rows(len(ang), ANGLE_COLUMNS)
    table = Table(title=title, caption=f"R, {_unit_text(view.units)}")
    table.add_column("wavelength nm", justify="right")
    for a in cols:
        table.add_column(f"{ang[a]:g}°", justify="right")
    for i in rows:
        table.add_row(fmt(wl[i], 1), *(_cell(doc["R"][a][i], view.units) for a in cols))
    _console.print(table)
    notes = (count_note(len(rows), len(wl), _plural(len(wl), "wavelength")),
             count_note(len(cols), len(ang), _plural(len(ang), "angle")))
    _console.print(", ".join(notes), soft_wrap=True)
    keys = [k for k in QUANTITIES + ("R_s", "R_p") if k in doc]
    angle_rows = sample_rows(len(ang), 2 * ROWS + 1)
    means = Table(title=f"mean over {len(wl)} {_plural(len(wl), 'wavelength')}, {_unit_text(view.units)}",
                  caption=count_note(len(angle_rows), len(ang), _plural(len(ang), "angle")))
    for col in ["angle deg"] + keys:
        means.add_column(col, justify="right")
    for a in angle_rows:
        means.add_row(f"{ang[a]:g}", *(_cell(_mean(doc[k][a], view.units), view.units) for k in keys))
    _console.print(means)


def _mean(values: list[float], units: str) -> float:
    """The mean of values shown in ``units``, taken over the fractions (a mean of dB is no power)."""
    if units == "dB":
        return float(to_units(np.mean(10.0 ** (np.asarray(values) / 10.0)), "dB"))
    return float(np.mean(values))


def _plural(n: int, noun: str) -> str:
    return noun if n == 1 else noun + "s"


def _cell(x: float, units: str) -> str:
    return fmt(x, {"fraction": 6, "percent": 4, "dB": 2}[units])


def _unit_text(units: str) -> str:
    return {"fraction": "fractions", "percent": "percent", "dB": "dB = 10 log10(value)"}[units]


def _title(name: str, d: Design, angle_A: np.ndarray, pol: str) -> str:
    """Two lines: the design and its stack; media, angle(s) and polarization."""
    return f"{name}: {plots.stack_label(d)}\n{_media(d)}, {_angles_text(angle_A)}, {_pol_text(pol)}"


def _media(d: Design) -> str:
    sub = d.substrate.name
    if d.substrate_thickness_mm is not None:
        sub += f" ({d.substrate_thickness_mm:g} mm, incoherent, into {(d.exit.name if d.exit else 'air')})"
    return f"{d.incident.name} → {sub}"


def _angles_text(angle_A: np.ndarray) -> str:
    if len(angle_A) == 1:
        return f"{angle_A[0]:g}°"
    return f"{angle_A[0]:g}-{angle_A[-1]:g}° ({len(angle_A)} angles)"


def _pol_text(pol: str) -> str:
    return {"s": "s", "p": "p", "avg": "avg of s and p", "all": "avg, s and p"}[pol] + " polarization"


COMMANDS = {
    "simulate": Command("R, T and A of a design (or a list of designs, computed as one batch), at one angle "
                        "or over an angle sweep", add_args, simulate),
}
