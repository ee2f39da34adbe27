"""The Domain plugin protocol and its registry.

A domain is everything the loop needs to know about one field. The loop calls it like this:

    train, heldout = domain.curriculum(seed)                # goal JSON dicts
    cond_C, _ = domain.encode(goal)                         # conditioning for the model
    tokens = model.sample(cond_C, domain.spec)              # the model writes a design
    design = domain.decode(goal, tokens)                    # tokens -> design JSON
    verdicts = domain.verify(goal, designs)                 # batched, exact
    designs, verdicts, spent = domain.refine(goal, designs, budget)   # test-time compute
    found = domain.from_record(record)                      # feeds -> goals, claims, measurements

Beyond these seven members a domain may offer optional capabilities, each a small protocol
below; the loop asks ``isinstance(domain, Synthetic)`` and the like, and goes without what a
missing one serves:

    Synthetic     synthetic(seed, count)                   simulator-made pairs: the spectrum phase
    Hindsight     hindsight(goal, designs, seed)           a verified design's own goal: more exact pairs
    Generator     generate(start, count)                   endless new training goals after the curriculum
    Optimizer     methods, optimize(goal, method, ...)     per-goal optimizers: bench, claims, the yardstick
    LabData       read_result, judge, calibrate            the lab's measured results and the calibration
    Curves        curves(goal, design)                     series the dashboard draws
    ClaimCheck    claim_figures(goal, design)              the figures a paper's claim states, simulated
    Benchmarks    validation_goals(), classic(...)         goals to tune on, and problems with known answers
    Families      families                                 the goal families daemon.skip_families may name
    Pretrained    weights()                                the weights a new daemon starts from
    Exports       export(goal, design)                     a design in the files its users make it from
    Tolerance     tolerance(goal, design, ...)             Monte Carlo over manufacturing errors
    Process       calibrated(goal, calibration)            a goal as the lab's calibrated coater makes it

Domains register through the entry-point group ``specialist.domains``; a domain that fails to
load is skipped with a warning, and asking for an unknown name lists the valid ones. A domain
package may also add commands to ``specialist`` through the group ``specialist.commands``.
"""

from __future__ import annotations

import hashlib
import json
import numbers
import warnings
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol, Sequence, runtime_checkable

import numpy as np

GROUP = "specialist.domains"
PAD, BOS, END = 0, 1, 2  # token ids every domain reserves


@dataclass(frozen=True)
class Spec:
    """What the model must know of a domain: its name, token vocabulary and conditioning size.

    Attributes:
        name: the domain's registry name.
        vocab_size: number of token ids, including PAD, BOS and END.
        max_tokens: longest design, in tokens, END included.
        cond_dim: length of the conditioning vector ``encode`` returns.
    """

    name: str
    vocab_size: int
    max_tokens: int
    cond_dim: int


@runtime_checkable
class Domain(Protocol):
    """A field the specialist can learn: see the module docstring for how the loop calls it."""

    spec: Spec

    def curriculum(self, seed: int) -> tuple[list[dict], list[dict]]:
        """(training goals, held-out goals): fixed for a seed, never overlapping."""

    def encode(self, goal: dict, design: dict | None = None) -> tuple[np.ndarray, list[int] | None]:
        """(conditioning float32 vector of spec.cond_dim, the design's tokens ending in END or None)."""

    def decode(self, goal: dict, tokens: Sequence[int]) -> dict:
        """The design a token sequence describes (reading stops at END; stray tokens are skipped)."""

    def verify(self, goal: dict, designs: Sequence[dict]) -> list[dict]:
        """Per design {"merit", "solved"}, or {"rejected": reason} for a broken constraint."""

    def refine(self, goal: dict, designs: Sequence[dict], budget: int) -> tuple[list[dict], list[dict], int]:
        """(improved designs, their verdicts, evaluations spent <= budget)."""

    def from_record(self, record: dict) -> dict[str, list[Any]]:
        """{"goals", "claims", "measurements"} found in a feed record (lists, possibly empty)."""



@runtime_checkable
class Synthetic(Protocol):
    """Training data for free: designs made at random, each with a goal it meets.

        pairs = domain.synthetic(seed, count)      # the learner's spectrum phase, seeded by its step
    """

    def synthetic(self, seed: int, count: int) -> list[tuple[dict, dict]]:
        """``count`` (goal, design) pairs, each design meeting its goal; the same for a seed."""


