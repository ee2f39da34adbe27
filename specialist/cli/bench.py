"""`specialist bench`: the specialist and per-goal optimizers on goals at several budgets.

Goal files named on the command line are used as they are (and never trained on, nor offered by
retrieval); without them the configured domain's held-out set (``curriculum(daemon.seed)``) is
used, or with --validation its Benchmarks' validation goals. The methods are the specialist and
the domain's Optimizer methods. The specialist is the data directory's champion (else its
newest checkpoint, else the shipped weights), with retrieval over the daemon's training goals.
Output (--json):
{"results": [{"goal", "method", "budget", "merit", "solved", "evaluations"}, ...],
 "summary": [{"method", "budget", "solve_rate", "median_merit"}, ...],
 "contamination": {...}, "classic": [...] (with --classic), "out": {...} (with --out)}
With --out DIR every method's best design per goal is written as a file (``design_files``).
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from specialist import domain as domains
from specialist.cli import design_files
from specialist.cli.configured import load_domain
from specialist.cli.io import config_arg, count_note, data_dir_arg, emit, json_flag, load_config, paths, read_json
from specialist.config import Config, EvaluationSection, int_list
from specialist.domain import goal_hash
from specialist.errors import InputError
from specialist.store import Store

DEFAULT_BUDGETS = "10,100,1000"
SPECIALIST = "specialist"


def method_names(domain) -> tuple[str, ...]:
    """The specialist, then the domain's per-goal optimizers (its Optimizer capability)."""
    return (SPECIALIST,) + (tuple(domain.methods) if isinstance(domain, domains.Optimizer) else ())


@functools.cache  # bench's and propose's --help both name the methods: one load
def default_domain():
    """The domain the bench's --help describes: the default configuration's (the one --config names
    is read when the bench runs)."""
    try:
        return domains.load(Config().daemon.domain)
    except KeyError:
        return None


def add_args(p: argparse.ArgumentParser) -> None:
    methods = method_names(default_domain())
    p.add_argument("goals", nargs="*", metavar="GOAL.json", help="goal files (default: the built-in held-out set)")
    p.add_argument("--budgets", default=DEFAULT_BUDGETS, help=f"evaluation budgets, comma-separated (default {DEFAULT_BUDGETS})")
    p.add_argument("--methods", default=None, help=f"comma-separated from {', '.join(methods)} (default all)")
    p.add_argument("--limit", type=int, default=None, help="use only the first N goals")
    p.add_argument("--seed", type=int, default=0, help="seed of the optimizers and the specialist's sampling (default 0)")
    p.add_argument("--seeds", default=None, help="comma-separated seeds to run each in turn (instead of --seed); the "
                   "summary gives the median over seeds of each figure")
    p.add_argument("--ood", action="store_true", help="use the domain's out-of-distribution goals (what its "
                   "pretraining and generator leave out, and held-out goals of the families daemon.skip_families "
                   "names) instead of the held-out set")
    p.add_argument("--by-family", action="store_true", help="also print the summary per goal family")
    p.add_argument("--classic", action="store_true", help="also solve the classic problems (a broadband "
                   "antireflection coating, a quarter-wave reflector) at each budget and print them")
    p.add_argument("--out", metavar="DIR", help="also write each method's best design per goal (lowest merit over "
                   "budgets and seeds) as DIR/<goal>/<method>.json, listed in DIR/index.json with its budget, seed "
                   "and merit (DIR is made if missing)")
    p.add_argument("--validation", action="store_true", help="use the validation goals (the held-out goals of "
                   "split seed 1, which the daemon never sees) instead of the held-out set: for choosing the "
                   "test-time settings below without touching the test set")
    ev = EvaluationSection()
    for flag, default, what in (("--samples", ev.samples, "designs sampled per goal"),
                                ("--retrieved", ev.retrieved, "designs of the nearest known goals per goal"),
                                ("--refine-top", ev.refine_top, "best candidates refined with the rest of the budget")):
        p.add_argument(flag, type=int, default=None, help=f"specialist: {what} (default {default}, or the "
                       f"configuration's evaluation.{flag[2:].replace('-', '_')})")
    config_arg(p)
    data_dir_arg(p)
    json_flag(p)


