"""Sampling designs from the specialist: one cached decoder pass per token, batched over goals."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from specialist.model import ModelConfig, Specialist, empty_cache


@partial(jax.jit, static_argnames=("cfg",))
def sample(params, cfg: ModelConfig, cond_BxC, key, temperature=1.0):
    """tokens_BxT sampled autoregressively (T = cfg.max_tokens); read each row up to END.

    Args:
        params: the model's parameters.
        cfg: its configuration (static: one compile per configuration and batch shape).
        cond_BxC: conditioning of each row's goal.
        key: a PRNG key; the same key gives the same samples.
        temperature: softmax temperature; 0 would be greedy, use small values instead.
    """
    model = Specialist(cfg)
    B = cond_BxC.shape[0]

    def step(carry, pos):
        token_B, caches, key = carry
        key, sub = jax.random.split(key)
        logits_BxV, caches = model.apply(params, cond_BxC, token_B, pos, caches, method=Specialist.decode_step)
        token_B = jax.random.categorical(sub, logits_BxV / temperature).astype(jnp.int32)
        return (token_B, caches, key), token_B

    start = (jnp.zeros(B, jnp.int32), empty_cache(cfg, B), key)
    _, tokens_TxB = jax.lax.scan(step, start, jnp.arange(cfg.max_tokens))
    return tokens_TxB.T
