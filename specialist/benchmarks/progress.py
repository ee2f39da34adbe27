"""What a daemon's data directory shows about its progress: the figures of a run, printed.

    python -m specialist.benchmarks.progress [--data-dir DIR] [--json]

Time from the first start to the first verified hypothesis, the checkpointed parameter
versions, the MLflow run (status, metrics logged, figures) and the solve rate on training goals
at its first report, its best and its last.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from datetime import datetime

from specialist.app import tracking
from specialist.paths import Paths, default_data_dir
from specialist.store import Store


def progress(data_dir: Path) -> dict:
    store = Store(Paths(data_dir).store)
    started = _first_start(data_dir)
    first = store.query("SELECT MIN(verified_at) FROM verdicts")[0][0]
    versions = [r[0] for r in store.query("SELECT step FROM model_versions ORDER BY step")]
    run = store.get("cursors", tracking.CURSOR)
    store.close()
    client = tracking.MlflowClient(tracking_uri=run["position"]["uri"])
    run_id = run["position"]["run_id"]
    info = client.get_run(run_id)
    history = sorted(client.get_metric_history(run_id, "solve_rate"), key=lambda m: m.timestamp)
    figures = [a.path for a in client.list_artifacts(run_id, "figures")]
    rates = [m.value for m in history]
    return {"seconds_to_first_verified": None if first is None else first - started,
            "checkpointed_versions": versions, "run_id": run_id, "run_status": info.info.status,
            "metrics": sorted(info.data.metrics), "figures": figures,
            "solve_rate": {"first": rates[0] if rates else None, "best": max(rates, default=None),
                           "last": rates[-1] if rates else None, "reports": len(rates),
                           "minutes": (history[-1].timestamp - history[0].timestamp) / 6e4 if rates else 0}}


def _first_start(data_dir: Path) -> float:
    """When the daemon first started: the time of the first line of its log."""
    with open(Paths(data_dir).daemon_log) as fh:
        stamp = " ".join(fh.readline().split()[:2])
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m specialist.benchmarks.progress", description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=default_data_dir(), help="the daemon's data directory")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    args = p.parse_args(argv)
    doc = progress(Path(args.data_dir).absolute())
    if args.json:
        print(json.dumps(doc))
        return 0
    s = doc["solve_rate"]
    print(f"first verified hypothesis: {doc['seconds_to_first_verified']:.0f} s after the daemon first started")
    print(f"checkpointed parameter versions: {doc['checkpointed_versions']}")
    print(f"MLflow run {doc['run_id']} ({doc['run_status']}): {len(doc['metrics'])} metrics, figures {doc['figures']}")
    print(f"solve rate on training goals: first {s['first']:.3f}, best {s['best']:.3f}, last {s['last']:.3f} "
          f"({s['reports']} reports over {s['minutes']:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
