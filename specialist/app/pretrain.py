"""The spectrum phase on its own: ``specialist pretrain``.

    report = pretrain(cfg, paths, steps=2000)      # or seconds=3600; resumes from the last checkpoint
    report = pretrain(cfg, paths, seconds=600, workers=12, ship=Path("weights"), command="...")

The learner of the data directory (restored from its last checkpoint, as the daemon's is) trains
on simulator-made (goal, design) pairs from the domain's Synthetic capability, in chunks, with a
progress bar; it checkpoints every ``learner.checkpoint_every`` steps and once at the end, so an
interrupted run resumes where its last checkpoint left off, and a daemon started afterwards on
the same data directory starts from these weights. The data directory's lock keeps a daemon out
meanwhile. JAX trains on a GPU when one is present; with ``workers`` the pairs are made in that
many processes on the CPU (each step's pairs are seeded by the step, so the data are the same
whoever makes them). ``ship`` also writes the weights, with their provenance, to a folder a
domain package can ship (``learner.start_from``).
"""

from __future__ import annotations

import collections
import hashlib
import multiprocessing
import os
import subprocess
import time
from pathlib import Path

import jax
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from learner.checkpoint import save_champion
from learner.worker import synthetic_rows
from specialist import domain as domains
from specialist.app import processes
from specialist.app.builders import build_learner, heldout_goals
from specialist.config import Config
from specialist.domain import Synthetic
from specialist.errors import InputError
from specialist.paths import Paths

CHUNK = 10  # steps between progress updates (and between checks of the time limit)
_AHEAD = 4  # steps' pairs a worker process may have made ahead of the learner


def pretrain(cfg: Config, paths: Paths, steps: int | None = None, seconds: float | None = None,
             workers: int = 0, ship: Path | None = None, command: str = "") -> dict:
    """Spectrum-phase steps until ``steps`` more are done (default: up to ``learner.pretrain_steps``)
    or ``seconds`` have passed; returns what was done, with examples per second."""
    paths.data_dir.mkdir(parents=True, exist_ok=True)
    lock = processes.lock(paths)
    pool = None
    try:
        learner = build_learner(cfg, paths)
        if not isinstance(learner.domain, Synthetic):
            raise InputError("daemon.domain", "", f"is '{cfg.daemon.domain}', which offers no Synthetic capability "
                             "(simulator-made pairs); allowed: a domain that does, e.g. photonics")
        first = learner.step
        target = first + steps if steps is not None else max(first, cfg.learner.pretrain_steps)
        batches = None
        if workers > 0:
            pool = _pool(cfg, workers, learner.replay.exclude)
            batches = _ordered(pool, range(first, target), workers * _AHEAD)
        start = time.perf_counter()
        with Progress(TextColumn("pretraining"), BarColumn(), TextColumn("step {task.completed:.0f}/{task.total:.0f}"),
                      TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), console=Console(stderr=True),
                      transient=True) as bar:
            task = bar.add_task("pretrain", total=target, completed=first, rate="")
            while learner.step < target and (seconds is None or time.perf_counter() - start < seconds):
                learned = learner.pretrain(min(CHUNK, target - learner.step), batches)
                rate = learner.pretrain_examples / (time.perf_counter() - start)
                bar.update(task, completed=learner.step, rate=f"{rate:.0f} examples/s, loss {learned.loss:.3f}")
        elapsed = time.perf_counter() - start
        checkpoint = learner.checkpoint()
        report = {"data_dir": str(paths.data_dir), "domain": cfg.daemon.domain, "step_start": first,
                  "step": learner.step, "steps": learner.step - first, "examples": learner.pretrain_examples,
                  "seconds": elapsed, "examples_per_s": learner.pretrain_examples / elapsed if elapsed > 0 else 0.0,
                  "loss": learner.last_loss if learner.step > first else None, "checkpoint": checkpoint,
                  "device": jax.devices()[0].platform, "workers": workers}
        if ship is not None:
            report["shipped"] = str(_ship(ship, learner, cfg, report, command))
        return report
    finally:
        if pool is not None:
            pool.terminate()
        lock.close()


def _ship(folder: Path, learner, cfg: Config, report: dict, command: str) -> Path:
    """The learner's parameters and their provenance, in the champion's format, under ``folder``."""
    d = learner.domain
    heldout = sorted(domains.goal_hash(g) for g in heldout_goals(d, cfg))
    provenance = {"command": command, "seed": cfg.daemon.seed, "steps": learner.step,
                  "examples_this_run": report["examples"], "examples_seen": learner.step * cfg.learner.batch_size,
                  "batch_size": cfg.learner.batch_size, "learning_rate": cfg.learner.learning_rate,
                  "loss": report["loss"], "device": report["device"], "seconds": round(report["seconds"], 1),
                  "commit": _commit(), "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                  "heldout_check": {"heldout_goals": len(heldout),
                                    "heldout_digest": hashlib.sha256("".join(heldout).encode()).hexdigest(),
                                    "training_goals_matching_heldout": len(learner.replay.refused)}}
    save_champion(Path(folder), learner.learner.state.params,
                  {**learner.meta, "version": learner.step, "provenance": provenance})
    return Path(folder).absolute()


def _commit() -> str:
    """SPECIALIST_SOURCE_COMMIT where set (a copy of the tree run elsewhere), else the source
    tree's git commit (with "+changes" if it differs from it), or "" outside git."""
    root = Path(__file__).resolve().parents[2]
    if os.environ.get("SPECIALIST_SOURCE_COMMIT") or not (root / ".git").exists():
        return os.environ.get("SPECIALIST_SOURCE_COMMIT", "")
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    return head.stdout.strip() + ("+changes" if dirty.stdout.strip() else "") if head.returncode == 0 else ""


# --- pairs made in worker processes ----------------------------------------------------------

_WORKER: dict = {}


def _pool(cfg: Config, workers: int, exclude: frozenset):
    """Processes making each step's pairs on the CPU, one thread each."""
    saved = {k: os.environ.get(k) for k in ("JAX_PLATFORMS", "XLA_FLAGS", "CUDA_VISIBLE_DEVICES")}
    os.environ.update({"JAX_PLATFORMS": "cpu", "CUDA_VISIBLE_DEVICES": "",
                       "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"})
    try:  # the children read the environment when they start
        return multiprocessing.get_context("spawn").Pool(
            workers, initializer=_start_worker,
            initargs=(cfg.daemon.domain, cfg.daemon.seed, cfg.learner.batch_size, exclude))
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)


def _start_worker(domain: str, seed: int, count: int, exclude: frozenset) -> None:
    _WORKER.update(domain=domains.load(domain), seed=seed, count=count, exclude=exclude)


def _make(step: int):
    w = _WORKER
    return synthetic_rows(w["domain"], w["seed"], step, w["count"], w["exclude"])


def _ordered(pool, steps, ahead: int):
    """Each step's rows in step order, with at most ``ahead`` steps made and not yet used."""
    pending: collections.deque = collections.deque()
    steps = iter(steps)
    for step in steps:
        pending.append(pool.apply_async(_make, (step,)))
        if len(pending) >= ahead:
            break
    while pending:
        rows = pending.popleft().get(timeout=600)
        step = next(steps, None)
        if step is not None:
            pending.append(pool.apply_async(_make, (step,)))
        yield rows