@runtime_checkable
class Hindsight(Protocol):
    """Every verified design is an exact answer to some goal: the one written from its own
    behaviour. The learner turns a round's verified designs (sampled and refined) into training
    pairs with it, so its data grows with every round:

        goals = domain.hindsight(goal, designs, seed)       # per design a goal it meets, or None
        rows = [domain.encode(g, d) for g, d in zip(goals, designs) if g is not None]
    """

    def hindsight(self, goal: dict, designs: list[dict], seed: int) -> list[dict | None]:
        """Per design, a goal with the same domain keys as ``goal`` (media, materials, limits)
        whose targets the design meets exactly (merit about 0), written from the design's own
        simulated behaviour; None for a design that is invalid for ``goal`` (or one the domain
        writes no goal for). The same for a seed."""


@runtime_checkable
class Generator(Protocol):
    """An endless supply of training goals, so the daemon never runs out of new ones.

        goals = domain.generate(start, count)      # the curriculum feed, poll after poll
    """

    def generate(self, start: int, count: int) -> list[dict]:
        """Goals ``start`` to ``start + count - 1`` of the domain's endless sequence, the same on
        every run; none equal to a goal of ``curriculum`` (the feed also drops any held-out or
        validation goal by hash)."""


@runtime_checkable
class Optimizer(Protocol):
    """Per-goal optimizers: the yardstick the specialist must beat.

        for method in domain.methods:              # `specialist bench`, the learning curve's reference
            found = domain.optimize(goal, method, budget, seed)
        designs = domain.starts(goal, count, seed)  # where its search would start: the portfolio
    """

    methods: tuple[str, ...]

    def optimize(self, goal: dict, method: str, budget: int, seed: int = 0) -> dict:
        """{"design" (None if nothing valid), "merit", "solved", "evaluations" <= budget}."""

    def starts(self, goal: dict, count: int, seed: int = 0) -> list[dict]:
        """``count`` designs the first method would start its search from (no evaluation spent)."""


@runtime_checkable
class LabData(Protocol):
    """The lab's measured results: their file format, their verdicts and the calibration.

        row = domain.read_result(csv, sidecar, csv_label, sidecar_label)   # the lab feed
        verdict = domain.judge(design, measurement, calibration)          # per result
        calibration = domain.calibrate(results_rows, steps)               # after new results
    """

    def read_result(self, csv_path: Path, sidecar_path: Path, csv_label: str, sidecar_label: str) -> dict:
        """A result pair as its ``results`` row; raises InputError naming the file and field."""

    def judge(self, design: dict, measurement: dict, calibration: dict | None = None) -> dict:
        """How far the measurement is from the (calibrated) simulation: at least {"rms_all"}."""

    def calibrate(self, results_rows: Iterable[dict], steps: int = 40) -> dict:
        """A calibration fitted on stored results: at least {"rms_before", "rms_after"}."""


@runtime_checkable
class Curves(Protocol):
    """What the dashboard draws of a design against its goal.

        series = domain.curves(goal, design)       # [{"panel", "label", "kind", "x", "y", "xlabel"}]
    """

    def curves(self, goal: dict, design: dict) -> list[dict]:
        """Plain series, "kind" "goal" or "design"; series sharing a panel share axes."""


@runtime_checkable
class ClaimCheck(Protocol):
    """A paper's claim about a stated design, simulated.

        figures = domain.claim_figures(goal, design)    # experiments.claims decides the verdict
    """

    def claim_figures(self, goal: dict, design: dict) -> list[dict]:
        """Per target of the claim's goal, the statistic it states (goal provenance "statistic":
        "average" or "bound") as simulated, next to the stated value: {"stated", "simulated",
        "statistic", "met"} plus what names the target."""


@runtime_checkable
class Benchmarks(Protocol):
    """Goals to choose settings on without touching the held-out set, and classic problems.

        goals = domain.validation_goals()                    # `specialist bench --validation`
        rows = domain.classic(search, budgets, seed)         # `specialist bench --classic`
        goals = domain.ood_goals(skipped_families)           # `specialist bench --ood`
    """

    def validation_goals(self) -> list[dict]:
        """Goals apart from the curriculum's training and held-out goals of every seed used."""

    def ood_goals(self, skipped: Sequence[str] = ()) -> list[dict]:
        """Goals outside anything training sees (whatever the domain holds out of pretraining
        and generation, and held-out goals of the ``skipped`` families), each with a
        ``provenance.family``: the out-of-distribution check."""

    def classic(self, search: Callable | None, budgets: Sequence[int], seed: int = 0) -> list[dict]:
        """Problems with known answers solved at each budget, by the optimizers and by ``search``
        (``search(goals, budgets)`` as ``Proposer.search``; None without a specialist):
        rows with at least {"problem", "summary"}."""


