"""The learner as a worker: verified rounds in, parameter versions and checkpoints out.

    worker = LearnerWorker(domain, model_cfg, cfg, seed, store, checkpoints, heldout)  # restores
    version, params = worker.params()                 # what proposers sample from
    metrics = worker.learn(round_result)              # the spectrum phase, then online updates
    worker.checkpoint()                               # also every cfg.checkpoint_every steps

Two phases, told apart by the step alone, so a restart resumes the right one:
- spectrum (step < cfg.pretrain_steps): simulator-made (goal, design) pairs from the domain's
  Synthetic capability, ``synthetic(seed, count)``, seeded by the step (skipped without it);
- signal: expert iteration on the replay, simulator-made pairs (share cfg.synthetic_share)
  and hindsight pairs (share cfg.hindsight_share), plus the group-relative policy gradient of
  the round's sampled designs, all weighted per goal by MGPO.

Hindsight pairs (domains offering Hindsight): every round, up to cfg.hindsight_per_round of its
verified designs (refined ones first, then valid sampled ones drawn by the seed and round) each
get a goal written from their own behaviour, ``domain.hindsight(goal, designs, seed)``, which
they meet exactly; the encoded pairs go to a buffer of the newest cfg.hindsight_buffer rows. A
pair whose goal has a held-out goal's hash is dropped. The buffer lives in memory: a restarted
learner starts it afresh.

A parameter version is the learner step that produced it. Each checkpoint is recorded in the
store's model_versions table with the stream positions it was taken at.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from learner import mgpo
from learner.checkpoint import Checkpoints, load_weights
from learner.replay import Replay
from learner.train import Learner, LearnerConfig
from specialist.core import Checked, Group, Learned
from specialist.domain import Domain, Hindsight, Synthetic, goal_hash
from specialist.model import ModelConfig
from specialist.store import Store


def synthetic_rows(domain: Synthetic, seed: int, step: int, count: int,
                   exclude: frozenset = frozenset()) -> list[tuple[np.ndarray, list[int]]]:
    """The encoded simulator-made pairs of one learner step, seeded by (seed, step): a restart,
    or another process, draws the same ones. Pairs whose goal is in ``exclude`` are dropped."""
    pairs = domain.synthetic(int(seed) * 1_000_003 + int(step), count)
    return [domain.encode(g, d) for g, d in pairs if goal_hash(g) not in exclude]


def hindsight_picks(groups: list[Group], limit: int, rng: np.random.Generator) -> list[tuple[Group, list[dict]]]:
    """At most ``limit`` of a round's verified designs, per goal in the groups' order: every
    refined design first (the round's best), then valid sampled designs (merit not None) drawn
    without replacement by ``rng``; a design repeated within a goal counts once."""
    refined, sampled = [], []
    for k, g in enumerate(groups):
        seen = set()
        for pool, designs in ((refined, g.refined),
                              (sampled, [d for d, m in zip(g.designs, g.merits) if m is not None])):
            for d in designs:
                key = json.dumps(d, sort_keys=True, default=str)
                if key not in seen:
                    seen.add(key)
                    pool.append((k, d))
    chosen = refined[:limit]
    room = min(limit - len(chosen), len(sampled))
    if room > 0:
        chosen += [sampled[i] for i in sorted(rng.choice(len(sampled), size=room, replace=False))]
    return [(g, [d for j, d in chosen if j == k]) for k, g in enumerate(groups) if any(j == k for j, _ in chosen)]


class LearnerWorker:
    """Holds the learner's state; restores the latest checkpoint and the replay at construction."""

    def __init__(self, domain: Domain, model_cfg: ModelConfig, cfg: LearnerConfig, seed: int,
                 store: Store, checkpoints: Checkpoints, heldout: frozenset = frozenset(),
                 start_from: Path | None = None):
        self.domain, self.cfg, self.store, self.checkpoints, self.seed = domain, cfg, store, checkpoints, seed
        self.learner = Learner(model_cfg, cfg, seed)
        self.replay = Replay(domain, exclude=frozenset(heldout))
        self.goal_weight: dict[str, float] = {}
        self.meta = {"domain": domain.spec.name, "model": dataclasses.asdict(model_cfg)}
        self.last_loss = float("nan")
        self.pretrain_examples = 0  # simulator-made pairs trained on by this process
        restored = checkpoints.restore(self.learner.state)
        self.started_from = None  # the weights a fresh learner started from, if any
        if restored is not None:
            self.learner.state = restored[0]
        elif start_from is not None:
            self._start_from(Path(start_from), model_cfg)
        # Version 0 (the initial weights) is a version too; and a process killed between saving
        # a checkpoint and recording it leaves the record to write now.
        self.checkpoint()
        self.replay.load(store)
        self.rng = np.random.default_rng([seed, self.step])
        self.synthetic = domain.synthetic if isinstance(domain, Synthetic) else None
        self.hindsight = domain.hindsight if isinstance(domain, Hindsight) and cfg.hindsight_buffer > 0 else None
        self.hindsight_buffer: list[tuple[np.ndarray, list[int]]] = []  # encoded pairs, oldest first
        self.hindsight_rows = 0  # hindsight pairs made by this process

    def notes(self) -> list[str]:
        """What restoring had to say, one sentence each: checkpoints that could not be read, set aside."""
        return list(self.checkpoints.skipped)

    def _start_from(self, folder: Path, model_cfg: ModelConfig) -> None:
        """Parameters from shipped weights, the step advanced past the spectrum phase they did
        (the optimizer's moments start afresh)."""
        found = load_weights(folder, model_cfg)
        if found is None:
            return
        params, meta = found
        steps = int((meta.get("provenance") or {}).get("steps", meta.get("version", 0)))
        self.learner.state = self.learner.state._replace(params=params, step=jnp.asarray(steps, jnp.int32))
        self.started_from = {"folder": str(folder), "steps": steps, "provenance": meta.get("provenance")}

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
        """Offer a verified round's best designs to the replay and its verified designs to the
        hindsight buffer, then train: spectrum-phase steps while pretraining, else online steps on
        the replay, the hindsight buffer and the round's groups."""
        for best in checked.best:
            self.replay.offer(best.goal_hash, best.goal, best.design, best.merit)
        groups = [g for g in checked.groups if g.goal_hash not in self.replay.exclude]
        self._add_hindsight(checked.round, groups)
        checkpointed = None
        pretraining = self.pretraining
        steps = self.cfg.pretrain_steps_per_round if pretraining else self.cfg.steps_per_round
        if pretraining or len(self.replay):
            pg = None  # the round's policy-gradient rows, encoded once for all its online steps

            def batch():
                nonlocal pg
                if self.pretraining:
                    return self._pretrain_batch()
                pg = pg or self._policy_rows(groups)
                return self._online_batch(*pg)

            checkpointed = self._train(steps, batch)
        return self._learned(checkpointed, "spectrum" if pretraining else "signal")

    def pretrain(self, steps: int, batches=None) -> Learned:
        """``steps`` spectrum-phase updates on simulator-made pairs whatever the step (the
        standalone ``specialist pretrain``); checkpoints every ``checkpoint_every`` steps.

        ``batches``: an iterator of the rows of each step, in step order, as ``synthetic_rows``
        makes them (e.g. in worker processes); by default they are made here."""
        if self.synthetic is None:
            raise TypeError(f"domain '{self.domain.spec.name}' offers no Synthetic capability to pretrain on")
        batch = self._pretrain_batch if batches is None else lambda: self._weighted(next(batches))
        return self._learned(self._train(steps, batch), "spectrum")

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
                       phase=phase, contaminated_refused=len(self.replay.refused), hindsight_rows=self.hindsight_rows)

    def _add_hindsight(self, round_: int, groups: list[Group]) -> None:
        """Hindsight pairs of the round's verified designs into the buffer (the newest
        ``cfg.hindsight_buffer`` kept); pairs whose goal is held out are dropped."""
        if self.hindsight is None or self.cfg.hindsight_per_round <= 0:
            return
        rng = np.random.default_rng([self.seed, round_, 0x41D5])
        for k, (group, designs) in enumerate(hindsight_picks(groups, self.cfg.hindsight_per_round, rng)):
            seed = int(np.random.SeedSequence([self.seed, round_, k]).generate_state(1)[0])
            for goal, design in zip(self.hindsight(group.goal, designs, seed), designs):
                if goal is not None and goal_hash(goal) not in self.replay.exclude:
                    self.hindsight_buffer.append(self.domain.encode(goal, design))
                    self.hindsight_rows += 1
        del self.hindsight_buffer[:max(0, len(self.hindsight_buffer) - self.cfg.hindsight_buffer)]

    def _synthetic_rows(self, count: int) -> list[tuple[np.ndarray, list[int]]]:
        if count <= 0 or self.synthetic is None:
            return []
        return synthetic_rows(self.domain, self.seed, self.step, count, self.replay.exclude)

    def _pretrain_batch(self):
        return self._weighted(self._synthetic_rows(self.cfg.batch_size))

    def _weighted(self, rows):
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
        """Expert-iteration rows (replay + simulator-made + hindsight, ``batch_size`` in all) then
        the round's policy-gradient rows, padded to ``width`` with zero weights so the step
        compiles once."""
        size, buffer = self.cfg.batch_size, self.hindsight_buffer
        n_syn = int(round(size * self.cfg.synthetic_share)) if self.synthetic else 0
        n_hind = min(int(round(size * self.cfg.hindsight_share)), size - n_syn) if buffer else 0
        keys = self.replay.sample_keys(size - n_syn - n_hind, self.rng)
        hind = [buffer[i] for i in self.rng.integers(0, len(buffer), n_hind)] if n_hind else []
        rows = [self.replay.best[h][1:] for h in keys] + self._synthetic_rows(n_syn) + hind
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
