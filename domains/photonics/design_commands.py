"""`specialist colour` and `specialist layers`: a design's colour and its layer table.

    specialist colour design.json [--angle 0] [--polarization avg] [--json] [--plot xy.png]
    specialist layers design.json [--reference 550] [--json] [--csv layers.csv] [--plot stack.png]
    specialist layers --formula "(HL)^7 H" --high TiO2 --low SiO2 --reference 550 [--out design.json]

The colour is computed by ``colour`` (CIE 1931 2 degree observer, illuminant D65, the CIE's tables),
the layer table and the quarter-wave notation by ``notation``.
"""

from __future__ import annotations

import argparse
import json
import sys

from rich import box
from rich.console import Console
from rich.table import Table

from domains.photonics import colour as colour_mod, design as design_mod, notation, plots
from domains.photonics.commands import check_output
from domains.photonics.design import Design
from specialist.cli.io import Command, csv_arg, emit, fmt, json_flag, plot_arg, read_json, write_csv, write_text
from specialist.errors import InputError

_console = Console()
DEFAULT_REFERENCE_NM = 550.0
LAYER_COLUMNS = ("layer", "material", "n", "k", "thickness_nm", "optical_thickness_nm", "qwot")


# --- colour ----------------------------------------------------------------------------------

def colour_args(p: argparse.ArgumentParser) -> None:
    """The options of ``specialist colour``."""
    p.add_argument("design", metavar="DESIGN.json", help="the design")
    p.add_argument("--angle", type=float, default=0.0, help="angle of incidence in degrees, in [0, 90) (default 0)")
    p.add_argument("--polarization", default="avg", choices=("s", "p", "avg"), help="default avg")
    csv_arg(p)
    plot_arg(p)
    json_flag(p)
    p.epilog = ("CIE 1931 XYZ, xyY and CIELAB of the reflected and the transmitted light under illuminant D65, "
                "2 degree observer, 380-780 nm in 5 nm steps; the CIELAB white is the perfect reflecting diffuser "
                "under D65. --plot draws the CIE 1931 xy chromaticity diagram with both colours and the white point.")


COLOUR_COLUMNS = ("X", "Y", "Z", "x", "y", "L", "a", "b")


def colour(args: argparse.Namespace) -> int:
    """Print the colour of a design's reflected and transmitted light (and draw it with --plot)."""
    d = design_mod.parse(read_json(args.design), args.design)
    if not 0 <= args.angle < 90:
        raise InputError("--angle", "", f"is {args.angle:g}; allowed: degrees in [0, 90)")
    check_output("--csv", args.csv, ".csv")
    check_output("--plot", args.plot, ".png")
    doc = colour_mod.colours(d, args.angle, args.polarization, args.design)
    if args.csv:
        write_csv(args.csv, ("light", *COLOUR_COLUMNS), ([light, *(doc[light][c] for c in COLOUR_COLUMNS)]
                                                         for light in ("reflected", "transmitted")))
    if args.plot:
        colour_mod.plot(doc, args.plot, f"{args.design}: {plots.stack_label(d)}")
    emit(args, doc, lambda doc: _render_colour(doc, f"{args.design}: {plots.stack_label(d)}", args.plot))
    return 0


def _render_colour(doc: dict, name: str, plot: str | None) -> None:
    table = Table(title=f"{name}\nilluminant D65, CIE 1931 2° observer, {doc['angle_deg']:g}° ({doc['polarization']})",
                  caption="R: the reflected light, T: the transmitted light", box=box.SIMPLE_HEAD)
    for col in ("", "X", "Y", "Z", "x", "y", "L*", "a*", "b*"):
        table.add_column(col, justify="right", no_wrap=True)
    for label, key in (("R", "reflected"), ("T", "transmitted")):
        c = doc[key]
        table.add_row(label, *(fmt(c[q], 3) for q in "XYZ"), *(fmt(c[q], 4) for q in "xy"),
                      *(fmt(c[q], 2) for q in "Lab"))
    _console.print(table)
    wx, wy = colour_mod.chromaticity(colour_mod.white())
    _console.print(f"white (L* 100): the perfect reflecting diffuser under D65, x {wx:.4f}, y {wy:.4f}")
    if plot:
        _console.print(f"plot written to {plot}")


# --- layers ----------------------------------------------------------------------------------

def layers_args(p: argparse.ArgumentParser) -> None:
    """The options of ``specialist layers``."""
    p.add_argument("design", nargs="?", metavar="DESIGN.json", help="the design (or build one with --formula)")
    p.add_argument("--reference", type=float, default=None, help="reference wavelength in nm for n, k and the "
                   f"quarter waves (default: the design's reference_nm, else {DEFAULT_REFERENCE_NM:g})")
    p.add_argument("--formula", help="build a quarter-wave design from the classic notation instead, e.g. "
                   "\"(HL)^7 H\" (H, L, M one quarter wave each; 2H a half wave; groups repeat with ^N)")
    p.add_argument("--high", help="with --formula: the material of H (a library name, or a real index)")
    p.add_argument("--low", help="with --formula: the material of L")
    p.add_argument("--medium", help="with --formula: the material of M")
    p.add_argument("--incident", default="air", help="with --formula: the incident medium (default air)")
    p.add_argument("--substrate", default="N-BK7", help="with --formula: the substrate (default N-BK7)")
    p.add_argument("--out", metavar="DESIGN.json", help="with --formula: write the design here and print its "
                   "layer table (without --out the design JSON is printed)")
    csv_arg(p)
    plot_arg(p)
    json_flag(p)


