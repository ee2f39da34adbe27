"""Which goals each round works on: the store's training goals, weighted towards the edge of ability.

    goals = train_goals(store, cfg.daemon.skip_families)  # per goal: hash, family, difficulty, last round
    tasks = round_goals(goals, round, cfg)                  # the round's [Task]
    round = next_round(store)          # after a restart: the first round not yet recorded

A round has ``daemon.goals_per_round`` slots. Each is an edge slot with probability
``daemon.edge_share`` (drawn from the seed and the round), otherwise a uniform slot:
- a uniform slot takes its place in the uniform epochs: each epoch visits every goal once, in an
  order fixed by the seed. An edge share of 0 gives exactly these epochs.
- an edge slot draws a cell, that is a family (the goal's ``provenance.family``) and a difficulty
  (the goal's number of ``targets`` and its ``max_layers`` in octaves: generic goal keys, 0 where
  a goal has none), with probability proportional to ``mgpo_weight(p, learner.mgpo_lambda)``. p is
  the cell's solve rate among the newest ``daemon.edge_window`` verdicts of sampled designs,
  (solved + 1) / (verdicts + 2), so 0.5 for a cell never tried. A cell near p = 0.5 weighs 1, one
  always or never solved 2^-lambda, so none starves. In the cell the slot takes the goal worked on
  least recently, a goal never worked on first (ties in hash order), never one the round has.

While the lab has active goals (``feeds.labgoals.active``), the round's last slots go to them
instead: one per lab goal, at most ``max(1, int(daemon.lab_share * goals_per_round))``, taken in
turn by round when there are more lab goals than that, so the curriculum never starves them.

The goals follow from the store and the round alone, so a restarted daemon resumes as it would
have gone on. Rounds just before this one that the store does not hold yet (at most
``daemon.rounds_in_flight - 1``: in flight) are drawn first from the same state and count as
worked on, so the rounds in flight do not repeat one another's goals.

Cost: ``train_goals`` reads each goal's family, difficulty and last round in SQL (no goal body is
decoded), once at the start and when goals arrive; a round reads the verdict window (one query,
newest rounds first through the round index) and the bodies of its own goals (one query by key).
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

from specialist import domain as domains
from specialist.config import Config, names
from specialist.core import Task
from specialist.mgpo import mgpo_weight
from specialist.store import Store

Cell = tuple[str, int, int]  # (family, number of targets, max_layers octave)
_EDGE_STREAM = 0x65646765  # seeds the edge slots' random stream apart from the epochs' ("edge")

_TRAIN_GOALS = """
SELECT g.hash, COALESCE(json_extract(g.body, '$.provenance.family'), 'all') AS family,
       COALESCE(json_array_length(g.body, '$.targets'), 0) AS targets,
       json_extract(g.body, '$.max_layers') AS max_layers,
       COALESCE((SELECT MAX(h.round) FROM hypotheses h WHERE h.goal_hash = g.hash), -1) AS last
