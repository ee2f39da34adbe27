"""`specialist dashboard`: the MLflow UI on a daemon's tracking store, on loopback by default.

    specialist dashboard --data-dir DIR [--port 5000] [--host 127.0.0.1]   # until Ctrl-C

It serves the data directory's own store (``mlflow.db``, artifacts in ``mlflow-artifacts/``) with
``mlflow server`` in a child process group, prints the address and the SSH tunnel that reaches it
from another machine, and ends the whole group on Ctrl-C or SIGTERM (exit status 0).
"""

from __future__ import annotations

import argparse
import getpass
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from specialist.cli.io import data_dir_arg, paths
from specialist.errors import InputError
from specialist.paths import Paths

SERVER_ENV = {
    "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "false",  # never unpickle what a store holds
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",  # no GenAI job runner: seven worker processes the UI does not need
}
START_TIMEOUT_S = 120.0  # mlflow server imports and migrates the store first: seconds on a busy machine


def add_args(p: argparse.ArgumentParser) -> None:
    data_dir_arg(p)
    p.add_argument("--port", type=int, default=5000, help="port to serve on (default 5000)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only; "
                   "reach it from another one through an SSH tunnel, as printed)")


def run(args: argparse.Namespace) -> int:
    where = paths(args)
    if not where.mlflow_db.is_file():
        raise InputError("--data-dir", "", f"{where.data_dir} holds no tracking store ({where.mlflow_db.name}); "
                         "allowed: the data directory of a daemon that has run (`specialist run`)")
    if not 1 <= args.port <= 65535:
        raise InputError("--port", "", f"is {args.port}; allowed: a port number from 1 to 65535")
    _check_free(args.host, args.port)
    if not _loopback(args.host):
        print(f"warning: --host {args.host} exposes the MLflow UI, without any login, to every machine that can "
              f"reach this one; the default 127.0.0.1 with an SSH tunnel keeps it private", file=sys.stderr)
    env = {**os.environ, **SERVER_ENV}
    return _serve(server_command(where, args.host, args.port), env, args.host, args.port)


def server_command(where: Paths, host: str, port: int) -> list[str]:
    """The ``mlflow server`` command line for the store and artifacts of ``where``."""
    from specialist.app.tracking import default_uri  # MLflow: imported when the command runs

    return [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", default_uri(where.data_dir),
            "--default-artifact-root", where.mlflow_artifacts.as_uri(),  # as the daemon's experiments have it
            "--no-serve-artifacts",  # the artifacts are local files the server reads; nothing is uploaded
            "--host", host, "--port", str(port), "--workers", "1"]  # one lab user: no worker pool


def _serve(command: list[str], env: dict, host: str, port: int) -> int:
    """Run the server until it ends, or until Ctrl-C/SIGTERM ends it (then exit status 0)."""
    # Its own process group: Ctrl-C reaches this process only, which then ends the server and
    # every worker it started together. Its messages go to stderr (fd 2): stdout says where it is.
    proc = subprocess.Popen(command, env=env, stdout=2, start_new_session=True)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        if _wait_listening(proc, host, port):
            _announce(host, port)
        elif proc.poll() is None:
            print(f"warning: the MLflow server does not answer on port {port} after {START_TIMEOUT_S:.0f} s",
                  file=sys.stderr)
        return _exited(proc.wait())
    except KeyboardInterrupt:
        _stop(proc)
        print("dashboard stopped", file=sys.stderr)
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        if proc.poll() is None:
            _stop(proc)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _wait_listening(proc: subprocess.Popen, host: str, port: int) -> bool:
    """True once the server accepts connections; False if it ended or did not start in time."""
    end = time.monotonic() + START_TIMEOUT_S
    while proc.poll() is None and time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1" if host in ("0.0.0.0", "") else host, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.3)
    return False


def _announce(host: str, port: int) -> None:
    url_host = f"[{host}]" if ":" in host else host
    print(f"MLflow UI at http://{url_host}:{port}  (Ctrl-C to stop)", flush=True)
    if _loopback(host):
        print(f"from another machine: ssh -N -L {port}:127.0.0.1:{port} {_user()}@{socket.gethostname()}"
              f"  then open http://localhost:{port}", flush=True)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name known (a container): the user fills it in
        return "USER"


def _exited(code: int) -> int:
    if code != 0:
        print(f"error: the MLflow server exited with status {code} (its messages are above)", file=sys.stderr)
    return 1 if code else 0


def _stop(proc: subprocess.Popen) -> None:
    """End the server's process group: SIGTERM, then SIGKILL after 10 s."""
    for sig, wait_s in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it resolves to whatever the network says
        return False


def _check_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will: TIME_WAIT is no conflict
        try:
            s.bind((host, port))
        except OSError as err:
            raise InputError("--port", "", f"is {port}, and {host}:{port} cannot be bound ({err.strerror}); "
                             "allowed: a free port on an address of this machine") from None