def layers(args: argparse.Namespace) -> int:
    """Print a design's layer table; with --formula, build the design first."""
    check_output("--csv", args.csv, ".csv")
    check_output("--plot", args.plot, ".png")
    obj, d, source, (ref, *where) = _design_source(args)
    table = notation.layer_table(d, ref, *where)
    if args.csv:
        write_csv(args.csv, LAYER_COLUMNS, ([r[c] for c in LAYER_COLUMNS] for r in table["layers"]))
    if args.plot:
        fig, ax = plots.figure(3.6, 6.0)
        plots.stack(ax, d)
        fig.suptitle(f"{source}\n{plots.stack_label(d)}", fontsize="small")
        plots.save(fig, args.plot)
    if args.formula is not None and args.out is None:
        sys.stdout.write(json.dumps(obj, indent=2, allow_nan=False) + "\n")  # the design itself, to redirect
        return 0
    if args.out:
        write_text(args.out, json.dumps(obj, indent=2, allow_nan=False) + "\n", "--out")
    emit(args, table, lambda t: _render_layers(t, f"{source}: {plots.stack_label(d)}", args))
    return 0


def _design_source(args: argparse.Namespace) -> tuple[dict, Design, str, tuple[float, str, str]]:
    """(design JSON, the design, its name, (reference nm, source and field to name in errors))."""
    if args.formula is None:
        _no_formula_options(args)
        obj = read_json(args.design)
        d = design_mod.parse(obj, args.design)  # first: it checks reference_nm
        return obj, d, args.design, _reference(args.reference, obj, args.design)
    if args.design is not None:
        raise InputError("--formula", "", f"is given with the design file {args.design}; allowed: one of them")
    ref = DEFAULT_REFERENCE_NM if args.reference is None else args.reference
    names = {"H": args.high, "L": args.low, "M": args.medium}
    obj = notation.from_formula(args.formula, names, ref, args.incident, args.substrate)
    return obj, design_mod.parse(obj, "--formula"), args.formula, (ref, "--reference", "")


def _no_formula_options(args: argparse.Namespace) -> None:
    if args.design is None:
        raise InputError("DESIGN.json", "", "is missing; allowed: a design file, or --formula to build one")
    for option in ("high", "low", "medium", "out"):
        if getattr(args, option) is not None:
            raise InputError(f"--{option}", "", "is given without --formula; allowed only with --formula")


def _reference(option: float | None, obj: dict, path: str) -> tuple[float, str, str]:
    """(reference nm, source, field) to name in errors: --reference, else the design's reference_nm
    (already checked by the parser), else 550 nm."""
    if option is None and "reference_nm" in obj:
        return float(obj["reference_nm"]), path, "reference_nm"
    return (DEFAULT_REFERENCE_NM if option is None else option), "--reference", ""


def _render_layers(t: dict, name: str, args: argparse.Namespace) -> None:
    table = Table(title=f"{name}\n{t['incident']} → layers → {t['substrate']}, at {t['reference_nm']:g} nm",
                  caption="QWOT = 4 n d / λ_ref: quarter waves at the reference wavelength")
    for col in ("layer", "material", "n", "k", "d nm", "n·d nm", "QWOT"):
        table.add_column(col, justify="left" if col == "material" else "right")
    for r in t["layers"]:
        table.add_row(str(r["layer"]), r["material"], fmt(r["n"], 4), fmt(r["k"], 4), fmt(r["thickness_nm"], 2),
                      fmt(r["optical_thickness_nm"], 2), fmt(r["qwot"], 4))
    table.add_row("total", "", "", "", fmt(t["total_thickness_nm"], 2), fmt(t["total_optical_thickness_nm"], 2),
                  fmt(4.0 * t["total_optical_thickness_nm"] / t["reference_nm"], 4), end_section=True)
    _console.print(table)
    for option, path in (("design", args.out), ("CSV", args.csv), ("plot", args.plot)):
        if path:
            _console.print(f"{option} written to {path}")


COMMANDS = {
    "colour": Command("CIE 1931 XYZ, xyY and CIELAB of a design's reflected and transmitted light under D65",
                      colour_args, colour),
    "layers": Command("a design's layer table at a reference wavelength (n, k, thickness, optical thickness, "
                      "quarter waves), or a quarter-wave design built from the classic notation (HL)^7 H",
                      layers_args, layers),
}