def _parse_list(text: str, option: str, allowed) -> list[str]:
    values = [x.strip() for x in text.split(",")]
    if not values or "" in values or any(v not in allowed for v in values):
        raise InputError(option, "", f"is '{text}'; allowed: comma-separated names from {', '.join(allowed)}")
    return values


def load_goals(domain, files: list[str], limit: int | None, validation: bool = False,
               seed: int = 0, ood: tuple[str, ...] | None = None) -> list[tuple[str, dict]]:
    """(name, goal JSON) pairs from files (validated by the domain), or the domain's held-out goals
    of ``seed`` (or its validation goals, or with ``ood`` (the skipped families) its
    out-of-distribution goals)."""
    if files:
        pairs = [(f, read_json(f)) for f in files]
        for f, g in pairs:
            try:
                domain.encode(g)
            except InputError as err:
                raise err.within(f) from None
    elif validation:
        if not isinstance(domain, domains.Benchmarks):
            raise InputError("--validation", "", f"is not offered by domain '{domain.spec.name}'; "
                             "allowed: goal files, or the held-out set (no option)")
        pairs = [(g["name"], g) for g in domain.validation_goals()]
    elif ood is not None:
        if not isinstance(domain, domains.Benchmarks):
            raise InputError("--ood", "", f"is not offered by domain '{domain.spec.name}'; "
                             "allowed: goal files, or the held-out set (no option)")
        pairs = [(g["name"], g) for g in domain.ood_goals(ood)]
    else:
        pairs = [(g["name"], g) for g in domain.curriculum(seed)[1]]
    return pairs[:limit] if limit else pairs


def _settings(args: argparse.Namespace, cfg: Config) -> argparse.Namespace:
    """The test-time settings: the options given, else the configuration's [evaluation]."""
    for key in ("samples", "retrieved", "refine_top"):
        if getattr(args, key) is None:
            setattr(args, key, getattr(cfg.evaluation, key))
    return args


