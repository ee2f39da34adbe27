"""The loop's workers and the messages that pass between them.

One round, as the daemon (``specialist.app.daemon``, each worker in its own Ray actor) and
``specialist.app.builders.InProcess`` (one after the other, in one process) both run it:

    feeds.poll()                                        # Feeds: papers, results, goals -> store
    tasks = round_goals(train_goals(store), round, cfg) # [Task]: the round's training goals
    proposals = proposer.propose(round, tasks)          # Proposes: a group of designs per goal
    checked = experiments.check(proposals)              # Checks: verdicts (+ refinement) -> store
    learned = learner.learn(checked)                    # Learns: replay, updates, checkpoints
    proposer.set_params(learner.params())               # a newer version, between rounds
    report = evaluation.evaluate(learner.params())      # Evaluates: held-out goals, the gate

Workers are plain classes (no Ray, no MLflow); the protocols below are what the application
calls on them. Messages are frozen dataclasses, so a renamed field fails where it is used, and a
goal's hash is always ``goal_hash``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Task:
    """A training goal as the loop passes it around."""

    goal_hash: str
    goal: dict


@dataclass(frozen=True)
class Proposals:
    """A round's designs: ``designs[i]`` is the group sampled for ``tasks[i]``."""

    round: int
    version: int  # the parameter version that sampled them
    tasks: list[Task]
    designs: list[list[dict]]


@dataclass(frozen=True)
class Group:
    """One goal's sampled designs with their merits (None: rejected), for the policy gradient,
    and the valid designs refinement made for it (for hindsight pairs; empty without any)."""

    goal_hash: str
    goal: dict
    designs: list[dict]
    merits: list[float | None]
    solved: list[bool]
    refined: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class Best:
    """The best design a round found for a goal (sampled or refined), for expert iteration."""

    goal_hash: str
    goal: dict
    design: dict
    merit: float
    solved: bool


@dataclass(frozen=True)
class Checked:
    """A verified round: its figures, each goal's best design and each sampled group."""

    round: int
    version: int
    verified: int  # hypotheses written, each with its verdict
    goals: int
    best: list[Best]
    groups: list[Group]
    solve_rate: float  # share of goals solved by the best design, refinement included
    sampled_solve_rate: float  # share of goals solved by a sampled design
    mean_best_merit: float
    median_sampled_merit: float


@dataclass(frozen=True)
class Learned:
    """What a learner call did."""

    loss: float
    step: int  # the parameter version now held
    replay_goals: int
    checkpoint: int | None  # the step checkpointed during the call, if any
    phase: str  # "spectrum" (simulator-made pairs) or "signal" (verified rounds)
    contaminated_refused: int  # held-out goals refused by the replay so far
    hindsight_rows: int = 0  # hindsight pairs made from verified designs by this learner process


@dataclass(frozen=True)
class Polled:
    """A poll of the feeds: records written per feed, errors per feed, and what the steps after
    the poll reported (e.g. {"claims": {...}, "calibration": {...} or None})."""

    new: dict[str, int]
    errors: dict[str, str]
    after: dict[str, Any] = field(default_factory=dict)


class Feeds(Protocol):
    """``feeds.worker.FeedWorker``."""

    def poll(self, only: str = "") -> Polled:
        """Poll every feed (those whose name starts with ``only``) from its stored position."""


class Proposes(Protocol):
    """``specialist.proposer.Proposer``."""

    def set_params(self, versioned: tuple) -> int:
        """Take (version, params) if newer than what is held; returns the version held."""

    def propose(self, round_: int, tasks: list[Task]) -> Proposals:
        """A group of designs per task; the same round and parameters give the same designs."""


class Checks(Protocol):
    """``experiments.worker.Experiments``."""

    def check(self, proposals: Proposals) -> Checked:
        """Verify (and refine) every design and store each with its verdict, idempotently."""

    def curves(self, goal: dict, design: dict) -> list[dict] | None:
        """The domain's series of a design against its goal (None without the Curves capability)."""


class Learns(Protocol):
    """``learner.worker.LearnerWorker``."""

    def version(self) -> int:
        """The parameter version held (the learner step)."""

    def params(self) -> tuple[int, Any]:
        """(version, parameters) to sample from."""

    def learn(self, checked: Checked) -> Learned:
        """Offer the round's best designs to the replay, then train."""

    def checkpoint(self) -> int:
        """Save the state with the stream positions; returns the step."""

    def notes(self) -> list[str]:
        """What restoring had to say, one sentence each (e.g. an unreadable checkpoint set aside)."""


class Evaluates(Protocol):
    """``learner.evaluation.Evaluation``."""

    def evaluate(self, versioned: tuple) -> dict:
        """The held-out report of (version, params), gated and recorded once per version."""

    def baseline(self, method: str) -> dict | None:
        """A per-goal optimizer's held-out figures, the learning curve's reference."""
