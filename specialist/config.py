"""The daemon's configuration: one frozen dataclass tree, loaded from one TOML file.

One section per package; every field carries its documentation (units included) in its
metadata, so ``specialist run --print-config`` and README show the same words. A missing file
section or field takes its default: ``specialist run`` works without any file. A section may
hold a nested one (``[feeds.arxiv]``); fields marked ``from_domain`` are filled in from the
domain's Spec and are not set in the file.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import tomllib
from dataclasses import dataclass, field
from datetime import date
from importlib.metadata import entry_points
from typing import Any, Sequence
from urllib.parse import urlsplit

from specialist.domain import GROUP as DOMAINS
from specialist.errors import InputError

MAX_INT = 2**31 - 1  # the largest whole number a field takes (counts, steps, seeds)


def _f(default: Any, doc: str, from_domain: bool = False):
    return field(default=default, metadata={"doc": doc, "from_domain": from_domain})


@dataclass(frozen=True)
class DaemonConfig:
    domain: str = _f("photonics", "installed domain to learn (entry-point name)")
    seed: int = _f(0, "seed of the curriculum, the model's initial weights and all sampling")
    goals_per_round: int = _f(8, "goals proposed for in one round")
    group: int = _f(8, "designs sampled per goal in a round")
    temperature: float = _f(1.0, "sampling temperature of the proposer (> 0)")
    rounds_in_flight: int = _f(3, "rounds proposed ahead of verification, so stages overlap")
    skip_families: str = _f("", "comma-separated goal families (a goal's provenance.family) left out of "
                            "training, e.g. to measure forgetting when one arrives later")
    edge_share: float = _f(0.8, "share of a round's goals drawn towards the edge of ability: a family and "
                           "difficulty by the MGPO weight of its recent solve rate, then its goal worked on "
                           "least recently; the rest follow the uniform epochs (0: uniform epochs only)")
    edge_window: int = _f(2000, "newest verdicts of sampled designs behind each family's and difficulty's "
                          "solve rate")
    lab_share: float = _f(0.5, "most of a round's goals given to the lab's active goals (`specialist submit`): "
                          "each in every round while they fit, else in turn; at least one while any is active")

    @property
    def skipped_families(self) -> tuple[str, ...]:
        """The family names ``skip_families`` lists."""
        return names(self.skip_families)


@dataclass(frozen=True)
class ModelConfig:
    """The model's size (section [model]) and what the domain's Spec fixes (``for_domain``)."""

    vocab_size: int = _f(0, "token ids, from the domain's Spec", from_domain=True)
    max_tokens: int = _f(0, "longest design in tokens, from the domain's Spec", from_domain=True)
    cond_dim: int = _f(0, "conditioning features, from the domain's Spec", from_domain=True)
    width: int = _f(128, "transformer width")
    layers: int = _f(4, "transformer blocks")
    heads: int = _f(4, "attention heads (must divide width)")
    mlp_ratio: int = _f(4, "MLP hidden width / width")

    def for_domain(self, spec) -> "ModelConfig":
        """This size with the vocabulary, design length and conditioning of a domain's Spec."""
        return dataclasses.replace(self, vocab_size=spec.vocab_size, max_tokens=spec.max_tokens,
                                   cond_dim=spec.cond_dim)


@dataclass(frozen=True)
class LearnerConfig:
    learning_rate: float = _f(3e-4, "Adam step size, reached after the warm-up")
    weight_decay: float = _f(1e-4, "decoupled weight decay per step")
    clip_norm: float = _f(1.0, "global gradient-norm clip")
    warmup_steps: int = _f(50, "learner steps of linear learning-rate warm-up")
    batch_size: int = _f(64, "targets per learner step: simulator-made pairs while pretraining, then "
                         "replay (expert iteration) and simulator-made pairs")
    steps_per_round: int = _f(2, "learner steps per verified round")
    checkpoint_every: int = _f(100, "learner steps between orbax checkpoints (one more at shutdown)")
    pretrain_steps: int = _f(3000, "steps of the spectrum phase: simulator-made (goal, design) pairs only")
    pretrain_steps_per_round: int = _f(6, "spectrum-phase steps per verified round (rounds go on meanwhile)")
    synthetic_share: float = _f(0.25, "share of an online batch drawn from simulator-made pairs, so the "
                                "spectrum skill is rehearsed")
    hindsight_share: float = _f(0.25, "share of an online batch drawn from hindsight pairs: verified designs "
                                "(sampled and refined), each with a goal written from its own spectrum "
                                "(domains offering Hindsight)")
    hindsight_buffer: int = _f(4096, "hindsight pairs kept for online batches, the newest (0: none made)")
    hindsight_per_round: int = _f(32, "verified designs of a round turned into hindsight pairs at most "
                                  "(refined designs first, then sampled ones, chosen by the seed and round)")
    pg_weight: float = _f(0.5, "weight of the group-relative policy-gradient term next to expert iteration")
    mgpo_lambda: float = _f(2.0, "MGPO: a goal's weight is exp(-lambda * KL(p || 0.5)), p its group solve rate")
    start_from: str = _f("shipped", "weights a new learner starts from: 'shipped' (the domain's, when made for "
                         "this [model] size), 'scratch', or a folder of weights made by `specialist pretrain --ship`")


