"""A simulated month of a daemon's store under retention: does its disk use level off?

    python -m specialist.benchmarks.month [--days 30] [--rounds-per-day N] [--json]

Rounds are written into a fresh data directory's store as the daemon's checks write them (the
same keys, designs shaped as the domain's, verdicts with merit and solved or a rejection; one
``put_many`` transaction a round) with a simulated clock; goals arrive as the generator feed
delivers them (``feeds.generated_per_poll`` every ``feeds.poll_every_s``), and one lab goal is
worked on in every round for the first ``--lab-days``. Compaction runs on its schedule
(``retention.every_minutes``, and at the start) on the same clock. Printed per simulated day:
rounds, hypotheses and goals stored, the store's size and the data directory's.

The daemon writes about 1.5 million hypotheses a day (measured: 93 MB of store in 45 minutes),
that is ``FULL_ROUNDS_PER_DAY`` rounds of the default size; to run in about a minute on two cores
the default writes ``1 / SCALE`` of that, goals scaled alike, and says so. Sizes at the full rate
are about ``SCALE`` times those printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from specialist import config, domain as domains
from specialist.app.retention import DAY_S, Retention
from specialist.paths import Paths
from specialist.store import Store

FULL_HYPOTHESES_PER_DAY = 1.5e6
SCALE = 80
_REJECTED = "layer 3 is thinner than the goal's thickness_nm range allows"


def main(argv: list[str] | None = None) -> int:
    cfg = config.load()
    full = full_rounds_per_day(cfg)
    p = argparse.ArgumentParser(prog="python -m specialist.benchmarks.month", description=__doc__.split("\n\n")[0])
    p.add_argument("--days", type=int, default=30, help="simulated days (default 30)")
    p.add_argument("--rounds-per-day", type=int, default=round(full / SCALE),
                   help=f"rounds written per simulated day (default {round(full / SCALE)}: 1/{SCALE} of the daemon's "
                        f"{full:.0f})")
    p.add_argument("--hypotheses-days", type=float, default=cfg.retention.hypotheses_days,
                   help=f"retention.hypotheses_days (default {cfg.retention.hypotheses_days:g})")
    p.add_argument("--goals-per-day", type=float, default=None,
                   help="new training goals per simulated day (default: the generator feed's rate, scaled alike)")
    p.add_argument("--lab-days", type=float, default=3.0, help="days a lab goal is worked on, from the start (default 3)")
    p.add_argument("--no-retention", action="store_true", help="never compact (the store as it grew before)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    args = p.parse_args(argv)
    if (args.days < 1 or args.rounds_per_day < 1 or args.hypotheses_days <= 0 or args.lab_days < 0
            or (args.goals_per_day or 0) < 0):
        raise SystemExit("--days and --rounds-per-day must be >= 1, --hypotheses-days > 0, --lab-days and "
                         "--goals-per-day >= 0")
    doc = simulate(cfg, args.days, args.rounds_per_day, args.hypotheses_days, args.lab_days,
                   not args.no_retention, args.seed, args.goals_per_day)
    print(json.dumps(doc) if args.json else render(doc))
    return 0


def full_rounds_per_day(cfg: config.Config) -> float:
    """The daemon's rounds a day at the measured rate: each goal's sampled group plus one refined design."""
    return FULL_HYPOTHESES_PER_DAY / (cfg.daemon.goals_per_round * (cfg.daemon.group + 1))


def simulate(cfg: config.Config, days: int, rounds_per_day: int, hypotheses_days: float, lab_days: float,
             retain: bool = True, seed: int = 0, goals_per_day: float | None = None) -> dict:
    """Write ``days`` of rounds under a simulated clock; returns the sizes at the end of each day.

    Args:
        cfg: the daemon's configuration (round size, feeds' rate, [retention]).
        days: simulated days.
        rounds_per_day: rounds written per simulated day.
        hypotheses_days: ``retention.hypotheses_days``.
        lab_days: days from the start during which a lab goal takes a slot of every round.
        retain: whether compaction runs.
        seed: seeds the goals drawn, the designs and the merits.
        goals_per_day: new training goals a day (None: the generator feed's, scaled as the rounds).

    Returns:
        {"scale", "rounds_per_day", "goals_per_day", "hypotheses_days", "retention", "days": [{"day",
        "rounds", "hypotheses", "kept", "goals", "aggregated_rounds", "store_mb", "data_dir_mb"}]},
        "kept" counting the hypotheses left in compacted rounds; sizes after a WAL checkpoint.
    """
    full = full_rounds_per_day(cfg)
    scale = full / rounds_per_day
    if goals_per_day is None:
        goals_per_day = 86400.0 / cfg.feeds.poll_every_s * cfg.feeds.generated_per_poll / scale
    section = dataclasses.replace(cfg.retention, hypotheses_days=hypotheses_days)
    with tempfile.TemporaryDirectory(prefix="specialist-month-") as tmp:
        paths = Paths(Path(tmp))
        store = Store(paths.store)
        try:
            sim = _Writer(store, cfg, np.random.default_rng(seed))
            retention = Retention(section, store)
            rows, t0 = [], 1.7e9
            sim.add_goals(t0, curriculum=True)
            for r in range(days * rounds_per_day):
                now = t0 + r * DAY_S / rounds_per_day
                sim.add_goals(now, count=int(goals_per_day * (now - t0) / DAY_S) - sim.generated)
                sim.round(r, now, lab=now - t0 < lab_days * DAY_S)
                if retain and retention.due(now):
                    retention.run(now, budget_s=None)
                if (r + 1) % rounds_per_day == 0:
                    rows.append(_sizes(store, paths, (r + 1) // rounds_per_day, r + 1))
        finally:
            store.close()
    return {"scale": round(scale, 2), "rounds_per_day": rounds_per_day, "goals_per_day": round(goals_per_day, 1),
            "hypotheses_days": hypotheses_days, "lab_days": lab_days, "retention": retain, "days": rows}


class _Writer:
    """Goals and rounds shaped as the daemon writes them."""

    def __init__(self, store: Store, cfg: config.Config, rng: np.random.Generator):
        self.store, self.cfg, self.rng = store, cfg, rng
        self.domain = domains.load(cfg.daemon.domain)
        self.templates = self.domain.curriculum(cfg.daemon.seed)[0]
        if isinstance(self.domain, domains.Generator):
            self.templates = self.domain.generate(0, 64)
        self.train: list[tuple[str, dict]] = []
        self.generated = 0
        self.lab = None

    def add_goals(self, now: float, count: int = 0, curriculum: bool = False) -> None:
        """The curriculum (train and held-out) and a lab goal, or ``count`` generated goals."""
        if curriculum:
            train, heldout = self.domain.curriculum(self.cfg.daemon.seed)
            rows = self._goals(train, "train", "curriculum", now) + self._goals(heldout, "heldout", "curriculum", now)
            lab = {**self.templates[0], "name": "lab-mirror", "variant": -1,
                   "provenance": {"source": "lab", "submitted_by": "bench"}}
            rows += self._goals([lab], "user", "lab", now)
            self.lab = (rows[-1][1]["hash"], lab)
            rows.append(("lab_goals", {"name": "lab-mirror", "goal_hash": self.lab[0], "body": lab, "status": "active",
                                       "provenance": lab["provenance"], "submitted_at": now, "withdrawn_at": None,
                                       "updated_at": now}))
        else:
            # a template's copy, told apart by "variant" (a goal's hash is its physics, not its name)
            made = [{**t, "name": f"{t.get('name', 'goal')}-g{n}", "variant": n}
                    for n, t in ((n, self.templates[n % len(self.templates)])
                                 for n in range(self.generated, self.generated + count))]
            rows = self._goals(made, "train", "generator", now)
            self.generated += count
        self.store.put_many(rows)
        self.train += [(row["hash"], row["body"]) for table, row in rows if table == "goals" and row["split"] == "train"]

    def _goals(self, goals: list[dict], split: str, source: str, now: float) -> list[tuple[str, dict]]:
        provenance = {"source": source, "domain": self.domain.spec.name, "seed": self.cfg.daemon.seed}
        return [("goals", {"hash": domains.goal_hash(g), "name": g.get("name", ""), "domain": self.domain.spec.name,
                           "split": split, "body": g, "provenance": provenance, "created_at": now}) for g in goals]

    def round(self, round_: int, now: float, lab: bool) -> None:
        """One round's hypotheses and verdicts, in one transaction as the experiments write them."""
        d = self.cfg.daemon
        picks = [self.train[i] for i in self.rng.integers(0, len(self.train), d.goals_per_round - lab)]
        records = []
        for slot, (digest, goal) in enumerate(picks + ([self.lab] if lab else [])):
            for j in range(d.group + 1):
                key = f"{round_}:{slot}:{digest[:12]}:{j}"
                records += [("hypotheses", {"key": key, "goal_hash": digest, "design": self._design(goal),
                                            "params_version": 2 * round_, "round": round_,
                                            "origin": "sampled" if j < d.group else "refined", "created_at": now}),
                            ("verdicts", {"hypothesis_key": key, **self._verdict(goal, j == d.group), "verified_at": now})]
        self.store.put_many(records)

    def _design(self, goal: dict) -> dict:
        materials = goal.get("materials") or ["SiO2", "TiO2"]
        n = int(self.rng.integers(1, int(goal.get("max_layers") or 8) + 1))
        return {"incident": goal.get("incident", "air"), "substrate": goal.get("substrate", "N-BK7"),
                "layers": [{"material": materials[k % len(materials)],
                            "thickness_nm": round(float(self.rng.uniform(5.0, 400.0)), 2)} for k in range(n)]}

    def _verdict(self, goal: dict, refined: bool) -> dict:
        if not refined and self.rng.random() < 0.1:
            return {"merit": None, "solved": 0, "detail": {"rejected": _REJECTED}}
        merit = float(self.rng.lognormal(0.5 if refined else 1.5, 1.5))
        solved = merit <= float(goal.get("solved_below", 1.0))
        return {"merit": merit, "solved": int(solved), "detail": {"merit": merit, "solved": solved}}


def _sizes(store: Store, paths: Paths, day: int, rounds: int) -> dict:
    # the log holds up to ~4 MB between the checkpoints SQLite makes itself: emptied so days compare
    store.query("PRAGMA wal_checkpoint(TRUNCATE)")
    db = paths.store
    files = [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
    kept = "round <= (SELECT MAX(round) FROM round_aggregates)"
    return {"day": day, "rounds": rounds, "hypotheses": store.count("hypotheses"),
            "kept": store.count("hypotheses", kept), "goals": store.count("goals"),
            "aggregated_rounds": store.count("round_aggregates"),
            "store_mb": round(sum(f.stat().st_size for f in files if f.exists()) / 1e6, 2),
            "data_dir_mb": round(_tree_bytes(paths.data_dir) / 1e6, 2)}


def _tree_bytes(top: Path) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(top) for f in files)


def render(doc: dict) -> str:
    """The table per day, then the growth of the last days against the first."""
    lines = [f"simulated month: {doc['rounds_per_day']} rounds/day, {doc['goals_per_day']:g} new goals/day, 1/"
             f"{doc['scale']:.0f} of the daemon's rate (sizes at the full rate: about {doc['scale']:.0f} times these); "
             f"a lab goal in every round for the first {doc['lab_days']:g} days (its verdicts kept for ever); "
             f"hypotheses_days {doc['hypotheses_days']:g}; retention {'on' if doc['retention'] else 'off'}",
             f"{'day':>4} {'rounds':>7} {'hypotheses':>10} {'of them kept':>12} {'goals':>7} {'aggregated':>10} "
             f"{'store MB':>9} {'data dir MB':>11}"]
    for d in doc["days"]:
        lines.append(f"{d['day']:>4} {d['rounds']:>7} {d['hypotheses']:>10} {d['kept']:>12} {d['goals']:>7} "
                     f"{d['aggregated_rounds']:>10} {d['store_mb']:>9.2f} {d['data_dir_mb']:>11.2f}")
    days = doc["days"]
    if len(days) >= 4:
        k = min(3, len(days) // 2)
        first = (days[k - 1]["store_mb"] - 0.0) / k
        last = (days[-1]["store_mb"] - days[-1 - k]["store_mb"]) / k
        lines.append(f"store growth: {first:.2f} MB/day over the first {k} days, {last:.2f} MB/day over the last {k} "
                     f"(at the full rate about {first * doc['scale']:.0f} and {last * doc['scale']:.0f} MB/day)")
    per_kb = days[0]["store_mb"] * 1e3 / max(1, days[0]["hypotheses"])
    lines.append(f"a hypothesis with its verdict takes about {per_kb:.1f} kB here; the daemon's measured 93 MB in 45 "
                 f"minutes is about 2 kB each at 1.5 million a day")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
