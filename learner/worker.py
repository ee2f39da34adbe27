"""The learner as a worker: verified rounds in, parameter versions and checkpoints out.

    worker = LearnerWorker(domain, model_cfg, cfg, seed, store, checkpoints)   # restores if it can
    version, params = worker.params()                 # what proposers sample from
    metrics = worker.learn(round_result)              # replay.offer + cfg.steps_per_round updates
    worker.checkpoint()                               # also every cfg.checkpoint_every steps

A parameter version is the learner step that produced it. Each checkpoint is recorded in the
store's model_versions table with the stream positions it was taken at.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from learner.checkpoint import Checkpoints
from learner.replay import Replay
from learner.train import Learner, LearnerConfig
from specialist.domain import Domain
from specialist.model import ModelConfig
from specialist.store import Store


class LearnerWorker:
    """Holds the learner's state; restores the latest checkpoint and the replay at construction."""

    def __init__(self, domain: Domain, model_cfg: ModelConfig, cfg: LearnerConfig, seed: int,
                 store: Store, checkpoints: Checkpoints):
        self.cfg, self.store, self.checkpoints = cfg, store, checkpoints
        self.learner = Learner(model_cfg, cfg, seed)
        self.replay = Replay(domain)
        self.meta = {"domain": domain.spec.name, "model": dataclasses.asdict(model_cfg)}
        self.last_loss = float("nan")
        restored = checkpoints.restore(self.learner.state)
        if restored is not None:
            self.learner.state = restored[0]
        # Version 0 (the initial weights) is a version too; and a process killed between saving
        # a checkpoint and recording it leaves the record to write now.
        self.checkpoint()
        self.replay.load(store)
        self.rng = np.random.default_rng([seed, self.step])

    @property
    def step(self) -> int:
        return int(self.learner.state.step)

    def version(self) -> int:
        return self.step

    def params(self):
        """(version, parameters) to sample from."""
        return self.step, self.learner.state.params

    def learn(self, result: dict) -> dict:
        """Offer a verified round's best designs to the replay, then train on replay batches."""
        for best in result["best"]:
            self.replay.offer(best["goal_hash"], best["goal"], best["design"], best["merit"])
        checkpointed = None
        if len(self.replay):
            for _ in range(self.cfg.steps_per_round):
                cond, tokens = self.replay.sample(self.cfg.batch_size, self.rng)
                self.last_loss = self.learner.update(cond, tokens)["loss"]
                if self.step % self.cfg.checkpoint_every == 0:
                    checkpointed = self.checkpoint()
        return {"loss": self.last_loss, "step": self.step, "replay_goals": len(self.replay),
                "checkpoint": checkpointed}

    def checkpoint(self) -> int:
        """Save the state with the store's stream positions; record the version; returns the step."""
        cursors = {row["stream"]: row["position"] for row in self.store.rows("cursors")}
        step = self.checkpoints.save(self.learner.state, {**self.meta, "cursors": cursors})  # no-op if saved
        self.store.put("model_versions", {"version": step, "step": step,
                                          "checkpoint": str(self.checkpoints.directory / str(step)),
                                          "metrics": {"loss": self.last_loss if np.isfinite(self.last_loss)
                                                      else None, "replay_goals": len(self.replay)},
                                          "created_at": time.time()})
        return step
