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


def _damage(folder):
    """Truncate every file of a checkpoint's saved arrays to half its size."""
    files = [f for f in folder.rglob("*") if f.is_file() and f.stat().st_size > 0]
    assert files
    for f in files:
        f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])


def test_an_unreadable_newest_checkpoint_is_set_aside_and_the_one_before_restored(tmp_path, caplog):
    a = Learner(CFG, seed=0)
    ckpt = Checkpoints(tmp_path / "ckpt")
    _train(a, 2)
    ckpt.save(a.state, {"at": 2})
    kept = jax.tree_util.tree_leaves(a.state.params)
    _train(a, 1)
    ckpt.save(a.state, {"at": 3})
    ckpt.close()
    _damage(tmp_path / "ckpt" / "3")
    again = Checkpoints(tmp_path / "ckpt")
    with caplog.at_level("WARNING", logger="specialist"):
        state, meta = again.restore(Learner(CFG, seed=5).state)
    assert int(state.step) == 2 and meta == {"at": 2}
    assert all(np.array_equal(x, y) for x, y in zip(kept, jax.tree_util.tree_leaves(state.params)))
    assert len(again.skipped) == 1 and "step 3" in again.skipped[0] and "step 3" in caplog.text
    moved = list((tmp_path / "unreadable").iterdir())
    assert [p.name.split("-")[:2] for p in moved] == [["ckpt", "3"]]  # kept for a person to look at
    assert again.latest_step() == 2
    b = Learner(CFG, seed=0)
    b.state = state
    _train(b, 1)
    assert again.save(b.state, {"at": 3}) == 3 and Checkpoints(tmp_path / "ckpt").meta() == {"at": 3}
    again.close()
