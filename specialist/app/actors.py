"""The daemon's actors as plain classes, one per worker: ``specialist.app.daemon`` wraps each with
``ray.remote`` and calls it as ``learner.learn.remote(ref)``.

    host = LearnerHost(cfg, paths)     # in the actor's process: builds the worker there
    host.learn(checked)                # each method hands the call to the worker

Each host builds its worker with ``specialist.app.builders`` inside its own process. The driver
imports this module only for the classes, so it never loads JAX (about 130 MB) for workers that
run elsewhere; that is why the builders are imported in the constructors. Every method a host
offers is one of its worker's protocol in ``specialist.core``, spelled out, so a renamed worker
method fails where it is called.
"""

from __future__ import annotations

import os
from typing import Any

from specialist.config import Config
from specialist.core import Checked, Learned, Polled, Proposals, Task
from specialist.paths import Paths

THREAD_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"  # one XLA thread per actor


class Host:
    """What every actor answers about its process (the driver asks it beside a running call)."""

    def pid(self) -> int:
        return os.getpid()


class FeedsHost(Host):
    def __init__(self, cfg: Config, paths: Paths):
        from specialist.app import builders  # in the actor's process: see the module docstring

        self.worker = builders.build_feeds(cfg, paths)

    def poll(self, only: str = "") -> Polled:
        return self.worker.poll(only)


class ProposerHost(Host):
    def __init__(self, cfg: Config, paths: Paths):
        from specialist.app import builders  # in the actor's process: see the module docstring

        self.worker = builders.build_proposer(cfg, paths)

    def set_params(self, versioned: tuple) -> int:
        return self.worker.set_params(versioned)

    def propose(self, round_: int, tasks: list[Task]) -> Proposals:
        return self.worker.propose(round_, tasks)


class ExperimentsHost(Host):
    def __init__(self, cfg: Config, paths: Paths):
        from specialist.app import builders  # in the actor's process: see the module docstring

        self.worker = builders.build_experiments(cfg, paths)

    def check(self, proposals: Proposals) -> Checked:
        return self.worker.check(proposals)

    def curves(self, goal: dict, design: dict) -> list[dict] | None:
        return self.worker.curves(goal, design)


class LearnerHost(Host):
    def __init__(self, cfg: Config, paths: Paths):
        from specialist.app import builders  # in the actor's process: see the module docstring

        self.worker = builders.build_learner(cfg, paths)

    def version(self) -> int:
        return self.worker.version()

    def params(self) -> tuple[int, Any]:
        return self.worker.params()

    def learn(self, checked: Checked) -> Learned:
        return self.worker.learn(checked)

    def checkpoint(self) -> int:
        return self.worker.checkpoint()

    def notes(self) -> list[str]:
        return self.worker.notes()


class EvaluationHost(Host):
    def __init__(self, cfg: Config, paths: Paths):
        from specialist.app import builders  # in the actor's process: see the module docstring

        self.worker = builders.build_evaluation(cfg, paths)

    def evaluate(self, versioned: tuple) -> dict:
        return self.worker.evaluate(versioned)

    def baseline(self, method: str) -> dict | None:
        return self.worker.baseline(method)