@dataclass(frozen=True)
class ExperimentsSection:
    workers: int = _f(1, "experiment actors verifying in parallel")
    refine_budget: int = _f(60, "evaluations of test-time refinement per goal and round (0: none)")
    refine_top: int = _f(2, "best sampled designs per goal handed to refinement")
    lab_refine_budget: int = _f(600, "evaluations of refinement per lab goal and round (`specialist submit`): the "
                                "lab's own goals get a real search each round (0: as refine_budget)")


@dataclass(frozen=True)
class EvaluationSection:
    every_steps: int = _f(300, "learner steps between held-out evaluations (and promotion decisions)")
    budgets: str = _f("1,10,100", "comma-separated evaluation budgets of the held-out evaluation")
    heldout_goals: int = _f(0, "evaluate on the first N held-out goals only (0: all of them)")
    # Test-time allocation chosen on a validation split (held-out goals of split seed 1), never the test set.
    samples: int = _f(32, "designs sampled per goal at test time (repeats dropped, ranked by likelihood)")
    retrieved: int = _f(8, "designs of the nearest known goals offered per goal at test time")
    refine_top: int = _f(1, "best candidates refined by gradient with the rest of the budget")
    gate_z: float = _f(2.0, "promotion gate: a candidate is refused if it loses more held-out goals than it "
                       "wins by more than gate_z standard deviations (McNemar)")
    baseline: str = _f("gradient", "per-goal optimizer drawn as the reference in the learning curve")
    registry_name: str = _f("", "MLflow registered model of promoted versions; empty: specialist-<domain>")


@dataclass(frozen=True)
class ArxivConfig:
    """How the arXiv feed asks the API (section [feeds.arxiv]); the defaults follow arXiv's terms of use."""

    enabled: bool = _f(True, "read new papers from arXiv")
    query: str = _f('cat:physics.optics AND (abs:"thin film" OR abs:coating OR abs:multilayer)',
                    "arXiv search query (API syntax); read newest first")
    endpoint: str = _f("https://export.arxiv.org/api/query", "arXiv API endpoint (a mirror or a recorded "
                       "server may stand in)")
    delay_s: float = _f(3.0, "seconds from the end of one arXiv request to the start of the next (arXiv asks "
                        "for at least 3)")
    timeout_s: float = _f(30.0, "seconds an arXiv request may take")
    max_results: int = _f(200, "papers read per poll, newest first, then back through the backlog (a poll "
                          "finishes the time stamp it is in)")
    since: str = _f("", "ISO date: how far back the backlog is read; empty: the whole listing")
    sort_by: str = _f("lastUpdatedDate", "listing order: lastUpdatedDate, or submittedDate (new versions then "
                      "stay where they were)")
    page_size: int = _f(100, "results per request, 1 to 100")
    retries: int = _f(4, "further tries after a 429/5xx, a timeout or a dropped connection")
    backoff_s: float = _f(5.0, "first wait after such a failure, doubled per try (or Retry-After), in seconds")
    empty_retries: int = _f(3, "further tries of an empty page where results were expected")

    def __post_init__(self):
        checks = [("page_size", 1 <= self.page_size <= 100, "1 to 100"),
                  ("delay_s", self.delay_s >= 0, ">= 0"), ("timeout_s", self.timeout_s > 0, "> 0"),
                  ("retries", self.retries >= 0, ">= 0"), ("empty_retries", self.empty_retries >= 0, ">= 0"),
                  ("max_results", self.max_results >= 1, ">= 1"), ("backoff_s", self.backoff_s >= 0, ">= 0"),
                  ("sort_by", self.sort_by in ARXIV_SORT_FIELDS, " or ".join(ARXIV_SORT_FIELDS)),
                  ("endpoint", _is_url(self.endpoint), "an http:// or https:// address with a host"),
                  ("since", _is_date(self.since), "an ISO date such as 2026-01-31, or empty")]
        for name, ok, allowed in checks:
            if not ok:
                raise InputError("arxiv config", name, f"is {getattr(self, name)!r}; allowed: {allowed}")


