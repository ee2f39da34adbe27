"""Orbax checkpoints of the learner: the TrainState pytree with a JSON document beside it (the
stream positions, the model configuration); and the champion, the version the gate promoted.

A checkpoint is written to a temporary folder and renamed when complete (orbax's atomic save),
so a process killed mid-save leaves the previous checkpoint as the latest one.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path

import jax
import orbax.checkpoint as ocp
from flax import serialization

from learner.train import TrainState, abstract_state
from specialist.config import ModelConfig

log = logging.getLogger("specialist")


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
        self.skipped: list[str] = []  # what restore set aside, one sentence each

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
        """(state, meta) of the newest readable checkpoint, shaped like ``template``; None if none.

        A newer checkpoint that cannot be read (truncated or corrupted on disk) is moved aside into
        ``unreadable/`` beside the checkpoints folder, said in the log and in ``skipped``, and the
        one before it is restored: the learner goes on from there rather than not at all.
        """
        abstract = jax.tree_util.tree_map(ocp.utils.to_shape_dtype_struct, template._asdict())
        out = self._newest(ocp.args.Composite(state=ocp.args.StandardRestore(abstract), meta=ocp.args.JsonRestore()))
        return None if out is None else (TrainState(**out["state"]), dict(out["meta"]))

    def meta(self) -> dict | None:
        """The JSON document of the newest readable checkpoint, without loading its arrays; None if
        none (an unreadable newer one is set aside as ``restore`` does)."""
        out = self._newest(ocp.args.Composite(meta=ocp.args.JsonRestore()))
        return None if out is None else dict(out["meta"])

    def _newest(self, args):
        for step in sorted(self._manager.all_steps(), reverse=True):
            try:
                return self._manager.restore(step, args=args)
            except Exception as err:  # orbax and tensorstore raise many kinds for a damaged checkpoint
                self._set_aside(step, err)
        return None

    def _set_aside(self, step: int, err: Exception) -> None:
        target = self.directory.parent / "unreadable" / f"{self.directory.name}-{step}-{time.time_ns()}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(self.directory / str(step)), str(target))
        self._manager.reload()
        note = (f"checkpoint step {step} in {self.directory} could not be read ({type(err).__name__}: "
                f"{str(err)[:200]}); moved to {target}, going on from the checkpoint before it")
        self.skipped.append(note)
        log.warning(note)

    def close(self) -> None:
        self._manager.close()


def save_champion(directory: Path, params, meta: dict) -> None:
    """Parameters (flax msgpack) and meta.json, swapped into place whole."""
    tmp = directory.with_name(directory.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    (tmp / "params.msgpack").write_bytes(serialization.to_bytes(params))
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
    old = directory.with_name(directory.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if directory.exists():
        directory.rename(old)
    tmp.rename(directory)
    shutil.rmtree(old, ignore_errors=True)


def load_weights(folder: str | Path, model_cfg: ModelConfig):
    """(params, meta) of weights saved like the champion (``save_champion``) in ``folder``, if
    they were made for ``model_cfg``; None if the folder holds none or they are for another
    model size."""
    meta_path = Path(folder) / "meta.json"
    if not meta_path.exists():
        return None
    meta = json.loads(meta_path.read_text())
    if ModelConfig(**meta["model"]) != model_cfg:
        return None
    template = abstract_state(model_cfg).params
    return serialization.from_bytes(template, (Path(folder) / "params.msgpack").read_bytes()), meta


def load_params(checkpoints: str | Path, champion: str | Path | None = None):
    """(meta, model config, params, version) of the champion under ``champion`` (if given and
    saved) or else of the newest checkpoint under ``checkpoints``; None if there is neither.
    ``meta`` holds at least the domain's name ("domain") and the model ("model")."""
    champ = Path(champion) / "meta.json" if champion is not None else None
    if champ is not None and champ.exists():
        meta = json.loads(champ.read_text())
        model_cfg = ModelConfig(**meta["model"])
        template = abstract_state(model_cfg).params
        params = serialization.from_bytes(template, (Path(champion) / "params.msgpack").read_bytes())
        return meta, model_cfg, params, int(meta["version"])
    found = Checkpoints(checkpoints)
    meta = found.meta()
    if meta is None:
        return None
    model_cfg = ModelConfig(**meta["model"])
    state, _ = found.restore(abstract_state(model_cfg))
    return meta, model_cfg, state.params, int(state.step)
