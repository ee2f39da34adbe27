"""The sockets a running daemon listens on: the driver's and those of every process Ray started for it.

    python -m specialist.app.sockets [--data-dir DIR] [--json]   # address, port, protocol, process

    rows = listening(daemon_processes(Paths(data_dir)))          # a list of Socket
    exposed = [r for r in rows if not is_loopback(r.address)]    # empty for a local cluster

A daemon with a local Ray cluster listens on loopback only (see ``specialist.app.daemon``), so
other machines cannot reach it; this is how to check that on a running one.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
from typing import NamedTuple, Sequence

import psutil

from specialist.app.status import _locked
from specialist.errors import InputError
from specialist.paths import Paths, default_data_dir


class Socket(NamedTuple):
    """One listening TCP socket, or one bound UDP socket, and the process that holds it."""

    address: str
    port: int
    protocol: str  # "tcp" or "udp"
    pid: int
    process: str


def is_loopback(address: str) -> bool:
    """True for 127.0.0.0/8, ::1 and IPv4-mapped loopback (``::ffff:127.0.0.1``, an IPv6 socket
    that accepts IPv4 loopback only); False for the wildcards 0.0.0.0 and ::."""
    ip = ipaddress.ip_address(address.split("%")[0])  # an IPv6 zone ("fe80::1%eth0") is no address part
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


def daemon_processes(paths: Paths) -> list[psutil.Process]:
    """The running daemon of ``paths`` (the pid its lock holds) and all its descendants."""
    if not _locked(paths.lock):
        raise InputError("--data-dir", "", f"{paths.data_dir} has no running daemon; allowed: the data directory "
                         "of a running `specialist run`")
    try:
        driver = psutil.Process(int(paths.lock.read_text().strip()))
        return [driver, *driver.children(recursive=True)]
    except (ValueError, psutil.Error):  # the lock is held, yet its pid is unreadable or gone: ending now
        raise InputError("--data-dir", "", f"{paths.data_dir} has a daemon that is starting or stopping (its lock "
                         "names no live process); allowed: a daemon that is up, so try again in a moment") from None


def listening(procs: Sequence[psutil.Process]) -> list[Socket]:
    """Every listening TCP socket and bound, unconnected UDP socket of ``procs``, sorted by port."""
    names = {}
    for p in procs:
        try:
            names[p.pid] = p.name()
        except psutil.Error:  # ended meanwhile: it holds no socket any more
            pass
    rows = []
    for c in psutil.net_connections(kind="inet"):
        serving = c.status == psutil.CONN_LISTEN or (c.type == 2 and not c.raddr)  # 2: SOCK_DGRAM (UDP)
        if c.pid in names and c.laddr and serving:
            rows.append(Socket(c.laddr.ip, c.laddr.port, "tcp" if c.type == 1 else "udp", c.pid, names[c.pid]))
    return sorted(rows, key=lambda r: (r.port, r.protocol, r.address))


def render(rows: Sequence[Socket]) -> str:
    """The table ``python -m specialist.app.sockets`` prints, with a verdict line at the end."""
    lines = [f"{'address':<18} {'port':>5}  {'proto':<5} process"]
    lines += [f"{r.address:<18} {r.port:>5}  {r.protocol:<5} {r.process} (pid {r.pid})" for r in rows]
    exposed = [r for r in rows if not is_loopback(r.address)]
    lines.append(f"all {len(rows)} listening sockets are on loopback" if not exposed else
                 f"{len(exposed)} of {len(rows)} listening sockets are reachable from the network")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the listening sockets of the daemon of --data-dir; exit 1 if any is off loopback."""
    parser = argparse.ArgumentParser(prog="python -m specialist.app.sockets", description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=default_data_dir(), help="the running daemon's data directory")
    parser.add_argument("--json", action="store_true", help="print one JSON list of sockets")
    args = parser.parse_args(argv)
    try:
        rows = listening(daemon_processes(Paths(args.data_dir)))
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps([r._asdict() for r in rows], indent=2) if args.json else render(rows))
    return 0 if all(is_loopback(r.address) for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
