"""The specialist as it serves ``specialist propose`` and ``specialist bench``: the data directory's
champion (else its newest checkpoint) with retrieval over the store's training goals.

    proposer, retrieval = serving(paths, cfg)              # (None, None) before any checkpoint
    result = proposer.best(goal, budget, ev.samples, retrieval, ev.retrieved, ev.refine_top)
"""

from __future__ import annotations

from learner.checkpoint import load_params, load_weights
from learner.replay import Replay
from specialist import domain as domains
from specialist.app.builders import heldout_goals, prepare_process, start_weights
from specialist.config import Config, ModelConfig
from specialist.paths import Paths
from specialist.proposer import Proposer
from specialist.store import Store


def serving(paths: Paths, cfg: Config, exclude: frozenset = frozenset()):
    """(proposer, retrieval) of the champion, else the newest checkpoint, else the weights a new
    learner would start from (``learner.start_from``), sampling ``cfg.evaluation.samples`` designs
    per goal; retrieval never offers the domain's held-out goals nor ``exclude``; (None, None)
    without any of them. Creates nothing under a data directory that does not exist."""
    if paths.data_dir.is_dir():  # serving only reads: a data directory that is not there (a typo) is not made
        prepare_process(paths)  # the data directory's compilation cache: a second propose compiles nothing
    found = load_params(paths.checkpoints, paths.champion) if paths.checkpoints.exists() else None
    if found is None:
        found = _start_weights(cfg)
    if found is None:
        return None, None
    meta, model_cfg, params, version = found
    domain = domains.load(meta["domain"])
    proposer = Proposer(domain, model_cfg, params, version, cfg.daemon.seed, cfg.evaluation.samples, 1.0)
    heldout = {domains.goal_hash(g) for g in heldout_goals(domain, cfg)}
    retrieval = Replay(domain, exclude=frozenset(heldout | set(exclude)))
    if paths.store.exists():
        retrieval.load(Store(paths.store))
    return proposer, retrieval


def _start_weights(cfg: Config):
    """(meta, model config, params, version) of the weights ``learner.start_from`` names, or None."""
    d = domains.load(cfg.daemon.domain)
    folder = start_weights(cfg, d)
    found = load_weights(folder, cfg.model.for_domain(d.spec)) if folder is not None else None
    if found is None:
        return None
    params, meta = found
    return meta, ModelConfig(**meta["model"]), params, 0
