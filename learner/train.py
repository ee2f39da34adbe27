"""Online updates of the specialist: the training state, the optimizer and a pure train step.

Shape legend: B batch, T token positions, C conditioning features, V vocabulary.

One loss serves every phase: a weighted sum of per-row mean token cross-entropies.
- Pretraining and expert iteration: rows are designs known to be good (simulator-made pairs, the
  best verified or refined design of a goal), with positive weights summing to one.
- Group-relative policy gradient: rows are a round's sampled designs with weight
  pg_weight * w_goal * advantage / rows; a negative weight pushes a design's likelihood down.
  Minimising advantage * cross-entropy is ascending advantage * log-likelihood (per token).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from specialist.config import LearnerConfig
from specialist.domain import PAD
from specialist.model import ModelConfig, Specialist


class TrainState(NamedTuple):
    """Everything a checkpoint holds of the learner, as one pytree."""

    params: Any
    opt_state: Any
    step: jnp.ndarray
    rng: jnp.ndarray


def make_optimizer(cfg: LearnerConfig) -> optax.GradientTransformation:
    schedule = optax.linear_schedule(0.0, cfg.learning_rate, max(cfg.warmup_steps, 1))
    return optax.chain(optax.clip_by_global_norm(cfg.clip_norm),
                       optax.adamw(schedule, weight_decay=cfg.weight_decay))


def init_state(model_cfg: ModelConfig, optimizer, seed: int) -> TrainState:
    key, init_key = jax.random.split(jax.random.key(seed))
    cond = jnp.zeros((1, model_cfg.cond_dim), jnp.float32)
    tokens = jnp.zeros((1, model_cfg.max_tokens), jnp.int32)
    params = Specialist(model_cfg).init(init_key, cond, tokens)
    return TrainState(params, optimizer.init(params), jnp.zeros((), jnp.int32), jax.random.key_data(key))


def abstract_state(model_cfg: ModelConfig, cfg: LearnerConfig = LearnerConfig()) -> TrainState:
    """The TrainState's shapes and dtypes without computing it: a template to restore into."""
    return jax.eval_shape(lambda: init_state(model_cfg, make_optimizer(cfg), 0))


def pad_tokens(sequences: list[list[int]], length: int) -> np.ndarray:
    """Token rows padded with PAD to ``length`` (sequences longer than it are cut)."""
    out = np.full((len(sequences), length), PAD, np.int32)
    for i, seq in enumerate(sequences):
        out[i, : min(len(seq), length)] = seq[:length]
    return out


def loss_fn(params, model_cfg: ModelConfig, cond_BxC, tokens_BxT, weight_B):
    """Sum over rows of weight * mean token cross-entropy (up to and including END; PAD ignored)."""
    logits_BxTxV = Specialist(model_cfg).apply(params, cond_BxC, tokens_BxT)
    ce_BxT = optax.softmax_cross_entropy_with_integer_labels(logits_BxTxV, tokens_BxT)
    mask_BxT = (tokens_BxT != PAD).astype(ce_BxT.dtype)
    per_row_B = (ce_BxT * mask_BxT).sum(axis=1) / jnp.maximum(mask_BxT.sum(axis=1), 1.0)
    return (per_row_B * weight_B).sum()


def train_step(state: TrainState, batch: dict, model_cfg: ModelConfig, optimizer):
    """One update from a batch {"cond", "tokens", "weight"}: (new state, metrics)."""
    loss, grads = jax.value_and_grad(loss_fn)(state.params, model_cfg, batch["cond"], batch["tokens"],
                                              batch["weight"])
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    metrics = {"loss": loss, "grad_norm": optax.tree.norm(grads)}
    return TrainState(params, opt_state, state.step + 1, state.rng), metrics


class Learner:
    """Holds the training state; ``update`` applies the train step, jitted once at construction."""

    def __init__(self, model_cfg: ModelConfig, cfg: LearnerConfig = LearnerConfig(), seed: int = 0):
        self.model_cfg, self.optimizer = model_cfg, make_optimizer(cfg)
        self.state = init_state(model_cfg, self.optimizer, seed)
        self._step = jax.jit(lambda s, b: train_step(s, b, model_cfg, self.optimizer))

    def update(self, cond_BxC: np.ndarray, tokens: list[list[int]], weight_B: np.ndarray | None = None) -> dict:
        batch = {"cond": jnp.asarray(cond_BxC, jnp.float32),
                 "tokens": jnp.asarray(pad_tokens(tokens, self.model_cfg.max_tokens)),
                 "weight": jnp.asarray(np.full(len(tokens), 1.0 / len(tokens)) if weight_B is None else weight_B,
                                       jnp.float32)}
        self.state, metrics = self._step(self.state, batch)
        return {k: float(v) for k, v in metrics.items()}

