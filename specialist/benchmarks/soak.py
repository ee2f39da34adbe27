"""Memory over time: runs the daemon for a stated time and samples the resident memory (RSS) of all
its processes (the driver, Ray's GCS and raylet, every actor and worker).

    python -m specialist.benchmarks.soak --seconds 3600 --warmup 600 [--every 30] [--config C] [--data-dir D] [--json]

It prints one row per sample (seconds since start, processes, total RSS) and, over the samples
after the warm-up, the growth of the total from the first to the last and the slope of a straight
line through them (MB per hour). RSS counts pages shared between processes once per process, so
the total overstates what the machine spends; its growth is what a leak shows.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

from specialist.app.sockets import daemon_processes
from specialist.errors import InputError
from specialist.paths import Paths


def sample(paths: Paths) -> dict | None:
    """Processes and total RSS [MB] of the daemon running on ``paths``; None while none runs."""
    try:
        procs = daemon_processes(paths)
    except InputError:
        return None
    rss = []
    for p in procs:
        try:
            rss.append(p.memory_info().rss)
        except psutil.Error:  # a worker that ended between listing and reading
            continue
    return {"processes": len(rss), "rss_mb": sum(rss) / 1e6}


def soak(data_dir: Path, seconds: float, warmup: float, every: float, config: str | None) -> dict:
    """Run ``specialist run`` for warmup + seconds and sample it every ``every`` seconds."""
    argv = [sys.executable, "-m", "specialist.cli", "run", "--data-dir", str(data_dir),
            "--seconds", str(warmup + seconds)] + (["--config", config] if config else [])
    log = open(data_dir.parent / f"{data_dir.name}.soak.out", "a")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    paths, rows, start = Paths(data_dir), [], time.time()
    try:
        while proc.poll() is None:
            found = sample(paths)
            if found is not None:
                rows.append({"t_s": round(time.time() - start, 1), **found})
                print(f"{rows[-1]['t_s']:8.0f} s  {found['processes']:3d} processes  {found['rss_mb']:9.1f} MB",
                      file=sys.stderr, flush=True)
            time.sleep(every)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=300)
    return {"samples": rows, "warmup_s": warmup, "seconds": seconds, **growth(rows, warmup)}


def growth(rows: list[dict], warmup: float) -> dict:
    """Growth of the total RSS over the samples after ``warmup``: first to last [%], and the
    least-squares slope [MB per hour]."""
    after = [r for r in rows if r["t_s"] >= warmup]
    if len(after) < 2:
        return {"growth_pct": None, "slope_mb_per_h": None, "after_warmup": len(after)}
    t = np.array([r["t_s"] for r in after]) / 3600.0
    mb = np.array([r["rss_mb"] for r in after])
    slope = float(np.polyfit(t, mb, 1)[0]) if np.ptp(t) > 0 else 0.0
    return {"growth_pct": float(100 * (mb[-1] - mb[0]) / mb[0]), "slope_mb_per_h": slope,
            "after_warmup": len(after)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m specialist.benchmarks.soak", description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=3600.0, help="seconds measured after the warm-up (default 3600)")
    p.add_argument("--warmup", type=float, default=600.0, help="seconds before the growth is counted (default 600)")
    p.add_argument("--every", type=float, default=30.0, help="seconds between samples (default 30)")
    p.add_argument("--config", default=None, help="the daemon's TOML configuration (default: the defaults)")
    p.add_argument("--data-dir", default=None, help="the daemon's data directory (default: a new temporary one)")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    args = p.parse_args(argv)
    if not (args.seconds > 0 and args.warmup >= 0 and args.every > 0):
        print("error: --seconds and --every must be > 0 and --warmup >= 0.", file=sys.stderr)
        return 2
    data = Path(args.data_dir) if args.data_dir else Path(tempfile.mkdtemp(prefix="soak-")) / "data"
    report = soak(data.absolute(), args.seconds, args.warmup, args.every, args.config)
    if args.json:
        print(json.dumps(report))
        return 0
    for r in report["samples"]:
        print(f"{r['t_s']:8.0f} s  {r['processes']:3d} processes  {r['rss_mb']:9.1f} MB")
    if report["growth_pct"] is None:
        print("too few samples after the warm-up to measure growth")
    else:
        print(f"after {args.warmup:g} s of warm-up, over {report['after_warmup']} samples: total RSS "
              f"{report['growth_pct']:+.1f} % first to last, {report['slope_mb_per_h']:+.1f} MB per hour")
    return 0


if __name__ == "__main__":
    sys.exit(main())