@runtime_checkable
class Families(Protocol):
    """The goal families (a goal's ``provenance.family``) the domain's goals carry, so that a
    configuration naming an unknown one is refused when the domain is loaded:

        unknown = set(cfg.daemon.skipped_families) - set(domain.families)
    """

    families: tuple[str, ...]


@runtime_checkable
class Pretrained(Protocol):
    """Weights the domain package ships, made by ``specialist pretrain --ship``; a daemon starts
    from them unless its configuration says otherwise (``learner.start_from``).

        folder = domain.weights()          # params.msgpack and meta.json (with provenance), or None
    """

    def weights(self) -> Path | None:
        """The folder of the shipped weights, or None if the package ships none."""


@runtime_checkable
class Exports(Protocol):
    """A design written in the forms the people who make it use (`specialist designs --export`).

        files = domain.export(goal, design)        # {"design.json": text, "layers.csv": text, ...}
    """

    def export(self, goal: dict, design: dict) -> dict[str, str]:
        """File suffix -> text: at least "design.json"; the command writes NAME.<suffix> for each."""


@runtime_checkable
class Tolerance(Protocol):
    """How a design holds up when it is made with errors (`specialist tolerance`, `designs --tolerance`).

        report = domain.tolerance(goal, design, thickness_pct=1.0, index_sigma=0.01, runs=200, seed=0)
    """

    def tolerance(self, goal: dict, design: dict, thickness_pct: float = 1.0, index_sigma: float = 0.01,
                  runs: int = 200, seed: int = 0) -> dict:
        """Monte Carlo over ``runs`` made copies, each layer's thickness off by a normal error of
        ``thickness_pct`` percent and each film material's index by one normal offset of
        ``index_sigma``: {"merit" (nominal), "mean", "std", "median", "p90", "solved_share",
        "runs", "thickness_pct", "index_sigma", "seed"}; a domain may add a per-part sensitivity
        as "sensitivity": [{"layer", "material", "thickness_nm", "dmerit_dnm", "merit_plus_1pct",
        "merit_minus_1pct"}, ...] with "most_sensitive_layers" (photonics does; the command line
        prints it where present)."""


@runtime_checkable
class Process(Protocol):
    """Goals made in a named deposition process are designed for the calibrated coater.

        goal = domain.calibrated(goal, calibration)    # the store's newest calibration (LabData)
    """

    def calibrated(self, goal: dict, calibration: dict | None) -> dict:
        """The goal with the calibration's corrections for its process attached, for verify and
        refine to score designs as the coater makes them; the goal itself where it names no
        process, where it pins its own calibration, or without a calibration."""


CAPABILITIES = (Synthetic, Hindsight, Generator, Optimizer, LabData, Curves, ClaimCheck, Benchmarks,
                Families, Pretrained, Exports, Tolerance, Process)


def available() -> dict[str, Any]:
    """Installed domain classes by name; a plugin that fails to import warns and is skipped."""
    found = {}
    for ep in entry_points(group=GROUP):
        try:
            found[ep.name] = ep.load()
        except Exception as err:  # a broken third-party plugin must not stop the daemon
            warnings.warn(f"domain plugin '{ep.name}' ({ep.value}) failed to load and is skipped: {err}")
    return found


def load(name: str) -> Domain:
    """An instance of the installed domain ``name``.

    Raises:
        KeyError: naming the valid domains.
    """
    domains = available()
    if name not in domains:
        raise KeyError(f"unknown domain '{name}'; installed domains: {', '.join(sorted(domains)) or 'none'}")
    return domains[name]()


def family(goal_json: dict) -> str:
    """A goal's family, from its provenance (``"all"`` when it names none)."""
    return str((goal_json.get("provenance") or {}).get("family", "all"))


def goal_hash(goal_json: dict) -> str:
    """sha256 (hex) of a goal's physics: every field but "name" and "provenance".

    Numbers are compared as floats rounded to 1e-9 (so 5 and 5.0 agree) in canonical JSON
    with sorted keys.
    """
    physics = {k: v for k, v in goal_json.items() if k not in ("name", "provenance")}
    text = json.dumps(_canonical(physics), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _canonical(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _canonical(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_canonical(v) for v in x]
    if isinstance(x, numbers.Real) and not isinstance(x, bool):
        return round(float(x), 9) + 0.0  # + 0.0 turns -0.0 into 0.0
    return x