ARXIV_SORT_FIELDS = ("lastUpdatedDate", "submittedDate")


def _is_url(text: str) -> bool:
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _is_date(text: str) -> bool:
    try:
        return not text or bool(date.fromisoformat(text))
    except ValueError:
        return False


@dataclass(frozen=True)
class FeedsSection:
    poll_every_s: float = _f(60.0, "seconds between polls of the feeds (arXiv, the lab's drop folder)")
    arxiv: ArxivConfig = field(default_factory=ArxivConfig, metadata={"doc": "the arXiv feed"})
    generated_per_poll: int = _f(26, "new training goals from the domain's endless generator at each poll "
                                 "after the first (0: the fixed curriculum only)")
    drop_dir: str = _f("", "folder watched for lab results (NAME.csv + NAME.json); empty: <data-dir>/drop")
    goals_dir: str = _f("", "folder watched for the lab's goals (NAME.json, as `specialist submit` takes); "
                        "empty: <data-dir>/goals")
    claims_per_poll: int = _f(8, "claims from papers checked against the simulator after each poll")
    claim_budget: int = _f(300, "evaluations spent trying to reach a claim's stated performance")
    calibrate_steps: int = _f(40, "optimizer iterations of a calibration fit (run when new results arrive)")


@dataclass(frozen=True)
class RaySection:
    address: str = _f("", "existing cluster to join (e.g. 'ray://head:10001' or 'auto'); empty: start a "
                       "local one with token authentication and no dashboard")
    num_cpus: int = _f(0, "CPUs of a local cluster (0: all)")
    get_timeout_s: float = _f(300.0, "longest wait for any actor call, in seconds")
    max_restarts: int = _f(-1, "restarts of a failed actor (-1: unlimited)")


@dataclass(frozen=True)
class TrackingSection:
    uri: str = _f("", "MLflow tracking URI; empty: sqlite:///<data-dir>/mlflow.db")
    experiment: str = _f("specialist", "MLflow experiment name")
    log_every_s: float = _f(10.0, "seconds between metric writes")
    figure_every_s: float = _f(120.0, "seconds between refreshed spectrum figures")
    figure_goals: int = _f(3, "goals drawn in each figure refresh")


@dataclass(frozen=True)
class RetentionSection:
    """What the daemon keeps on disk (section [retention]); see specialist.app.retention."""

    hypotheses_days: float = _f(2.0, "days of complete hypotheses and verdicts kept, counted back from the "
                                "newest round; older rounds keep their aggregates, each goal's best and latest "
                                "designs, and every lab goal's verdict (a day kept holds about 3 GB of store at "
                                "the rate measured, 93 MB in 45 minutes)")
    every_minutes: float = _f(60.0, "minutes between compactions of the store and prunings of champion "
                                    "versions (one also runs at start)")
    keep_champions: int = _f(5, "newest champion versions the daemon registered that keep their registry entry "
                             "and artifacts; the champion alias's version, versions registered by hand and "
                             "versions with other tags are always kept")
    log_max_mb: float = _f(20.0, "size of the daemon log, in MiB, at which it is rotated")
    log_backups: int = _f(5, "rotated daemon logs kept (daemon.log.1 newest; at least 1)")

    def __post_init__(self):
        checks = [("hypotheses_days", self.hypotheses_days > 0, "a number of days > 0"),
                  ("every_minutes", self.every_minutes > 0, "a number of minutes > 0"),
                  ("keep_champions", self.keep_champions >= 0, "a whole number >= 0"),
                  ("log_max_mb", self.log_max_mb > 0, "a size in MiB > 0"),
                  ("log_backups", self.log_backups >= 1, "a whole number >= 1")]
        for name, ok, allowed in checks:
            if not ok:
                raise InputError("retention config", name, f"is {getattr(self, name)!r}; allowed: {allowed}")


