"""What the daemon and the dashboard expose to the network: nothing, unless asked.

A local Ray cluster started as the daemon starts it, with one actor, listens on loopback only:
every listening socket of the driver and of every process Ray started is on a loopback address
(as psutil reads them), and, checked independently of that reading, a connection to each port
through this machine's own network address is refused while one through 127.0.0.1 is accepted.
The MLflow UI of `specialist dashboard` serves the data directory's own store on 127.0.0.1.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request

import psutil
import pytest

from specialist.app import sockets
from specialist.cli import dashboard
from specialist.cli.registry import main
from specialist.paths import Paths

# The daemon's own start of a local cluster (daemon._start_ray, default configuration, one CPU),
# holding the data directory's lock as `specialist run` does, with one actor; it shuts Ray down
# when its stdin closes.
_LOCAL_CLUSTER = textwrap.dedent("""
    import os, sys
    from specialist import config
    from specialist.app import daemon, processes
    from specialist.paths import Paths

    paths = Paths(sys.argv[1])
    paths.data_dir.mkdir(parents=True, exist_ok=True)
    lock = processes.lock(paths)
    daemon._start_ray(config.load(None, {"ray": {"num_cpus": 1}}), "")

    @daemon.ray.remote(num_cpus=0)
    class Echo:
        def pid(self):
            return os.getpid()

    actor = Echo.remote()
    print(daemon.ray.get(actor.pid.remote(), timeout=180), flush=True)
    sys.stdin.read()
    daemon.ray.shutdown()
""")


def _own_addresses() -> list[str]:
    """This machine's IPv4 addresses other than loopback: where other machines would connect."""
    return [a.address for addrs in psutil.net_if_addrs().values() for a in addrs
            if a.family == socket.AF_INET and not a.address.startswith("127.")]


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def _check_loopback_only(rows: list[sockets.Socket]) -> None:
    """Every socket on loopback, as psutil reads them and as connections find them."""
    exposed = [r for r in rows if not sockets.is_loopback(r.address)]
    assert not exposed, f"listening off loopback: {exposed}"
    for row in (r for r in rows if r.protocol == "tcp"):
        local = "::1" if row.address == "::1" else "127.0.0.1"
        assert _accepts(local, row.port), f"{row} does not accept a connection through {local}"
        for address in _own_addresses():
            assert not _accepts(address, row.port), f"{row} accepts a connection through {address}"


