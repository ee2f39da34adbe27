"""In process: propose -> verify -> learn improves the proposals (toy domain and photonics), and the
in-process run built by the daemon's own builders records everything in the store."""

from __future__ import annotations

import numpy as np

from domains.photonics.plugin import PhotonicsDomain
from experiments.worker import Experiments
from learner import LearnerConfig
from learner.checkpoint import Checkpoints
from learner.worker import LearnerWorker
from specialist import config
from specialist.core import Task
from specialist.domain import goal_hash
from specialist.app.builders import InProcess
from specialist.paths import Paths
from specialist.model import ModelConfig
from specialist.proposer import Proposer
from specialist.store import Store
from tests.toy_domain import ToyDomain


class Parts:
    """The loop's three workers around one domain, on a fixed list of goals."""

    def __init__(self, domain, goals, tmp_path, refine_budget=0):
        s = domain.spec
        model_cfg = ModelConfig(s.vocab_size, s.max_tokens, s.cond_dim, width=32, layers=2, heads=4)
        store = Store(tmp_path / "store.sqlite")
        self.goals = [Task(goal_hash(g), g) for g in goals]
        store.put_many([("goals", {"hash": t.goal_hash, "name": t.goal["name"], "domain": s.name,
                                   "split": "train", "body": t.goal, "provenance": {}}) for t in self.goals])
        cfg = LearnerConfig(learning_rate=3e-3, warmup_steps=5, batch_size=16, steps_per_round=4, pretrain_steps=0)
        self.learner = LearnerWorker(domain, model_cfg, cfg, 0, store, Checkpoints(tmp_path / "ckpt"))
        self.proposer = Proposer(domain, model_cfg, self.learner.learner.state.params, 0, 0, 8, 1.0)
        self.experiments = Experiments(domain, store, refine_budget, refine_top=1)
        self.store, self.round = store, 0

    def step(self):
        result = self.experiments.check(self.proposer.propose(self.round, self.goals))
        self.round += 1
        metrics = self.learner.learn(result)
        self.proposer.set_params(self.learner.params())
        return result, metrics

    def sampled_merit(self):
        """Mean merit of low-temperature samples (rejected designs count 1e3)."""
        self.proposer.temperature = 0.5
        batch = self.proposer.propose(10_000 + self.round, self.goals)
        self.proposer.temperature = 1.0
        return float(np.mean([[v.get("merit", 1e3) for v in self.experiments.domain.verify(t.goal, group)]
                              for t, group in zip(batch.tasks, batch.designs)]))


def test_toy_domain_learns_from_its_verified_results(tmp_path):
    domain = ToyDomain()
    parts = Parts(domain, domain.curriculum(0)[0][:8], tmp_path)
    before = parts.sampled_merit()
    for _ in range(30):
        _, metrics = parts.step()
    assert parts.sampled_merit() < 0.5 * before
    assert metrics.loss < 2.0 and metrics.step == 120


def test_photonics_round_trip_trains_and_improves_sampled_designs(tmp_path):
    domain = PhotonicsDomain()
    parts = Parts(domain, domain.curriculum(0)[0][:4], tmp_path, refine_budget=60)
    first, metrics = parts.step()
    assert np.isfinite(metrics.loss) and metrics.replay_goals >= 1
    assert {b.goal_hash for b in first.best} <= {t.goal_hash for t in parts.goals}
    before = parts.sampled_merit()
    for _ in range(12):
        parts.step()
    assert parts.sampled_merit() < before
    # every hypothesis has its verdict; refined ones are recorded beside the sampled ones
    assert parts.store.count("hypotheses") == parts.store.count("verdicts") > 13 * 4 * 8
    assert parts.store.count("hypotheses", "origin = 'refined'") >= 13 * 4


def test_in_process_run_uses_the_daemons_builders_and_resumes(tmp_path):
    cfg = config.load(None, {"model": {"width": 32, "layers": 1, "heads": 2}, "daemon": {"goals_per_round": 2,
                             "group": 2}, "experiments": {"refine_budget": 0},
                             "learner": {"checkpoint_every": 2, "batch_size": 8, "pretrain_steps": 2,
                                         "pretrain_steps_per_round": 2}})
    run = InProcess(cfg, Paths(tmp_path))  # one round of the spectrum phase, then two online
    assert run.store.count("goals", "split = 'train'") == 200 and run.store.count("goals", "split = 'heldout'") == 60
    for _ in range(3):
        run.step()
    assert run.store.count("verdicts") == 3 * 2 * 2 and int(run.learner.step) == 6
    versions = [r["version"] for r in run.store.rows("model_versions")]
    assert versions == [0, 2, 4, 6]
    again = InProcess(cfg, Paths(tmp_path))  # a restart: next round, last checkpoint, and its poll
    assert again.round == 3 and again.learner.step == 6 and again.proposer.version == 6  # brings new goals
    assert again.store.count("goals") == 260 + cfg.feeds.generated_per_poll
    assert len(again.learner.replay) == len(run.learner.replay)


def test_a_submitted_lab_goal_is_worked_on_in_the_next_round_and_dropped_when_withdrawn(tmp_path):
    from feeds.labgoals import LabGoals, designs

    cfg = config.load(None, {"model": {"width": 32, "layers": 1, "heads": 2}, "daemon": {"goals_per_round": 4,
                             "group": 2}, "experiments": {"refine_budget": 0, "lab_refine_budget": 0},
                             "learner": {"batch_size": 8, "pretrain_steps": 0}})
    run = InProcess(cfg, Paths(tmp_path))
    goal = {**run.store.get("goals", next(iter(r["hash"] for r in run.store.rows("goals", "split = 'train'"))))["body"],
            "name": "lab-ar", "max_layers": 7}
    lab = LabGoals(run.store, run.experiments.domain, cfg.daemon.seed)
    assert lab.submit([("lab-ar.json", goal)], by="test")["submitted"] == 1
    digest = goal_hash(goal)
    for _ in range(2):
        run.step()
    assert run.store.count("hypotheses", "goal_hash = ?", (digest,)) == 2 * 2  # both rounds, group 2
    (entry,) = designs(run.store, "lab-ar")
    assert entry["designs_verified"] == 4 and entry["best"] is not None and entry["history"]
    lab.withdraw("lab-ar")
    run.step()
    assert run.store.count("hypotheses", "goal_hash = ?", (digest,)) == 4
