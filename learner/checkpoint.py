"""Orbax checkpoints of the learner: the TrainState pytree with a JSON document beside it (the
stream positions, the model configuration).

A checkpoint is written to a temporary folder and renamed when complete (orbax's atomic save),
so a process killed mid-save leaves the previous checkpoint as the latest one.
"""

from __future__ import annotations

from pathlib import Path

import jax
import orbax.checkpoint as ocp

from learner.train import TrainState


class Checkpoints:
    """Versioned checkpoints under ``directory``, one per learner step saved.

    Args:
        directory: a folder (created if missing).
        max_to_keep: how many recent checkpoints to keep.
    """

    def __init__(self, directory: str | Path, max_to_keep: int = 5):
        self.directory = Path(directory).absolute()
        options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True,
                                               enable_async_checkpointing=False)
        self._manager = ocp.CheckpointManager(self.directory, options=options,
                                              item_names=("state", "meta"))

    def save(self, state: TrainState, meta: dict) -> int:
        """Save ``state`` and the JSON document ``meta`` at the state's step; returns that step."""
        step = int(state.step)
        if step in self._manager.all_steps():  # already saved (e.g. a shutdown right after a restore)
            return step
        self._manager.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(state._asdict()),
                                                         meta=ocp.args.JsonSave(meta)), force=True)
        self._manager.wait_until_finished()
        return step

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def restore(self, template: TrainState) -> tuple[TrainState, dict] | None:
        """(state, meta) of the latest checkpoint, shaped like ``template``; None if none."""
        step = self._manager.latest_step()
        if step is None:
            return None
        abstract = jax.tree_util.tree_map(ocp.utils.to_shape_dtype_struct, template._asdict())
        out = self._manager.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract),
                                                                  meta=ocp.args.JsonRestore()))
        return TrainState(**out["state"]), dict(out["meta"])

    def meta(self) -> dict | None:
        """The JSON document of the latest checkpoint, without loading its arrays; None if none."""
        step = self._manager.latest_step()
        if step is None:
            return None
        return dict(self._manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"])

    def close(self) -> None:
        self._manager.close()
