"""The learner as a worker: verified rounds in, parameter versions and checkpoints out.

    worker = LearnerWorker(domain, model_cfg, cfg, seed, store, checkpoints, heldout)  # restores
    version, params = worker.params()                 # what proposers sample from
    metrics = worker.learn(round_result)              # the spectrum phase, then online updates
    worker.checkpoint()                               # also every cfg.checkpoint_every steps

Two phases, told apart by the step alone, so a restart resumes the right one:
- spectrum (step < cfg.pretrain_steps): simulator-made (goal, design) pairs from the domain's
  Synthetic capability, ``synthetic(seed, count)``, seeded by the step (skipped without it);
- signal: expert iteration on the replay and simulator-made pairs (share
  cfg.synthetic_share), plus the group-relative policy gradient of the round's sampled
  designs, all weighted per goal by MGPO.

A parameter version is the learner step that produced it. Each checkpoint is recorded in the
store's model_versions table with the stream positions it was taken at.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from learner import mgpo
from learner.checkpoint import Checkpoints
from learner.replay import Replay
from learner.train import Learner, LearnerConfig
from specialist.core import Checked, Group, Learned
from specialist.domain import Domain, Synthetic, goal_hash
from specialist.model import ModelConfig
from specialist.store import Store


class LearnerWorker:
    """Holds the learner's state; restores the latest checkpoint and the replay at construction."""

    def __init__(self, domain: Domain, model_cfg: ModelConfig, cfg: LearnerConfig, seed: int,
                 store: Store, checkpoints: Checkpoints, heldout: frozenset = frozenset()):
        self.domain, self.cfg, self.store, self.checkpoints, self.seed = domain, cfg, store, checkpoints, seed
        self.learner = Learner(model_cfg, cfg, seed)
        self.replay = Replay(domain, exclude=frozenset(heldout))
        self.goal_weight: dict[str, float] = {}
        self.meta = {"domain": domain.spec.name, "model": dataclasses.asdict(model_cfg)}
        self.last_loss = float("nan")
        self.pretrain_examples = 0  # simulator-made pairs trained on by this process
        restored = checkpoints.restore(self.learner.state)
        if restored is not None:
            self.learner.state = restored[0]
        # Version 0 (the initial weights) is a version too; and a process killed between saving
        # a checkpoint and recording it leaves the record to write now.
        self.checkpoint()
        self.replay.load(store)
        self.rng = np.random.default_rng([seed, self.step])
        self.synthetic = domain.synthetic if isinstance(domain, Synthetic) else None

    @property
    def step(self) -> int:
        return int(self.learner.state.step)

    @property
    def pretraining(self) -> bool:
        return self.synthetic is not None and self.step < self.cfg.pretrain_steps

    def version(self) -> int:
        return self.step

    def params(self):
        """(version, parameters) to sample from."""
        return self.step, self.learner.state.params

    def learn(self, checked: Checked) -> Learned:
        """Offer a verified round's best designs to the replay, then train: spectrum-phase steps
        while pretraining, else online steps on the replay and the round's groups."""
        for best in checked.best:
            self.replay.offer(best.goal_hash, best.goal, best.design, best.merit)
        checkpointed = None
        pretraining = self.pretraining
        steps = self.cfg.pretrain_steps_per_round if pretraining else self.cfg.steps_per_round
        if pretraining or len(self.replay):
            groups = [g for g in checked.groups if g.goal_hash not in self.replay.exclude]
            pg = None  # the round's policy-gradient rows, encoded once for all its online steps

            def batch():
                nonlocal pg
                if self.pretraining:
                    return self._pretrain_batch()
                pg = pg or self._policy_rows(groups)
                return self._online_batch(*pg)

            checkpointed = self._train(steps, batch)
        return self._learned(checkpointed, "spectrum" if pretraining else "signal")

    def pretrain(self, steps: int) -> Learned:
        """``steps`` spectrum-phase updates on simulator-made pairs whatever the step (the
        standalone ``specialist pretrain``); checkpoints every ``checkpoint_every`` steps."""
        if self.synthetic is None:
            raise TypeError(f"domain '{self.domain.spec.name}' offers no Synthetic capability to pretrain on")
        return self._learned(self._train(steps, self._pretrain_batch), "spectrum")

    def _train(self, steps: int, batch) -> int | None:
        """``steps`` updates on ``batch()``; the step of the last checkpoint taken, if any."""
        checkpointed = None
        for _ in range(steps):
            self.last_loss = self._update(*batch())
            if self.step % self.cfg.checkpoint_every == 0:
                checkpointed = self.checkpoint()
        return checkpointed

    def _learned(self, checkpointed: int | None, phase: str) -> Learned:
        return Learned(loss=self.last_loss, step=self.step, replay_goals=len(self.replay), checkpoint=checkpointed,
                       phase=phase, contaminated_refused=len(self.replay.refused))

    def _synthetic_rows(self, count: int) -> list[tuple[np.ndarray, list[int]]]:
        """Encoded simulator-made pairs, seeded by (seed, step): a restart draws the same ones."""
        if count <= 0 or self.synthetic is None:
            return []
        pairs = self.synthetic(int(self.seed) * 1_000_003 + self.step, count)
        return [self.domain.encode(g, d) for g, d in pairs if goal_hash(g) not in self.replay.exclude]

    def _pretrain_batch(self):
        rows = self._synthetic_rows(self.cfg.batch_size)
        self.pretrain_examples += len(rows)
        return rows, np.full(len(rows), 1.0 / max(len(rows), 1))

    def _policy_rows(self, groups: list[Group]):
        """The round's policy-gradient rows (encoded), their weights and the padded batch width;
        records each goal's MGPO weight for its expert-iteration rows."""
        pg, pg_w, goal_w = mgpo.group_rows(groups, self.cfg.mgpo_lambda, self.cfg.pg_weight)
        self.goal_weight.update(goal_w)
        width = self.cfg.batch_size + sum(len(g.designs) for g in groups)
        return [self.domain.encode(g, d) for g, d in pg], list(pg_w), width

    def _online_batch(self, pg_rows: list, pg_weights: list, width: int):
        """Expert-iteration rows (replay + simulator-made) then the round's policy-gradient rows,
        padded to ``width`` with zero weights so the step compiles once."""
        n_syn = int(round(self.cfg.batch_size * self.cfg.synthetic_share)) if self.synthetic else 0
        keys = self.replay.sample_keys(self.cfg.batch_size - n_syn, self.rng)
        rows = [self.replay.best[h][1:] for h in keys] + self._synthetic_rows(n_syn)
        w = np.array([self.goal_weight.get(h, 1.0) for h in keys] + [1.0] * (len(rows) - len(keys)))
        weights = list(w / w.sum()) + pg_weights
        rows += pg_rows
        while len(rows) < width:  # padding rows: any row, weight zero
            rows.append(rows[0])
            weights.append(0.0)
        return rows, np.asarray(weights)

    def _update(self, rows, weights) -> float:
        if not rows:
            return self.last_loss
        cond = np.stack([c for c, _ in rows])
        return self.learner.update(cond, [t for _, t in rows], weights)["loss"]

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