def run(args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit < 1:
        raise InputError("--limit", "", f"is {args.limit}; allowed: a whole number >= 1 (leave it out for all goals)")
    if args.seed < 0:
        raise InputError("--seed", "", f"is {args.seed}; allowed: a whole number >= 0")
    cfg = load_config(args)
    domain = load_domain(cfg, args)
    allowed = method_names(domain)
    methods = _parse_list(",".join(allowed) if args.methods is None else args.methods, "--methods", allowed)
    budgets = int_list(args.budgets, "--budgets")
    seeds = int_list(args.seeds, "--seeds", least=0) if args.seeds else [args.seed]
    skipped = cfg.daemon.skipped_families
    pairs = load_goals(domain, args.goals, args.limit, args.validation, cfg.daemon.seed,
                       skipped if args.ood else None)
    families = {name: domains.family(g) for name, g in pairs}
    out = design_files.prepare(args.out) if args.out else None  # a bad --out is refused before the work
    args, results, best = _settings(args, cfg), [], design_files.Best()
    doc: dict = {}
    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("bench", total=len(pairs) * len(methods) * len(seeds))
        for seed in seeds:
            args.seed = seed
            for method in methods:
                if method == SPECIALIST:
                    found, doc["contamination"] = _specialist(args, cfg, pairs, budgets, progress, task, best)
                    results += found
                    continue
                for name, goal in pairs:
                    for budget in budgets:
                        start = time.perf_counter()
                        r = domain.optimize(goal, method, budget, seed)
                        results.append(_row(name, method, budget, r, seed, time.perf_counter() - start))
                        best.keep(results[-1], r.get("design"))
                    progress.advance(task)
        if args.classic and isinstance(domain, domains.Benchmarks):
            doc["classic"] = domain.classic(_searcher(args, cfg) if SPECIALIST in methods else None, budgets,
                                            seeds[0])
    for r in results:
        r["family"] = families[r["goal"]]
    doc = {"results": results, "summary": summarize(results), "seeds": seeds, **doc}
    if args.by_family:
        doc["by_family"] = [{"family": f, **row} for f in dict.fromkeys(families.values())
                            for row in summarize([r for r in results if r["family"] == f])]
    if out is not None:
        doc["out"] = design_files.write(out, best)
    emit(args, doc, _render)
    return 0


def _row(name: str, method: str, budget: int, r: dict, seed: int, wall_s: float) -> dict:
    return {"goal": name, "method": method, "budget": budget, "seed": seed,
            "merit": r["merit"],  # None where nothing valid was found (JSON null)
            "solved": bool(r["solved"]), "evaluations": r["evaluations"], "wall_s": round(wall_s, 4)}


def _searcher(args, cfg: Config, exclude: frozenset = frozenset()):
    """search(goals, budgets) with the data directory's serving specialist."""
    from specialist.app.serving import serving  # JAX, imported when a bench runs the specialist

    proposer, retrieval = serving(paths(args), cfg, exclude)
    if proposer is None:
        raise InputError("--data-dir", "", f"{Path(args.data_dir).absolute()} holds no checkpoint and "
                         "learner.start_from names no weights; allowed: the data directory of a daemon that has run "
                         "(`specialist run`), shipped weights, or --methods without specialist")
    return lambda goals, budgets: proposer.search(goals, budgets, args.samples, retrieval, args.retrieved,
                                                  args.refine_top, args.seed)


def _specialist(args, cfg: Config, pairs, budgets, progress, task,
                best: design_files.Best) -> tuple[list[dict], dict]:
    """The specialist's rows (their designs handed to ``best``), and the contamination check of
    the goals against its training."""
    hashes = [goal_hash(g) for _, g in pairs]
    search = _searcher(args, cfg, exclude=frozenset(hashes))
    store = Store(paths(args).store)
    trained = {r["hash"] for r in store.rows("goals", "split = 'train'")}
    found = [name for (name, _), h in zip(pairs, hashes) if h in trained]
    check = {"goals": len(pairs), "training_goals": len(trained), "goals_found_in_training": found,
             "clean": not found}
    rows = []
    for i in range(0, len(pairs), 8):  # a few goals per sampling call; progress between them
        chunk = pairs[i:i + 8]
        start = time.perf_counter()
        found = search([g for _, g in chunk], budgets)
        wall = (time.perf_counter() - start) / len(chunk) / len(budgets)  # shared sampling: an even share
        for (name, _), per in zip(chunk, found):
            for b in budgets:
                rows.append(_row(name, SPECIALIST, b, per[b], args.seed, wall))
                best.keep(rows[-1], per[b]["design"])
        progress.advance(task, len(chunk))
    return rows, check


def summarize(results: list[dict]) -> list[dict]:
    """Solve rate and median merit per (method, budget), in first-seen order; over several seeds,
    the median of each seed's figure (each seed's figures under "per_seed")."""
    keys = list(dict.fromkeys((r["method"], r["budget"]) for r in results))
    out = []
    for method, budget in keys:
        rows = [r for r in results if r["method"] == method and r["budget"] == budget]
        per_seed = []
        for seed in dict.fromkeys(r.get("seed", 0) for r in rows):
            mine = [r for r in rows if r.get("seed", 0) == seed]
            per_seed.append({"seed": seed, "solve_rate": float(np.mean([r["solved"] for r in mine])),
                             "median_merit": _median_merit(mine),
                             "wall_s": float(np.median([r.get("wall_s", 0.0) for r in mine]))})
        out.append({"method": method, "budget": budget,
                    "solve_rate": float(np.median([p["solve_rate"] for p in per_seed])),
                    "median_merit": _median_merit(per_seed, "median_merit"),
                    "wall_s": float(np.median([p["wall_s"] for p in per_seed])), "per_seed": per_seed})
    return out


def _median_merit(rows: list[dict], key: str = "merit") -> float | None:
    """The median merit, a row without a valid design counting as the worst; None where that is
    one (JSON has no infinity)."""
    m = float(np.median([np.inf if r[key] is None else r[key] for r in rows]))
    return m if np.isfinite(m) else None


def _merit_text(merit: float | None) -> str:
    return "-" if merit is None else f"{merit:.4g}"


def _render_goals(console: Console, results: list[dict]) -> None:
    """One row per goal, method and seed: the merit at each budget, '*' where solved."""
    budgets = sorted({r["budget"] for r in results})
    rows: dict[tuple, dict] = {}
    for r in results:
        rows.setdefault((r["goal"], r["method"], r.get("seed", 0)), {})[r["budget"]] = r
    seeds = len({key[2] for key in rows}) > 1
    table = Table(title=f"per goal ({count_note(len(rows), len(rows), 'rows')}: goal x method"
                        f"{' x seed' if seeds else ''}); merit at each budget, * where solved, - where nothing valid "
                        "was found")
    for col in ("goal", "method", *(["seed"] if seeds else []), *(f"budget {b}" for b in budgets)):
        table.add_column(col, justify="left" if col in ("goal", "method") else "right")
    for (goal, method, seed), by_budget in rows.items():
        cells = []
        for b in budgets:
            r = by_budget.get(b)
            found = r is not None and r["merit"] is not None and np.isfinite(r["merit"])
            cells.append(f"{r['merit']:.4g}" + ("*" if r["solved"] else "") if found else "-")
        table.add_row(goal, method, *([str(seed)] if seeds else []), *cells)
    console.print(table)


def _render(doc: dict) -> None:
    console = Console(file=sys.stdout)
    n_goals = len({r["goal"] for r in doc["results"]})
    seeds = doc.get("seeds", [0])
    over = f", median of {len(seeds)} seeds" if len(seeds) > 1 else ""
    _render_goals(console, doc["results"])
    rows = count_note(len(doc["summary"]), len(doc["summary"]), "rows")
    table = Table(title=f"bench over {n_goals} goals{over} ({rows}: method x budget)")
    for col in ("method", "budget", "solve rate", "median merit", "wall s per goal"):
        table.add_column(col, justify="right")
    for s in doc["summary"]:
        table.add_row(s["method"], str(s["budget"]), f"{s['solve_rate']:.1%}", _merit_text(s["median_merit"]),
                      f"{s['wall_s']:.2f}")
    console.print(table)
    if doc.get("by_family"):
        rows = count_note(len(doc["by_family"]), len(doc["by_family"]), "rows")
        table = Table(title=f"per family ({rows}: family x method x budget)")
        for col in ("family", "method", "budget", "solve rate", "median merit"):
            table.add_column(col, justify="right")
        for s in doc["by_family"]:
            table.add_row(s["family"], s["method"], str(s["budget"]), f"{s['solve_rate']:.1%}",
                          _merit_text(s["median_merit"]))
        console.print(table)
    check = doc.get("contamination")
    if check:
        verdict = "clean" if check["clean"] else f"CONTAMINATED: {', '.join(check['goals_found_in_training'])}"
        console.print(f"contamination check: {check['goals']} goals against {check['training_goals']} training "
                      f"goals by hash: {verdict}")
    for c in doc.get("classic", []):
        console.print(f"{c['problem']}: {c['summary']}")
    out = doc.get("out")
    if out:
        none = f"; {out['without_design']} goal and method pairs found no valid design" if out["without_design"] else ""
        console.print(f"wrote {out['designs']} designs (each method's best per goal) to {out['dir']}, listed in "
                      f"{out['index']}{none}")
