"""Throughput of the daemon against the same propose + verify in one process, and peak memory.

    python -m specialist.benchmarks.throughput [--seconds 180] [--warmup 60] [--config FILE] [--json]

Both runs start from a fresh data directory with the same configuration and the same warm
compilation cache (the in-process run goes first and fills it). Each counts verified hypotheses
per second from its store's verdict times, after ``--warmup`` seconds from its first verdict;
the in-process run proposes, verifies and refines but does not learn, so it is the most a
single process gets through. Memory is the peak of the summed resident memory of every process
each run started, sampled every half second.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from specialist import config
from specialist.app.builders import InProcess
from specialist.paths import Paths
from specialist.store import Store


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m specialist.benchmarks.throughput", description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=180.0, help="measured seconds per run (default 180)")
    p.add_argument("--warmup", type=float, default=60.0, help="seconds after the first verdict left out (default 60)")
    p.add_argument("--config", help="a TOML configuration for both runs (default: the daemon's defaults)")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p.add_argument("--in-process", metavar="DATA_DIR", help=argparse.SUPPRESS)  # the in-process run itself
    args = p.parse_args(argv)
    if args.in_process:
        return _in_process(args)
    root = Path(tempfile.mkdtemp(prefix="specialist-throughput-"))
    options = ["--config", args.config] if args.config else []
    total = args.warmup + args.seconds + 30.0  # start-up is not measured
    here = [sys.executable, "-m", "specialist.benchmarks.throughput", "--in-process", str(root / "one"),
            "--seconds", str(total)] + options
    one = _measure(here, root / "one", args.warmup)
    (root / "daemon").mkdir()
    shutil.copytree(Paths(root / "one").jax_cache, Paths(root / "daemon").jax_cache)
    daemon = [sys.executable, "-m", "specialist.cli", "run", "--data-dir", str(root / "daemon"),
              "--seconds", str(total)] + options
    two = _measure(daemon, root / "daemon", args.warmup)
    doc = {"in_process": one, "daemon": two, "ratio": two["verified_per_s"] / one["verified_per_s"],
           "cpus": psutil.cpu_count(), "data": str(root)}
    if args.json:
        print(json.dumps(doc))
    else:
        for name in ("in_process", "daemon"):
            r = doc[name]
            print(f"{name:>10}: {r['verified_per_s']:7.2f} verified hypotheses/s over {r['seconds']:.0f} s "
                  f"({r['verified']} verdicts), peak memory {r['peak_rss_mb']:.0f} MB in {r['processes']} processes")
        print(f"     ratio: {doc['ratio']:.2f} (daemon / in-process) on {doc['cpus']} CPUs")
    return 0


def _in_process(args) -> int:
    InProcess(config.load(args.config), Paths(Path(args.in_process))).run(args.seconds, learn=False)
    return 0


def _measure(command: list[str], data_dir: Path, warmup: float) -> dict:
    """Run ``command`` to its end, sampling memory; verified/s from the store after ``warmup``."""
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = {"rss": 0, "processes": 0}
    thread = threading.Thread(target=_sample, args=(proc.pid, peak), daemon=True)
    thread.start()
    proc.wait()
    thread.join(timeout=5)
    store = Store(Paths(data_dir).store)
    times = [r[0] for r in store.query("SELECT verified_at FROM verdicts ORDER BY verified_at")]
    store.close()
    start = times[0] + warmup if times else 0.0
    counted = [t for t in times if t >= start]
    seconds = (counted[-1] - start) if len(counted) > 1 else float("nan")
    return {"verified": len(counted), "seconds": seconds, "verified_per_s": len(counted) / seconds,
            "peak_rss_mb": peak["rss"] / 2**20, "processes": peak["processes"], "exit_code": proc.returncode}


def _sample(pid: int, peak: dict) -> None:
    try:
        root = psutil.Process(pid)
        while root.is_running() and root.status() != psutil.STATUS_ZOMBIE:
            procs = [root] + root.children(recursive=True)
            rss = 0
            for p in procs:
                try:
                    rss += p.memory_info().rss
                except psutil.Error:
                    pass
            if rss > peak["rss"]:
                peak.update(rss=rss, processes=len(procs))
            time.sleep(0.5)
    except psutil.Error:
        return


if __name__ == "__main__":
    sys.exit(main())
