"""The spectrum phase on its own: ``specialist pretrain``.

    report = pretrain(cfg, paths, steps=2000)      # or seconds=3600; resumes from the last checkpoint

The learner of the data directory (restored from its last checkpoint, as the daemon's is) trains
on simulator-made (goal, design) pairs from the domain's Synthetic capability, in chunks, with a
progress bar; it checkpoints every ``learner.checkpoint_every`` steps and once at the end, so an
interrupted run resumes where its last checkpoint left off, and a daemon started afterwards on
the same data directory starts from these weights. The data directory's lock keeps a daemon out
meanwhile.
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from specialist.app import processes
from specialist.app.builders import build_learner
from specialist.config import Config
from specialist.domain import Synthetic
from specialist.errors import InputError
from specialist.paths import Paths

CHUNK = 10  # steps between progress updates (and between checks of the time limit)


def pretrain(cfg: Config, paths: Paths, steps: int | None = None, seconds: float | None = None) -> dict:
    """Spectrum-phase steps until ``steps`` more are done (default: up to ``learner.pretrain_steps``)
    or ``seconds`` have passed; returns what was done, with examples per second."""
    paths.data_dir.mkdir(parents=True, exist_ok=True)
    lock = processes.lock(paths)
    try:
        learner = build_learner(cfg, paths)
        if not isinstance(learner.domain, Synthetic):
            raise InputError("daemon.domain", "", f"is '{cfg.daemon.domain}', which offers no Synthetic capability "
                             "(simulator-made pairs); allowed: a domain that does, e.g. photonics")
        first = learner.step
        target = first + steps if steps is not None else max(first, cfg.learner.pretrain_steps)
        start = time.perf_counter()
        with Progress(TextColumn("pretraining"), BarColumn(), TextColumn("step {task.completed:.0f}/{task.total:.0f}"),
                      TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), console=Console(stderr=True),
                      transient=True) as bar:
            task = bar.add_task("pretrain", total=target, completed=first, rate="")
            while learner.step < target and (seconds is None or time.perf_counter() - start < seconds):
                learned = learner.pretrain(min(CHUNK, target - learner.step))
                rate = learner.pretrain_examples / (time.perf_counter() - start)
                bar.update(task, completed=learner.step, rate=f"{rate:.0f} examples/s, loss {learned.loss:.3f}")
        elapsed = time.perf_counter() - start
        checkpoint = learner.checkpoint()
        return {"data_dir": str(paths.data_dir), "domain": cfg.daemon.domain, "step_start": first,
                "step": learner.step, "steps": learner.step - first, "examples": learner.pretrain_examples,
                "seconds": elapsed, "examples_per_s": learner.pretrain_examples / elapsed if elapsed > 0 else 0.0,
                "loss": learner.last_loss if learner.step > first else None, "checkpoint": checkpoint}
    finally:
        lock.close()
