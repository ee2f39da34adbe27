"""The loop's workers built from the configuration, shared by the daemon's actors and ``InProcess``.

    paths = Paths(data_dir)
    feeds, learner = build_feeds(cfg, paths), build_learner(cfg, paths)
    proposer, experiments = build_proposer(cfg, paths), build_experiments(cfg, paths)
    feeds.poll("curriculum")
    tasks = round_goals(train_goals(store), round, cfg)
    learner.learn(experiments.check(proposer.propose(round, tasks)))        # one round
    proposer.set_params(learner.params())

Each builder takes only (cfg, paths) and returns a plain worker (``specialist.core`` has their
protocols). The daemon's actors (``specialist.app.actors``) call them inside their own
processes; ``InProcess`` calls them here and runs the stages one after the other, for tests and
for measuring what the distribution costs.
"""

from __future__ import annotations

import time
from pathlib import Path

import jax

from experiments import claims, measurements
from experiments.worker import Experiments
from feeds.arxiv import ArxivFeed
from feeds.curriculum import CurriculumFeed
from feeds.lab import LabFeed
from feeds.labgoals import GoalsFeed, LabGoals, active as lab_goals
from feeds.worker import FeedWorker
from learner.checkpoint import Checkpoints, load_params
from learner.evaluation import Evaluation
from learner.worker import LearnerWorker
from specialist import domain as domains
from specialist.app.schedule import next_round, round_goals, train_goals
from specialist.config import Config
from specialist.core import Checked
from specialist.errors import InputError
from specialist.paths import Paths
from specialist.proposer import Proposer
from specialist.store import Store


def prepare_process(paths: Paths) -> None:
    """Per-process JAX settings: compiled functions persist under the data directory, so a
    restarted daemon or actor does not compile again what it compiled before."""
    jax.config.update("jax_compilation_cache_dir", str(paths.jax_cache))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.1)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def heldout_goals(d: domains.Domain, cfg: Config) -> list[dict]:
    """The domain's held-out goals: evaluated on, never trained on."""
    return d.curriculum(cfg.daemon.seed)[1]


def build_feeds(cfg: Config, paths: Paths) -> FeedWorker:
    """The curriculum (with the domain's Generator), arXiv (if enabled), the lab goals' drop
    folder and, for a domain with LabData, the lab results' drop folder; after each poll, pending claims are checked and, when new
    results arrived, the calibration is fitted again and the lab goals made in a process have
    their best designs verified again under it."""
    prepare_process(paths)
    d, store, f = domains.load(cfg.daemon.domain), Store(paths.store), cfg.feeds
    feeds = [CurriculumFeed(d, cfg.daemon.seed, f.generated_per_poll)]
    if f.arxiv.enabled:
        feeds.append(ArxivFeed(d, paths.quarantine / "arxiv", f.arxiv))
    goals_drop = Path(f.goals_dir).absolute() if f.goals_dir else paths.goals_drop
    feeds.append(GoalsFeed(goals_drop, LabGoals(store, d, cfg.daemon.seed)))
    if isinstance(d, domains.LabData):
        drop = Path(f.drop_dir).absolute() if f.drop_dir else paths.drop
        feeds.append(LabFeed(drop, d.read_result, measurements.Judge(store, d)))

    def check_claims(new: dict) -> dict:
        return {"claims": claims.check_pending(d, store, f.claims_per_poll, f.claim_budget)}

    def calibrate(new: dict) -> dict:
        fresh = any(new.get(feed.name) for feed in feeds if isinstance(feed, LabFeed))
        cal = measurements.calibrate(store, d, f.calibrate_steps) if fresh else None
        return {"calibration": cal, "recalibrated": measurements.recompute(store, d, cal) if cal else None}

    return FeedWorker(store, feeds, after=[check_claims, calibrate])


