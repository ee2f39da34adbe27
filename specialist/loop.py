"""The loop's parts and their builders, shared by the daemon's actors and the in-process run.

    paths = Paths(data_dir)
    feeds, learner = build_feeds(cfg, paths), build_learner(cfg, paths)
    proposer, experiments = build_proposer(cfg, paths), build_experiments(cfg, paths)
    feeds.poll()
    batch = proposer.propose(round, round_goals(train_goals(store), round, cfg))    # propose
    result = experiments.check(batch)                                                # verify, refine
    learner.learn(result); proposer.set_params(learner.params())                    # learn

The daemon (specialist/daemon.py) runs each part in its own Ray actor and overlaps the stages;
``InProcess`` runs them one after the other in this process, for tests and for measuring what
the distribution costs.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from specialist import domain as domains
from specialist.config import Config
from specialist.store import Store

THREAD_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


@dataclasses.dataclass(frozen=True)
class Paths:
    """Where a daemon keeps its state: everything under one data directory."""

    data_dir: Path

    def __post_init__(self):
        object.__setattr__(self, "data_dir", Path(self.data_dir).absolute())

    @property
    def store(self) -> Path:
        return self.data_dir / "store.sqlite"

    @property
    def checkpoints(self) -> Path:
        return self.data_dir / "checkpoints"

    @property
    def logs(self) -> Path:
        return self.data_dir / "logs"

    @property
    def champion(self) -> Path:
        return self.data_dir / "champion"

    @property
    def quarantine(self) -> Path:
        return self.data_dir / "quarantine"

    @property
    def drop(self) -> Path:
        """The lab's drop folder unless ``feeds.drop_dir`` names another."""
        return self.data_dir / "drop"