@dataclass(frozen=True)
class Config:
    daemon: DaemonConfig = field(default_factory=DaemonConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    learner: LearnerConfig = field(default_factory=LearnerConfig)
    experiments: ExperimentsSection = field(default_factory=ExperimentsSection)
    evaluation: EvaluationSection = field(default_factory=EvaluationSection)
    feeds: FeedsSection = field(default_factory=FeedsSection)
    ray: RaySection = field(default_factory=RaySection)
    tracking: TrackingSection = field(default_factory=TrackingSection)
    retention: RetentionSection = field(default_factory=RetentionSection)


_POSITIVE = {"goals_per_round", "group", "temperature", "rounds_in_flight", "width", "layers", "heads",
             "edge_window", "mlp_ratio", "learning_rate", "batch_size", "checkpoint_every", "workers", "refine_top",
             "get_timeout_s", "log_every_s", "figure_every_s", "every_steps", "samples", "gate_z",
             "pretrain_steps_per_round", "poll_every_s", "timeout_s", "max_results"}


def load(path: str | None = None, overrides: dict[str, dict[str, Any]] | None = None) -> Config:
    """The configuration in a TOML file (None: defaults), with ``overrides`` applied per section.

    Raises:
        InputError: naming the file and the section.field at fault and what is allowed.
    """
    raw: dict[str, Any] = {}
    source = path or "configuration"
    if path is not None:
        try:
            with open(path, "rb") as fh:
                raw = tomllib.load(fh)
        except OSError as err:
            raise InputError(path, "", f"cannot be read ({err.strerror})") from None
        except tomllib.TOMLDecodeError as err:
            raise InputError(path, "", f"is not valid TOML ({err})") from None
        except UnicodeDecodeError as err:
            raise InputError(path, "", f"is not UTF-8 text, so not valid TOML (byte {err.start}); allowed: a "
                             "TOML text file") from None
    for name, values in (overrides or {}).items():
        raw.setdefault(name, {}).update(values)
    sections = {f.name: f.type for f in dataclasses.fields(Config)}
    for name in raw:
        if name not in sections:
            raise InputError(source, name, f"is not a section; allowed: {', '.join(sections)}")
    if isinstance(raw.get("feeds"), dict):
        raw["feeds"] = _nest_arxiv(raw["feeds"])
    parts = {name: _section(source, name, globals()[sections[name]], raw.get(name, {})) for name in sections}
    cfg = Config(**parts)
    int_list(cfg.evaluation.budgets, source, "evaluation.budgets")
    for where, share in (("learner.synthetic_share", cfg.learner.synthetic_share),
                         ("learner.hindsight_share", cfg.learner.hindsight_share),
                         ("daemon.edge_share", cfg.daemon.edge_share),
                         ("daemon.lab_share", cfg.daemon.lab_share)):
        if not 0.0 <= share <= 1.0:
            raise InputError(source, where, f"is {share!r}; allowed: 0 to 1")
    if cfg.learner.synthetic_share + cfg.learner.hindsight_share > 1.0:
        raise InputError(source, "learner.hindsight_share", f"is {cfg.learner.hindsight_share!r}, which with "
                         f"learner.synthetic_share {cfg.learner.synthetic_share!r} exceeds a whole batch; "
                         "allowed: the two shares summing to at most 1")
    installed = sorted(ep.name for ep in entry_points(group=DOMAINS))  # names only: no plugin imported
    if installed and cfg.daemon.domain not in installed:
        raise InputError(source, "daemon.domain", f"is {cfg.daemon.domain!r}; allowed: an installed domain "
                         f"({', '.join(installed)})")
    if cfg.model.width % cfg.model.heads:
        raise InputError(source, "model.heads", f"is {cfg.model.heads}, which does not divide model.width "
                         f"{cfg.model.width}; allowed: a divisor of the width")
    return cfg


def names(text: str) -> tuple[str, ...]:
    """The non-empty names of comma-separated text, stripped, in order."""
    return tuple(x.strip() for x in text.split(",") if x.strip())


def check_families(cfg: Config, families: Sequence[str], source: str) -> None:
    """Refuse ``daemon.skip_families`` naming a family the domain does not know.

    Only the domain knows its families, so the command that loads it calls this (this module
    imports no domain).

    Args:
        cfg: the loaded configuration.
        families: the domain's goal families (its ``Families`` capability).
        source: the configuration file, for the message.

    Raises:
        InputError: naming the file, the field, the unknown names and the allowed ones.
    """
    unknown = [f for f in cfg.daemon.skipped_families if f not in families]
    if unknown:
        listed = ", ".join(f"'{f}'" for f in unknown)
        raise InputError(source, "daemon.skip_families", f"names {listed}, which "
                         f"{'is not a goal family' if len(unknown) == 1 else 'are not goal families'} of domain "
                         f"'{cfg.daemon.domain}'; allowed: comma-separated names from {', '.join(families)}")


def int_list(text: str, source: str, field: str = "", least: int = 1) -> list[int]:
    """Whole numbers >= ``least`` from comma-separated text.

    Raises:
        InputError: naming ``source`` and ``field`` and what is allowed.
    """
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        values = []
    if not values or min(values) < least:
        raise InputError(source, field, f"is '{text}'; allowed: comma-separated whole numbers >= {least}")
    return values


def _nest_arxiv(feeds: dict) -> dict:
    """[feeds] with the flat arXiv names of earlier files (``arxiv = false``, ``arxiv_query = ...``)
    moved into its nested section [feeds.arxiv], so those files keep working."""
    out = {k: v for k, v in feeds.items() if k != "arxiv" and not k.startswith("arxiv_")}
    nested = feeds.get("arxiv", {})
    nested = {"enabled": nested} if isinstance(nested, bool) else nested
    flat = {k.removeprefix("arxiv_"): v for k, v in feeds.items() if k.startswith("arxiv_")}
    if flat or "arxiv" in feeds:
        out["arxiv"] = {**flat, **nested} if isinstance(nested, dict) else nested
    return out


def _section(source: str, name: str, cls: type, values: Any):
    if not isinstance(values, dict):
        raise InputError(source, name, "must be a table ([section]) of fields")
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("from_domain")}
    out = {}
    for key, value in values.items():
        where = f"{name}.{key}"
        if key not in fields:
            raise InputError(source, where, f"is not a field; allowed: {', '.join(fields)}")
        default = fields[key].default_factory() if fields[key].default is dataclasses.MISSING else fields[key].default
        if dataclasses.is_dataclass(default):  # a nested section, e.g. [feeds.arxiv]
            out[key] = _section(source, where, type(default), value)
            continue
        kind = type(default)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            if abs(value) > sys.float_info.max:
                raise InputError(source, where, f"is a whole number of {len(str(abs(value)))} digits; allowed: a "
                                 "finite number")
            value = float(value)
        if type(value) is not kind:
            raise InputError(source, where, f"is {value!r}; allowed: a {kind.__name__} "
                             f"({fields[key].metadata['doc']})")
        if kind is float and not math.isfinite(value):
            raise InputError(source, where, f"is {value!r}; allowed: a finite number")
        if kind is int and abs(value) > MAX_INT:
            raise InputError(source, where, f"is {value!r}; allowed: a whole number up to {MAX_INT}")
        if key in _POSITIVE and value <= 0:
            raise InputError(source, where, f"is {value!r}; allowed: a number > 0")
        if kind is int and value < 0 and key != "max_restarts":
            raise InputError(source, where, f"is {value!r}; allowed: a whole number >= 0")
        out[key] = value
    try:
        return cls(**out)
    except InputError as err:  # a section's own check (e.g. [feeds.arxiv]) names the file and field
        raise InputError(source, f"{name}.{err.field}", err.problem) from None