FROM goals g WHERE g.split = 'train' ORDER BY g.hash
"""
_WINDOW = """
SELECT h.goal_hash, h.round, v.solved FROM hypotheses h JOIN verdicts v ON v.hypothesis_key = h.key
WHERE h.origin = 'sampled' ORDER BY h.round DESC, h.key DESC LIMIT ?
"""


def difficulty(goal: dict) -> tuple[int, int]:
    """A domain-free difficulty: the goal's number of targets, and its max_layers as an octave b
    (max_layers in (2^(b-2), 2^(b-1)]: 1 -> 1, 2 -> 2, 3-4 -> 3, 5-8 -> 4, ...); 0 for a key it lacks."""
    targets = goal.get("targets")
    return _difficulty(len(targets) if isinstance(targets, list) else 0, goal.get("max_layers"))


def _difficulty(targets, max_layers) -> tuple[int, int]:
    try:
        layers = max(int(max_layers or 0), 0)
    except (TypeError, ValueError):
        layers = 0
    return int(targets or 0), (layers - 1).bit_length() + 1 if layers else 0


class TrainGoals:
    """The training goals as the schedule sees them, from ``train_goals`` or ``from_tasks``.

    Per goal, in hash order (or the order of the tasks given): its hash, its cell and the last
    round that worked on it (-1: none). The bodies stay in the store and are read for a round's own
    goals only, unless the goals were built from tasks. Iterating yields every goal as a Task.
    """

    def __init__(self, hashes: Sequence[str], cells: Sequence[Cell], last: Sequence[int],
                 store: Store | None = None, bodies: dict[str, dict] | None = None):
        self.hashes, self.store, self._bodies = list(hashes), store, bodies
        self.last = np.asarray(last, np.int64).reshape(-1)
        self.cells: list[Cell] = sorted(set(cells))
        ids = {c: i for i, c in enumerate(self.cells)}
        self.cell_of = np.array([ids[c] for c in cells], np.int64)
        order = np.argsort(self.cell_of, kind="stable")  # each cell's members in goal order
        self.members = np.split(order, np.cumsum(np.bincount(self.cell_of, minlength=len(self.cells)))[:-1])
        self.position = {h: i for i, h in enumerate(self.hashes)}
        self._epochs: dict[tuple[int, int], np.ndarray] = {}

    @classmethod
    def from_tasks(cls, tasks: Sequence[Task]) -> "TrainGoals":
        """Goals given as Tasks, in their order; what they were worked on is read from the verdict
        window alone."""
        return cls([t.goal_hash for t in tasks], [(domains.family(t.goal), *difficulty(t.goal)) for t in tasks],
                   [-1] * len(tasks), bodies={t.goal_hash: t.goal for t in tasks})

    def __len__(self) -> int:
        return len(self.hashes)

    def __iter__(self) -> Iterator[Task]:
        return iter(self.tasks(range(len(self))))

    def tasks(self, positions) -> list[Task]:
        """The goals at these positions as Tasks, bodies read in one query."""
        hashes = [self.hashes[i] for i in positions]
        bodies = self._bodies
        if bodies is None:
            wanted = sorted(set(hashes))
            bodies = {r["hash"]: r["body"] for r in self.store.rows(
                "goals", f"hash IN ({', '.join('?' * len(wanted))})", tuple(wanted))} if wanted else {}
        return [Task(h, bodies[h]) for h in hashes]

    def epoch(self, seed: int, epoch: int) -> np.ndarray:
        """The seed's order of the goals in a uniform epoch."""
        if (seed, epoch) not in self._epochs:
            if len(self._epochs) > 4:
                self._epochs.clear()
            self._epochs[seed, epoch] = np.random.default_rng([seed, epoch]).permutation(len(self))
        return self._epochs[seed, epoch]

    def solve_rates(self, window: list[tuple[str, int, int]]) -> np.ndarray:
        """Each cell's (solved + 1) / (verdicts + 2) over the window's verdicts of these goals."""
        at = np.array([self.position.get(h, -1) for h, _, _ in window], np.int64)
        solved = np.array([s for _, _, s in window], np.float64)
        cells = self.cell_of[at[at >= 0]]
        n = np.bincount(cells, minlength=len(self.cells))
        k = np.bincount(cells, weights=solved[at >= 0], minlength=len(self.cells))
        return (k + 1.0) / (n + 2.0)

    def worked(self, window: list[tuple[str, int, int]]) -> None:
        """Take in the window's rounds as each goal's last (the store's facts since ``train_goals``
        read them: complete while fewer than the window's verdicts arrive between two rounds)."""
        for h, round_, _ in window:
            i = self.position.get(h)
            if i is not None and round_ > self.last[i]:
                self.last[i] = round_


def train_goals(store: Store, skip_families: str = "") -> TrainGoals:
    """The store's training goals, in hash order, without the goals of the families named
    (comma-separated) in ``skip_families``."""
    skip = set(names(skip_families))
    rows = [r for r in store.query(_TRAIN_GOALS) if str(r["family"]) not in skip]
    return TrainGoals([r["hash"] for r in rows],
                      [(str(r["family"]), *_difficulty(r["targets"], r["max_layers"])) for r in rows],
                      [r["last"] for r in rows], store=store)


