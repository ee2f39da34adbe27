"""The daemon's processes on this machine: the data directory's lock, and what Ray leaves behind.

A daemon killed with kill -9 cannot stop the processes Ray started for it, and some of them
(Ray's node agents) outlive it; the next daemon on the same data directory ends them, matching
each recorded pid with its start time so that a reused pid is never touched.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os

import psutil

from specialist.errors import InputError
from specialist.paths import Paths

log = logging.getLogger("specialist")


def lock(paths: Paths):
    """An exclusive lock on the data directory, released by the OS however the process ends."""
    fh = open(paths.lock, "a+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        raise InputError("--data-dir", "", f"{paths.data_dir} is in use by a running daemon (pid "
                         f"{fh.read().strip() or 'unknown'}); stop it first or choose another data directory")
    fh.truncate(0)
    fh.write(str(os.getpid()))
    fh.flush()
    return fh


def record_children(paths: Paths) -> None:
    """Note the processes Ray started for this daemon, so that a restart after a kill -9 can end
    those that outlived it (Ray's node agents do)."""
    procs = []
    for p in psutil.Process().children(recursive=True):
        try:
            procs.append([p.pid, p.create_time()])
        except psutil.Error:
            pass
    paths.ray_processes.write_text(json.dumps(procs))


def reap_previous(paths: Paths) -> None:
    """End what a killed predecessor's Ray left running (same pid and start time only)."""
    path = paths.ray_processes
    if not path.exists():
        return
    reaped = 0
    for pid, created in json.loads(path.read_text() or "[]"):
        try:
            p = psutil.Process(pid)
            if abs(p.create_time() - created) < 0.01:
                p.kill()
                reaped += 1
        except psutil.Error:
            pass
    if reaped:
        log.info("ended %d processes left by the previous daemon's Ray", reaped)
    path.unlink()