def _documented(part) -> list:
    """The fields of a section that a file may set."""
    return [f for f in dataclasses.fields(part) if not f.metadata.get("from_domain")]


def to_toml(cfg: Config = Config()) -> str:
    """``cfg`` as a TOML document, each field preceded by its documentation."""
    lines = ["# specialist configuration: every field is optional; shown with its current value."]
    for section in dataclasses.fields(cfg):
        lines += _toml_section(section.name, getattr(cfg, section.name))
    return "\n".join(lines) + "\n"


def _toml_section(name: str, part) -> list[str]:
    lines, nested = ["", f"[{name}]"], []
    for f in _documented(part):
        value = getattr(part, f.name)
        if dataclasses.is_dataclass(value):
            nested += _toml_section(f"{name}.{f.name}", value)
        else:
            lines += [f"# {f.metadata['doc']}", f"{f.name} = {_toml_value(value)}"]
    return lines + nested


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        # JSON's escapes are TOML's; DEL, which TOML also forbids raw, JSON leaves as it is
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    return repr(value)


def as_params(cfg: Config) -> dict[str, str]:
    """Flat ``section.field -> value`` strings (the tracking run's parameters)."""
    return dict(_flat("", cfg))


def _flat(prefix: str, part) -> list[tuple[str, str]]:
    out = []
    for f in _documented(part):
        value = getattr(part, f.name)
        out += _flat(f"{prefix}{f.name}.", value) if dataclasses.is_dataclass(value) else [(prefix + f.name, str(value))]
    return out