@pytest.mark.daemon
def test_a_local_cluster_listens_on_loopback_only(tmp_path, capsys):
    data = tmp_path / "data"
    proc = subprocess.Popen([sys.executable, "-c", _LOCAL_CLUSTER, str(data)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    started = []
    try:
        actor_pid = int(proc.stdout.readline() or 0)
        assert actor_pid, f"the local cluster did not start (exit status {proc.poll()})"
        time.sleep(2.0)  # the agents and the autoscaler's metrics server bind a moment after the actor is up
        started = sockets.daemon_processes(Paths(data))
        rows = sockets.listening(started)
        holders = {r.pid for r in rows} | {r.process for r in rows}
        # the reading finds what must be there: the driver, GCS, raylet and the actor's gRPC server
        assert {proc.pid, actor_pid, "gcs_server", "raylet"} <= holders, rows
        _check_loopback_only(rows)
        assert sockets.main(["--data-dir", str(data)]) == 0
        listing = capsys.readouterr().out
        assert f"all {len(rows)} listening sockets are on loopback" in listing
        with capsys.disabled():
            print("\nlistening sockets of a local cluster with one actor:\n" + listing)
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0
    finally:
        for p in [proc, *started]:
            if p.poll() is None if isinstance(p, subprocess.Popen) else p.is_running():
                p.kill()


def test_joining_a_cluster_leaves_its_network_settings_alone(monkeypatch):
    """With --ray-address the cluster's nodes must reach the driver: no loopback switch is set."""
    from specialist import config
    from specialist.app import daemon

    calls = []
    monkeypatch.setattr(daemon.ray, "init", lambda **kw: calls.append(kw))
    monkeypatch.setattr(daemon.ray_constants, "ENABLE_RAY_CLUSTER", True)
    for name in daemon.LOCAL_ENV:
        monkeypatch.setenv(name, "as before")
    daemon._start_ray(config.load(None), "ray://head:10001")
    assert calls[0]["address"] == "ray://head:10001" and daemon.ray_constants.ENABLE_RAY_CLUSTER
    assert all(daemon.os.environ[name] == "as before" for name in daemon.LOCAL_ENV)


@pytest.mark.parametrize("address, loopback", [("127.0.0.1", True), ("127.3.2.1", True), ("::1", True),
                                               ("::ffff:127.0.0.1", True), ("0.0.0.0", False), ("::", False),
                                               ("192.0.2.2", False), ("::ffff:192.0.2.2", False)])
def test_loopback_addresses_are_told_apart(address, loopback):
    assert sockets.is_loopback(address) is loopback


def test_sockets_of_a_data_directory_without_a_running_daemon_are_refused(tmp_path, capsys):
    assert sockets.main(["--data-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == (f"error: --data-dir: {tmp_path} has no running daemon; allowed: the "
                                               "data directory of a running `specialist run`.")


def test_dashboard_refuses_a_data_directory_without_a_tracking_store(tmp_path, capsys):
    assert main(["dashboard", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds no tracking store (mlflow.db)" in err and str(tmp_path) in err


def test_dashboard_serves_the_data_directory_store_and_warns_off_loopback(tmp_path, capsys, monkeypatch):
    Paths(tmp_path).mlflow_db.touch()
    served = []
    monkeypatch.setattr(dashboard, "_serve", lambda command, env, host, port: served.append((command, env)) or 0)
    assert main(["dashboard", "--data-dir", str(tmp_path), "--port", str(_free_port()), "--host", "0.0.0.0"]) == 0
    command, env = served[0]
    assert command[command.index("--backend-store-uri") + 1] == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert command[command.index("--default-artifact-root") + 1] == (tmp_path / "mlflow-artifacts").as_uri()
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert env["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] == "false"
    assert "warning: --host 0.0.0.0 exposes the MLflow UI" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read()


@pytest.mark.daemon
def test_dashboard_serves_the_store_on_loopback_until_ctrl_c(tmp_path):
    from specialist.app.tracking import MlflowLogger, default_uri

    where = Paths(tmp_path)
    logger = MlflowLogger(default_uri(where.data_dir), "specialist", where.mlflow_artifacts)
    logger.write({"solve_rate": 0.25}, step=3)
    logger.close()
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "specialist.cli", "dashboard", "--data-dir", str(tmp_path),
                             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    started = []
    try:
        lines = [proc.stdout.readline() for _ in range(2)]
        assert lines[0].startswith(f"MLflow UI at http://127.0.0.1:{port}"), lines
        assert f"ssh -N -L {port}:127.0.0.1:{port} " in lines[1]
        assert _get(f"http://127.0.0.1:{port}/")[0] == 200
        # the server reads this data directory's store: the run and its metric as the logger wrote them
        body = json.loads(_get(f"http://127.0.0.1:{port}/api/2.0/mlflow/runs/get?run_id={logger.run_id}")[1])
        assert body["run"]["data"]["metrics"] == [{"key": "solve_rate", "value": 0.25, "timestamp":
                                                   body["run"]["data"]["metrics"][0]["timestamp"], "step": 3}]
        started = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
        rows = sockets.listening(started)
        assert port in {r.port for r in rows}
        _check_loopback_only(rows)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
        gone, alive = psutil.wait_procs(started[1:], timeout=30)
        assert not alive and not _accepts("127.0.0.1", port)
    finally:
        for p in [proc, *started[1:]]:
            if p.poll() is None if isinstance(p, subprocess.Popen) else p.is_running():
                p.kill()
