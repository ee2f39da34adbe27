"""The specialist: a small decoder-only transformer that writes a design token by token.

Shape legend: B batch, C conditioning features, T token positions, V vocabulary, D model width,
H heads, K head width (D / H).

The goal's conditioning vector becomes the first position (a learned prefix); position t + 1
then predicts token t. ``decode_step`` runs one position with a key/value cache so sampling a
design costs one pass per token, not one full forward per token.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from specialist.config import ModelConfig  # the model's one config: [model] plus the domain's Spec


class Block(nn.Module):
    cfg: ModelConfig

    @nn.compact
    def __call__(self, x_BxTxD, cache=None, pos=None):
        cfg = self.cfg
        K = cfg.width // cfg.heads
        h = nn.LayerNorm()(x_BxTxD)
        qkv_BxTx3D = nn.Dense(3 * cfg.width, use_bias=False)(h)
        q, k, v = jnp.split(qkv_BxTx3D.reshape(*h.shape[:2], 3 * cfg.heads, K), 3, axis=2)
        if cache is not None:  # one new position: write it into the cache, attend to all so far
            k = jax.lax.dynamic_update_slice(cache[0], k, (0, pos, 0, 0))
            v = jax.lax.dynamic_update_slice(cache[1], v, (0, pos, 0, 0))
            cache = (k, v)
            mask_1xT = (jnp.arange(k.shape[1]) <= pos)[None, None, None, :]
        else:
            T = x_BxTxD.shape[1]
            mask_1xT = jnp.tril(jnp.ones((T, T), bool))[None, None]
        logits_BxHxTxT = jnp.einsum("bqhk,bthk->bhqt", q, k) / jnp.sqrt(K).astype(q.dtype)
        attn = jax.nn.softmax(jnp.where(mask_1xT, logits_BxHxTxT, -1e9), axis=-1)
        out_BxTxD = jnp.einsum("bhqt,bthk->bqhk", attn, v).reshape(x_BxTxD.shape)
        x_BxTxD = x_BxTxD + nn.Dense(cfg.width, use_bias=False)(out_BxTxD)
        h = nn.LayerNorm()(x_BxTxD)
        h = nn.Dense(cfg.width)(nn.gelu(nn.Dense(cfg.mlp_ratio * cfg.width)(h)))
        return x_BxTxD + h, cache


class Specialist(nn.Module):
    """Goal conditioning in, next-token logits out."""

    cfg: ModelConfig

    def setup(self):
        cfg = self.cfg
        self.cond_in = nn.Sequential([nn.Dense(cfg.width), nn.gelu, nn.Dense(cfg.width)])
        self.embed = nn.Embed(cfg.vocab_size, cfg.width)
        # float32 explicitly: the solver enables 64-bit JAX process-wide, the model stays 32-bit.
        self.position = self.param("position", nn.initializers.normal(0.02), (cfg.max_tokens + 1, cfg.width),
                                   jnp.float32)
        self.blocks = [Block(cfg) for _ in range(cfg.layers)]
        self.norm = nn.LayerNorm()
        self.out = nn.Dense(cfg.vocab_size)

    def __call__(self, cond_BxC, tokens_BxT):
        """Teacher forcing: logits_BxTxV, where position t predicts tokens_BxT[:, t]."""
        x = jnp.concatenate([self.cond_in(cond_BxC)[:, None], self.embed(tokens_BxT[:, :-1])], axis=1)
        x = x + self.position[None, : x.shape[1]]
        for block in self.blocks:
            x, _ = block(x)
        return self.out(self.norm(x))

    def decode_step(self, cond_BxC, token_B, pos, caches):
        """Logits for position ``pos`` given the token at ``pos - 1`` (the prefix at pos 0)."""
        x = jnp.where(pos == 0, self.cond_in(cond_BxC), self.embed(token_B))[:, None]
        x = x + jax.lax.dynamic_slice_in_dim(self.position, pos, 1)[None]
        new = []
        for block, cache in zip(self.blocks, caches):
            x, cache = block(x, cache, pos)
            new.append(cache)
        return self.out(self.norm(x))[:, 0], new


def empty_cache(cfg: ModelConfig, batch: int, dtype=jnp.float32):
    """Zeroed key/value caches for ``decode_step``, one (k, v) pair per block."""
    shape = (batch, cfg.max_tokens + 1, cfg.heads, cfg.width // cfg.heads)
    return [(jnp.zeros(shape, dtype), jnp.zeros(shape, dtype)) for _ in range(cfg.layers)]