def round_goals(goals: TrainGoals | Sequence[Task], round_: int, cfg: Config, store: Store | None = None,
                lab: Sequence[Task] = ()) -> list[Task]:
    """The tasks of a round (see the module docstring).

    Args:
        goals: from ``train_goals``, or Tasks (taken in their order).
        round_: the round; with the store's state it fixes the goals.
        cfg: ``daemon`` (seed, goals_per_round, edge_share, edge_window, rounds_in_flight) and
            ``learner.mgpo_lambda``.
        store: where the verdicts are read; by default the store the goals came from (none: every
            cell at the prior, goals ranked by what ``goals`` knows).
        lab: the lab's active goals, which take the round's last slots in turn.
    """
    if not isinstance(goals, TrainGoals):
        goals = TrainGoals.from_tasks(goals)
    picks = _train_positions(goals, round_, cfg, store)
    n_lab = min(len(lab), max(1, int(cfg.daemon.lab_share * len(picks)))) if lab else 0
    # the slots lab goals take: their training goals are not read from the store
    return goals.tasks(picks[:len(picks) - n_lab]) + [lab[(round_ * n_lab + i) % len(lab)] for i in range(n_lab)]


def _train_positions(goals: TrainGoals, round_: int, cfg: Config, store: Store | None) -> list[int]:
    """Positions of the round's training goals in ``goals`` (every slot, lab goals aside)."""
    if not len(goals):
        raise ValueError("no training goals to schedule")
    d, store = cfg.daemon, store if store is not None else goals.store
    if d.edge_share <= 0:
        return _draw(goals, round_, cfg, None, None)
    window = [tuple(r) for r in store.query(_WINDOW, (d.edge_window,))] if store is not None else []
    goals.worked(window)
    weights = np.array([mgpo_weight(float(p), cfg.learner.mgpo_lambda) for p in goals.solve_rates(window)])
    last, recorded = goals.last.copy(), {r for _, r, _ in window}
    for earlier in range(max(0, round_ - d.rounds_in_flight + 1), round_):
        if earlier not in recorded:  # in flight: its goals count as worked on
            picks = np.array(_draw(goals, earlier, cfg, weights, last))
            last[picks] = np.maximum(last[picks], earlier)
    return _draw(goals, round_, cfg, weights, last)


def _draw(goals: TrainGoals, round_: int, cfg: Config, weights: np.ndarray | None,
          last: np.ndarray | None) -> list[int]:
    """Positions of a round's goals: uniform slots from the epochs, edge slots by cell weight."""
    n, seed = cfg.daemon.goals_per_round, cfg.daemon.seed
    rng = np.random.default_rng([seed, round_, _EDGE_STREAM])
    edge = rng.random(n) < cfg.daemon.edge_share if weights is not None else np.zeros(n, bool)
    uniform = []
    for k in range(round_ * n, (round_ + 1) * n):
        epoch, i = divmod(k, len(goals))
        uniform.append(int(goals.epoch(seed, epoch)[i]))
    picks = [u if not e else -1 for u, e in zip(uniform, edge)]
    taken = {p for p in picks if p >= 0}
    free = np.array([len(m) for m in goals.members]) - np.bincount(
        goals.cell_of[list(taken)], minlength=len(goals.cells))
    for j in np.flatnonzero(edge):
        w = np.where(free > 0, weights, 0.0)
        if w.sum() <= 0:  # every goal is in the round already: the epoch's goal again
            picks[j] = uniform[j]
            continue
        c = int(rng.choice(len(w), p=w / w.sum()))
        members = goals.members[c]
        open_ = members[~np.isin(members, np.fromiter(taken, np.int64, len(taken)))]
        picks[j] = int(open_[np.argmin(last[open_])])
        taken.add(picks[j])
        free[c] -= 1
    return picks


def next_round(store: Store) -> int:
    """The first round not yet recorded in the store."""
    last = store.query("SELECT MAX(round) FROM hypotheses")[0][0]
    return 0 if last is None else int(last) + 1
