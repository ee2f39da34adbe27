"""The daemon's actor hosts offer exactly their worker's protocol, and the workers implement it:
a renamed method fails here instead of inside a running daemon."""

from __future__ import annotations

import inspect

import pytest

from experiments.worker import Experiments
from feeds.worker import FeedWorker
from learner.evaluation import Evaluation
from learner.worker import LearnerWorker
from specialist import core
from specialist.app import actors
from specialist.proposer import Proposer

CASES = [(actors.FeedsHost, core.Feeds, FeedWorker), (actors.ProposerHost, core.Proposes, Proposer),
         (actors.ExperimentsHost, core.Checks, Experiments), (actors.LearnerHost, core.Learns, LearnerWorker),
         (actors.EvaluationHost, core.Evaluates, Evaluation)]


def _methods(cls) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(f) for name, f in vars(cls).items()
            if callable(f) and not name.startswith("_")}


@pytest.mark.parametrize("host, protocol, worker", CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_host_protocol_and_worker_agree(host, protocol, worker):
    wanted = _methods(protocol)
    assert set(_methods(host)) == set(wanted)
    assert set(_methods(actors.Host)) == {"pid"}
    for name, signature in wanted.items():
        assert list(_methods(host)[name].parameters) == list(signature.parameters), name
        own = inspect.signature(getattr(worker, name)).parameters  # may add options with defaults
        assert list(own)[: len(signature.parameters)] == list(signature.parameters), name
        assert all(p.default is not p.empty for p in list(own.values())[len(signature.parameters):]), name


def test_the_driver_side_of_the_daemon_never_imports_jax():
    import subprocess
    import sys

    probe = "import sys, specialist.app.daemon; print('jax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout.strip() == "False"
