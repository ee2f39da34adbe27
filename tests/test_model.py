"""The specialist model: size, causality, and a cache that reproduces teacher forcing."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from domains.photonics.plugin import PhotonicsDomain
from specialist.domain import END
from specialist.model import ModelConfig, Specialist, empty_cache
from specialist.proposer import sample

SPEC = PhotonicsDomain.spec
SMALL = ModelConfig(SPEC.vocab_size, 12, SPEC.cond_dim, width=32, layers=2, heads=4)


def _init(cfg):
    cond = jnp.zeros((2, cfg.cond_dim), jnp.float32)
    tokens = jnp.zeros((2, cfg.max_tokens), jnp.int32)
    return Specialist(cfg).init(jax.random.key(0), cond, tokens)


def test_default_size_is_small_but_real():
    cfg = ModelConfig(SPEC.vocab_size, SPEC.max_tokens, SPEC.cond_dim)
    params = jax.eval_shape(lambda: _init(cfg))
    n = sum(int(np.prod(p.shape)) for p in jax.tree_util.tree_leaves(params))
    assert 1e6 <= n <= 1e7
    assert {p.dtype for p in jax.tree_util.tree_leaves(params)} == {np.dtype(np.float32)}


def test_logits_are_causal():
    params = _init(SMALL)
    rng = np.random.default_rng(0)
    cond = jnp.asarray(rng.normal(size=(2, SMALL.cond_dim)), jnp.float32)
    a = rng.integers(3, SMALL.vocab_size, (2, SMALL.max_tokens))
    b = a.copy()
    b[:, 6:] = rng.integers(3, SMALL.vocab_size, (2, SMALL.max_tokens - 6))
    la = Specialist(SMALL).apply(params, cond, jnp.asarray(a))
    lb = Specialist(SMALL).apply(params, cond, jnp.asarray(b))
    # position t sees tokens < t: changing tokens from 6 on leaves positions 0..6 unchanged
    np.testing.assert_allclose(la[:, :7], lb[:, :7], rtol=1e-5, atol=1e-5)
    assert not np.allclose(la[:, 8:], lb[:, 8:])


def test_cached_decoding_matches_teacher_forcing():
    params = _init(SMALL)
    rng = np.random.default_rng(1)
    cond = jnp.asarray(rng.normal(size=(2, SMALL.cond_dim)), jnp.float32)
    tokens = jnp.asarray(rng.integers(3, SMALL.vocab_size, (2, SMALL.max_tokens)), jnp.int32)
    full = Specialist(SMALL).apply(params, cond, tokens)
    caches = empty_cache(SMALL, 2)
    prev = jnp.zeros(2, jnp.int32)
    for pos in range(SMALL.max_tokens):
        logits, caches = Specialist(SMALL).apply(params, cond, prev, pos, caches, method=Specialist.decode_step)
        np.testing.assert_allclose(logits, full[:, pos], rtol=1e-4, atol=1e-4)
        prev = tokens[:, pos]


def test_sampling_is_seeded_and_in_vocabulary():
    params = _init(SMALL)
    cond = jnp.ones((3, SMALL.cond_dim), jnp.float32)
    a, _ = sample(params, SMALL, cond, jax.random.key(5))
    b, _ = sample(params, SMALL, cond, jax.random.key(5))
    c, _ = sample(params, SMALL, cond, jax.random.key(6))
    assert a.shape == (3, SMALL.max_tokens) and np.array_equal(a, b) and not np.array_equal(a, c)
    assert int(a.min()) >= 0 and int(a.max()) < SMALL.vocab_size


def test_the_sampled_likelihood_is_the_teacher_forced_one_up_to_end():
    params = _init(SMALL)
    cond = jax.random.normal(jax.random.key(1), (16, SMALL.cond_dim), jnp.float32)
    tokens, logp = sample(params, SMALL, cond, jax.random.key(2))
    full = jax.nn.log_softmax(Specialist(SMALL).apply(params, cond, tokens), axis=-1)
    chosen = np.take_along_axis(np.asarray(full), np.asarray(tokens)[..., None], axis=-1)[..., 0]
    for row, toks in zip(range(16), np.asarray(tokens)):
        ends = np.flatnonzero(toks == END)
        n = ends[0] + 1 if len(ends) else len(toks)
        assert float(logp[row]) == pytest.approx(chosen[row, :n].mean(), rel=1e-4, abs=1e-4)
