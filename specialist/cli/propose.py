"""`specialist propose`: the best design for a goal within a budget, by the specialist or by one
of the domain's per-goal optimizers (``--method``; the list comes from the domain).

The specialist is the data directory's champion, else its newest checkpoint, else the weights
``learner.start_from`` names (the shipped ones by default); a data directory that does not exist
is only read from, never made. Any other method is the domain's Optimizer: no model is loaded.
Output (--json): {"design", "merit", "solved", "evaluations", "method", "seed", "wall_s"} (the
specialist adds "source"); design and merit are null where nothing valid was found.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from specialist import domain as domains
from specialist.cli.bench import SPECIALIST, default_domain, method_names
from specialist.cli.configured import load_domain
from specialist.cli.io import (config_arg, data_dir_arg, emit, fmt, json_flag, load_config, paths, plot_arg,
                               read_json, write_text)
from specialist.errors import InputError

_console = Console()


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("goal", metavar="GOAL.json", help="the goal")
    p.add_argument("--budget", type=int, default=100, help="evaluations to spend: sampled designs count 1, "
                   "refinement as the domain counts it (default 100)")
    p.add_argument("--method", default=SPECIALIST, help=f"who designs: {', '.join(method_names(default_domain()))} "
                   f"(default {SPECIALIST}: the champion, else the newest checkpoint, else the shipped weights)")
    p.add_argument("--seed", type=int, default=0, help="seed of the method's random choices (default 0)")
    p.add_argument("--out", metavar="DESIGN.json", help="also write the best design to this file")
    plot_arg(p)
    config_arg(p)
    data_dir_arg(p)
    json_flag(p)


def run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    if args.budget < 1:
        raise InputError("--budget", "", f"is {args.budget}; allowed: a whole number >= 1")
    if args.seed < 0:
        raise InputError("--seed", "", f"is {args.seed}; allowed: a whole number >= 0")
    cfg = load_config(args)
    domain = load_domain(cfg, args)
    allowed = method_names(domain)
    if args.method not in allowed:
        raise InputError("--method", "", f"is '{args.method}'; allowed: {', '.join(allowed)}")
    if args.plot:
        _check_plot(domain, args.plot)  # before the search, not after it
    goal = read_json(args.goal)
    try:
        domain.encode(goal)  # validates the goal before any work
        result = _specialist(args, cfg, goal) if args.method == SPECIALIST else \
            domain.optimize(goal, args.method, args.budget, args.seed)
    except InputError as err:
        raise err.within(args.goal) from None
    doc = {**result, "method": args.method, "seed": args.seed, "wall_s": round(time.perf_counter() - start, 3)}
    if args.out and doc["design"] is not None:
        write_text(args.out, json.dumps(doc["design"], indent=2) + "\n", "--out")
    if args.plot:
        _plot(domain, goal, doc, args.plot)
    emit(args, doc, _render)
    return 0


def _specialist(args: argparse.Namespace, cfg, goal: dict) -> dict:
    """The serving specialist's best design within the budget."""
    from specialist.app.serving import serving  # JAX: imported only when the specialist designs

    proposer, retrieval = serving(paths(args), cfg)
    if proposer is None:
        raise InputError("--data-dir", "", f"{Path(args.data_dir).absolute()} holds no checkpoint and "
                         "learner.start_from names no weights; allowed: the data directory of a daemon that has run "
                         "(`specialist run`), shipped weights, or another --method")
    proposer.domain.encode(goal)
    ev = cfg.evaluation
    return proposer.best(goal, args.budget, ev.samples, retrieval, ev.retrieved, ev.refine_top, args.seed)


def _check_plot(domain, path: str) -> None:
    if not isinstance(domain, domains.Curves):
        raise InputError("--plot", "", f"is not offered by domain '{domain.spec.name}', which draws no curves; "
                         "allowed: leave --plot out")
    from specialist.app.figures import check_png  # matplotlib: imported only when a picture is drawn

    check_png(path)


def _plot(domain, goal: dict, doc: dict, path: str) -> None:
    """The design against the goal's targets, one panel per target kind, as PNG."""
    if doc["design"] is None:
        print(f"note: nothing valid was found, so nothing is drawn in {path}", file=sys.stderr)
        return
    from specialist.app import figures  # matplotlib and the app's figures load only for --plot

    title = f"{goal.get('name', 'goal')}: {doc['method']}, merit {doc['merit']:.4g}"
    figures.save_png(figures.designs_against_goals([(title, domain.curves(goal, doc["design"]))]), path)


def _render(doc: dict) -> None:
    if doc["design"] is None:
        _console.print(f"{doc['method']}: no valid design found in {doc['evaluations']} evaluations "
                       f"({doc['wall_s']:.1f} s)")
        return
    _console.print(f"{doc['method']}: merit {doc['merit']:.4g} ({'solved' if doc['solved'] else 'not solved'}) "
                   f"after {doc['evaluations']} evaluations in {doc['wall_s']:.1f} s"
                   + (f"; best design {doc['source']}" if doc.get("source") else ""))
    render_design(_console, doc["design"])


def render_design(console: Console, design: dict) -> None:
    """A design for people: its scalar fields on one line, then its ``layers`` (a list of records,
    as the GUIDE's design contract has them) as a table with a totals row; other shapes as JSON."""
    layers = design.get("layers")
    if not isinstance(layers, list) or not all(isinstance(x, dict) for x in layers):
        console.print_json(data=design)
        return
    console.print(", ".join(f"{k.replace('_', ' ')} {_cell(v)}" for k, v in design.items() if k != "layers"))
    columns = list(dict.fromkeys(k for layer in layers for k in layer))
    numeric = [c for c in columns if layers and all(isinstance(x.get(c), (int, float)) for x in layers)]
    table = Table(title=f"{len(layers)} layer{'' if len(layers) == 1 else 's'}, from the incident side")
    table.add_column("layer", justify="right")
    for c in columns:
        table.add_column(c.replace("_nm", " nm").replace("_", " "), justify="right" if c in numeric else "left")
    for i, layer in enumerate(layers, start=1):
        table.add_row(str(i), *(_cell(layer.get(c, "")) for c in columns))
    if numeric:
        table.add_section()
        table.add_row("total", *(_cell(sum(x[c] for x in layers)) if c in numeric else "" for c in columns))
    console.print(table)


def _cell(value) -> str:
    """A field for a table: numbers to 0.01, inline materials ({"name", "n", ...}) by name with
    their other fields."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        return fmt(value, 2)
    if isinstance(value, dict) and "name" in value:
        rest = ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in value.items() if k != "name")
        return f"{value['name']} ({rest})" if rest else str(value["name"])
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)