def build_learner(cfg: Config, paths: Paths) -> LearnerWorker:
    """The learner, restored from the data directory's last checkpoint (or, the first time,
    started from ``learner.start_from``), refusing held-out goals."""
    prepare_process(paths)
    d = domains.load(cfg.daemon.domain)
    heldout = frozenset(domains.goal_hash(g) for g in heldout_goals(d, cfg))
    return LearnerWorker(d, cfg.model.for_domain(d.spec), cfg.learner, cfg.daemon.seed, Store(paths.store),
                         Checkpoints(paths.checkpoints), heldout, start_weights(cfg, d))


def start_weights(cfg: Config, d: domains.Domain) -> Path | None:
    """The folder of weights a new learner starts from (``learner.start_from``), or None."""
    choice = cfg.learner.start_from
    if choice == "scratch":
        return None
    if choice == "shipped":
        return d.weights() if isinstance(d, domains.Pretrained) else None
    folder = Path(choice).expanduser().absolute()
    if not (folder / "meta.json").exists() or not (folder / "params.msgpack").exists():
        raise InputError("learner.start_from", "", f"is '{choice}', which holds no weights (params.msgpack and "
                         "meta.json); allowed: 'shipped', 'scratch' or a folder made by `specialist pretrain --ship`")
    return folder


def build_evaluation(cfg: Config, paths: Paths) -> Evaluation:
    """Held-out evaluation and the promotion gate, keeping the champion under the data directory."""
    prepare_process(paths)
    d = domains.load(cfg.daemon.domain)
    goals = heldout_goals(d, cfg)[: cfg.evaluation.heldout_goals or None]
    return Evaluation(d, cfg.model.for_domain(d.spec), cfg.evaluation, goals, Store(paths.store), paths.champion,
                      cfg.daemon.seed)


def build_proposer(cfg: Config, paths: Paths) -> Proposer:
    """A proposer holding the newest checkpointed parameters (the learner saves version 0 first)."""
    prepare_process(paths)
    found = load_params(paths.checkpoints)
    if found is None:
        raise RuntimeError(f"no checkpoint under {paths.checkpoints}: the learner must start first")
    meta, model_cfg, params, version = found
    return Proposer(domains.load(meta["domain"]), model_cfg, params, version, cfg.daemon.seed, cfg.daemon.group,
                    cfg.daemon.temperature)


def build_experiments(cfg: Config, paths: Paths) -> Experiments:
    """Verification and test-time refinement of proposals, writing to the store."""
    prepare_process(paths)
    return Experiments(domains.load(cfg.daemon.domain), Store(paths.store), cfg.experiments.refine_budget,
                       cfg.experiments.refine_top, cfg.experiments.lab_refine_budget)


class InProcess:
    """The loop's stages called one after the other in this process."""

    def __init__(self, cfg: Config, paths: Paths):
        self.cfg, self.store = cfg, Store(paths.store)
        self.feeds = build_feeds(cfg, paths)
        self.feeds.poll("curriculum")
        self.learner = build_learner(cfg, paths)
        self.proposer, self.experiments = build_proposer(cfg, paths), build_experiments(cfg, paths)
        self.goals = train_goals(self.store, cfg.daemon.skip_families)
        self.round = next_round(self.store)

    def step(self, learn: bool = True) -> Checked:
        """One round: propose, verify and refine, then (optionally) learn; returns the check."""
        tasks = round_goals(self.goals, self.round, self.cfg, self.store, lab_goals(self.store))
        proposals = self.proposer.propose(self.round, tasks)
        checked = self.experiments.check(proposals)
        if learn:
            self.learner.learn(checked)
            self.proposer.set_params(self.learner.params())
        self.round += 1
        return checked

    def run(self, seconds: float, learn: bool = True) -> dict:
        """Rounds for ``seconds`` of wall time: {"rounds", "verified", "seconds"}."""
        start, rounds, verified = time.perf_counter(), 0, 0
        while time.perf_counter() - start < seconds:
            verified += self.step(learn).verified
            rounds += 1
        return {"rounds": rounds, "verified": verified, "seconds": time.perf_counter() - start}
