"""Orbax checkpoints restore the whole training state and the stream positions."""

from __future__ import annotations

import jax
import numpy as np

from learner import Learner
from learner.checkpoint import Checkpoints
from specialist.model import ModelConfig

CFG = ModelConfig(vocab_size=12, max_tokens=6, cond_dim=5, width=16, layers=1, heads=2)


def _train(learner, n):
    cond = np.ones((2, CFG.cond_dim), np.float32)
    for _ in range(n):
        learner.update(cond, [[3, 4, 2], [5, 2]])


def test_restore_continues_exactly(tmp_path):
    a = Learner(CFG, seed=0)
    _train(a, 3)
    ckpt = Checkpoints(tmp_path / "ckpt")
    assert ckpt.save(a.state, {"arxiv": {"start": 40}}) == 3
    _train(a, 2)  # the run goes on after the checkpoint
    b = Learner(CFG, seed=99)  # a restarted process: other initial weights
    state, cursors = Checkpoints(tmp_path / "ckpt").restore(b.state)
    b.state = state
    assert int(b.state.step) == 3 and cursors == {"arxiv": {"start": 40}}
    _train(b, 2)  # same updates from the restored point give the same parameters
    leaves_a, leaves_b = jax.tree_util.tree_leaves(a.state.params), jax.tree_util.tree_leaves(b.state.params)
    assert all(np.array_equal(x, y) for x, y in zip(leaves_a, leaves_b))
    ckpt.close()


def test_no_checkpoint_restores_nothing_and_old_ones_are_pruned(tmp_path):
    a = Learner(CFG, seed=0)
    ckpt = Checkpoints(tmp_path / "ckpt", max_to_keep=2)
    assert ckpt.restore(a.state) is None
    for _ in range(4):
        _train(a, 1)
        ckpt.save(a.state, {})
    assert ckpt.latest_step() == 4
    assert sorted(int(p.name) for p in (tmp_path / "ckpt").iterdir() if p.name.isdigit()) == [3, 4]
    ckpt.close()
