"""The lab goals of a daemon's data directory: how their best merit improved, from MLflow and the store.

    python -m specialist.benchmarks.lab [--data-dir DIR] [--json]

Per lab goal: when it was submitted, the round and time of its first verified design, its best
merit as MLflow recorded it over time (metric ``lab_<name>_best_merit``: first, then after 5, 10,
20 and 30 minutes, and last), the figure ``figures/lab_<name>.png``, and its best design now
with the parameter version that found it (``specialist designs``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from feeds.labgoals import designs
from specialist.app import tracking
from specialist.paths import Paths, default_data_dir
from specialist.store import Store

MARKS_MIN = (5, 10, 20, 30)


def lab_report(data_dir: Path) -> list[dict]:
    store = Store(Paths(data_dir).store)
    try:
        found = designs(store)
        first = {r[0]: (r[1], r[2]) for r in store.query(
            "SELECT h.goal_hash, MIN(h.round), MIN(h.created_at) FROM hypotheses h JOIN lab_goals l "
            "ON l.goal_hash = h.goal_hash GROUP BY h.goal_hash")}
        run = store.get("cursors", tracking.CURSOR)
    finally:
        store.close()
    client = tracking.MlflowClient(tracking_uri=run["position"]["uri"]) if run else None
    figures = {a.path for a in client.list_artifacts(run["position"]["run_id"], "figures")} if client else set()
    out = []
    for e in found:
        history = sorted(client.get_metric_history(run["position"]["run_id"], f"lab_{e['name']}_best_merit"),
                         key=lambda m: m.timestamp) if client else []
        start = e["submitted_at"]
        marks = {}
        for minutes in MARKS_MIN:
            seen = [m.value for m in history if m.timestamp / 1000 <= start + 60 * minutes]
            marks[f"{minutes}min"] = seen[-1] if seen else None
        round_, at = first.get(e["hash"], (None, None))
        best = e["best"] or {}
        out.append({"name": e["name"], "status": e["status"], "first_round": round_,
                    "first_verified_after_s": None if at is None else round(at - start, 1),
                    "designs_verified": e["designs_verified"],
                    "mlflow_best_merit": {"first": history[0].value if history else None, **marks,
                                          "last": history[-1].value if history else None, "points": len(history)},
                    "figure": f"figures/lab_{e['name']}.png" in figures,
                    "best_merit": best.get("merit"), "solved": best.get("solved"),
                    "found_by": f"v{best['params_version']} {best['origin']} round {best['round']}" if best else None,
                    "improvements": len(e["history"])})
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m specialist.benchmarks.lab", description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=default_data_dir(), help="the daemon's data directory")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    args = p.parse_args(argv)
    rows = lab_report(Path(args.data_dir).absolute())
    if args.json:
        print(json.dumps(rows))
        return 0
    fmt = lambda x: "-" if x is None else f"{x:.4g}"
    print(f"{'lab goal':20} {'1st round':>9} {'after s':>8} {'first':>8} " + " ".join(f"{m:>8}" for m in
          (f"{k}min" for k in MARKS_MIN)) + f" {'last':>8} {'designs':>8}  found by")
    for r in rows:
        m = r["mlflow_best_merit"]
        print(f"{r['name']:20} {fmt(r['first_round']):>9} {fmt(r['first_verified_after_s']):>8} {fmt(m['first']):>8} "
              + " ".join(f"{fmt(m[f'{k}min']):>8}" for k in MARKS_MIN)
              + f" {fmt(m['last']):>8} {r['designs_verified']:8d}  {r['found_by']}"
              + ("" if r["figure"] else "  (no figure yet)"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