def prepare_process(paths: Paths) -> None:
    """Per-process JAX settings: compiled functions persist under the data directory, so a
    restarted daemon or actor does not compile again what it compiled before."""
    import jax

    jax.config.update("jax_compilation_cache_dir", str(paths.data_dir / "jax-cache"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.1)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def model_config(cfg: Config, spec: domains.Spec):
    from specialist.model import ModelConfig

    return ModelConfig(spec.vocab_size, spec.max_tokens, spec.cond_dim, **dataclasses.asdict(cfg.model))


def build_feeds(cfg: Config, paths: Paths):
    """The curriculum, arXiv (if enabled) and the lab's drop folder; after each poll, pending
    claims are checked and, when new results arrived, the calibration is fitted again."""
    from experiments import claims, measurements
    from feeds.arxiv import ArxivConfig, ArxivFeed
    from feeds.curriculum import CurriculumFeed
    from feeds.lab import LabFeed
    from feeds.worker import FeedWorker

    prepare_process(paths)
    d, store, f = domains.load(cfg.daemon.domain), Store(paths.store), cfg.feeds
    feeds = [CurriculumFeed(d, cfg.daemon.seed)]
    if f.arxiv:
        feeds.append(ArxivFeed(d, paths.quarantine / "arxiv", ArxivConfig(
            query=f.arxiv_query, endpoint=f.arxiv_endpoint, delay_s=f.arxiv_delay_s, timeout_s=f.arxiv_timeout_s,
            max_results=f.arxiv_max_results, since=f.arxiv_since)))
    if hasattr(d, "read_result"):
        drop = Path(f.drop_dir).absolute() if f.drop_dir else paths.drop
        feeds.append(LabFeed(drop, d.read_result, measurements.Judge(store, d)))

    def check_claims(new: dict) -> dict:
        return {"claims": claims.check_pending(d, store, f.claims_per_poll, f.claim_budget)}

    def calibrate(new: dict) -> dict:
        fresh = any(new.get(feed.name) for feed in feeds if isinstance(feed, LabFeed))
        return {"calibration": measurements.calibrate(store, d, f.calibrate_steps) if fresh else None}

    return FeedWorker(store, feeds, after=[check_claims, calibrate])


def heldout_goals(d, cfg: Config) -> list[dict]:
    """The domain's held-out goals: evaluated on, never trained on."""
    return d.curriculum(cfg.daemon.seed)[1]


def build_learner(cfg: Config, paths: Paths):
    from learner.checkpoint import Checkpoints
    from learner.worker import LearnerWorker

    prepare_process(paths)
    d = domains.load(cfg.daemon.domain)
    heldout = frozenset(domains.goal_hash(g) for g in heldout_goals(d, cfg))
    return LearnerWorker(d, model_config(cfg, d.spec), cfg.learner, cfg.daemon.seed, Store(paths.store),
                         Checkpoints(paths.checkpoints), heldout)


def build_evaluation(cfg: Config, paths: Paths):
    from learner.evaluation import Evaluation

    prepare_process(paths)
    d = domains.load(cfg.daemon.domain)
    goals = heldout_goals(d, cfg)[: cfg.evaluation.heldout_goals or None]
    return Evaluation(d, model_config(cfg, d.spec), cfg.evaluation, goals, Store(paths.store), paths.champion,
                      cfg.daemon.seed)


def build_proposer(cfg: Config, paths: Paths):
    """A proposer holding the newest checkpointed parameters (the learner saves version 0 first)."""
    prepare_process(paths)
    proposer = load_proposer(paths, cfg.daemon.group, cfg.daemon.temperature, cfg.daemon.seed)
    if proposer is None:
        raise RuntimeError(f"no checkpoint under {paths.checkpoints}: the learner must start first")
    return proposer


def build_experiments(cfg: Config, paths: Paths):
    from experiments.worker import Experiments

    prepare_process(paths)
    return Experiments(domains.load(cfg.daemon.domain), Store(paths.store), cfg.experiments.refine_budget,
                       cfg.experiments.refine_top)


def train_goals(store: Store, skip_families: str = "") -> list[dict]:
    """The store's training goals as {"hash", "goal"}, in a fixed order, without the goals of the
    families named (comma-separated) in ``skip_families``."""
    skip = {f.strip() for f in skip_families.split(",") if f.strip()}
    return [{"hash": r["hash"], "goal": r["body"]} for r in store.rows("goals", "split = 'train' ORDER BY hash")
            if domains.family(r["body"]) not in skip]


def round_goals(goals: list[dict], round_: int, cfg: Config) -> list[dict]:
    """The goals of a round: each epoch visits every goal once, in an order fixed by the seed."""
    n, out = cfg.daemon.goals_per_round, []
    for k in range(round_ * n, (round_ + 1) * n):
        epoch, i = divmod(k, len(goals))
        out.append(goals[np.random.default_rng([cfg.daemon.seed, epoch]).permutation(len(goals))[i]])
    return out


def next_round(store: Store) -> int:
    """The first round not yet recorded in the store."""
    last = store.query("SELECT MAX(round) FROM hypotheses")[0][0]
    return 0 if last is None else int(last) + 1


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

    def step(self, learn: bool = True) -> dict:
        """One round: propose, verify and refine, then (optionally) learn; returns its summary."""
        batch = self.proposer.propose(self.round, round_goals(self.goals, self.round, self.cfg))
        result = self.experiments.check(batch)
        if learn:
            result["learner"] = self.learner.learn(result)
            self.proposer.set_params(self.learner.params())
        self.round += 1
        return result

    def run(self, seconds: float, learn: bool = True) -> dict:
        """Rounds for ``seconds`` of wall time: {"rounds", "verified", "seconds"}."""
        start, rounds, verified = time.perf_counter(), 0, 0
        while time.perf_counter() - start < seconds:
            verified += self.step(learn)["verified"]
            rounds += 1
        return {"rounds": rounds, "verified": verified, "seconds": time.perf_counter() - start}


def serving(paths: Paths, seed: int = 0, exclude: frozenset = frozenset()):
    """The specialist as it serves test-time search: the champion (else the newest checkpoint)
    and retrieval over the store's training goals, never offering the domain's held-out goals
    or ``exclude``; (None, None) without a checkpoint."""
    from learner.replay import Replay
    from specialist.config import EvaluationSection

    proposer = load_proposer(paths, EvaluationSection().samples, seed=seed, champion=True)
    if proposer is None:
        return None, None
    heldout = {domains.goal_hash(g) for g in proposer.domain.curriculum(seed)[1]}
    retrieval = Replay(proposer.domain, exclude=frozenset(heldout | set(exclude)))
    if paths.store.exists():
        retrieval.load(Store(paths.store))
    return proposer, retrieval


def load_proposer(paths: Paths, group: int, temperature: float = 1.0, seed: int = 0, champion: bool = False):
    """A proposer with the champion (if asked for and there is one) or else the newest
    checkpoint under ``paths``; None if there is neither."""
    from flax import serialization

    from learner.checkpoint import Checkpoints
    from learner.train import Learner, LearnerConfig
    from specialist.model import ModelConfig
    from specialist.proposer import Proposer

    champ = paths.champion / "meta.json"
    if champion and champ.exists():
        meta = json.loads(champ.read_text())
        model_cfg = ModelConfig(**meta["model"])
        template = Learner(model_cfg, LearnerConfig(), 0).state.params
        params = serialization.from_bytes(template, (paths.champion / "params.msgpack").read_bytes())
        version = int(meta["version"])
    else:
        checkpoints = Checkpoints(paths.checkpoints)
        meta = checkpoints.meta()
        if meta is None:
            return None
        model_cfg = ModelConfig(**meta["model"])
        state, _ = checkpoints.restore(Learner(model_cfg, LearnerConfig(), 0).state)
        params, version = state.params, int(state.step)
    return Proposer(domains.load(meta["domain"]), model_cfg, params, version, seed, group, temperature)
