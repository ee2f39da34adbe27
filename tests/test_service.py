"""Running unattended: `specialist service` (the systemd unit), `status --check` for monitoring, the
data directory's disk use in `status`, and a second daemon refused on a data directory in use.

No daemon starts here: the tests hold the data directory's lock themselves, as the daemon does
(fcntl.flock on ``Paths.lock``, its pid written in it), and write its heartbeat to the store's
cursor "daemon" as the driver does.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from specialist.app import status as status_mod
from specialist.cli import main
from specialist.paths import Paths
from specialist.store import Store


def run(capsys, argv: list[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


# --- specialist service ------------------------------------------------------------------------

@pytest.fixture
def xdg(tmp_path, monkeypatch) -> Path:
    """A config home of the test's own, so that --install never touches the real one."""
    home = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    return home


def exec_start(unit: str) -> str:
    return next(line for line in unit.splitlines() if line.startswith("ExecStart="))[len("ExecStart="):]


def test_unit_runs_this_specialist_on_absolute_paths(xdg, tmp_path, capsys):
    (tmp_path / "lab.toml").write_text("[tracking]\nlog_every_s = 5.0\n")
    code, out, _ = run(capsys, ["service", "--data-dir", "data", "--config", "lab.toml", "--json"])
    doc = json.loads(out)
    assert code == 0 and set(doc) == {"unit", "path", "installed", "written"}
    assert doc["path"] == str(xdg / "systemd/user/specialist.service") and not doc["installed"]
    words = exec_start(doc["unit"]).split()
    assert Path(words[0]).is_absolute() and os.access(words[0], os.X_OK)
    assert words[-5:] == ["run", "--data-dir", str(tmp_path / "data"), "--config", str(tmp_path / "lab.toml")]
    for line in ("Restart=on-failure", "RestartSec=10", "KillSignal=SIGTERM", "TimeoutStopSec=120",
                 "StandardOutput=journal", "WantedBy=default.target", f"WorkingDirectory={tmp_path}",
                 f'Environment="SPECIALIST_DATA_DIR={tmp_path / "data"}"'):
        assert line in doc["unit"].splitlines(), line
    assert not (tmp_path / "data").exists() and not xdg.exists()  # printing writes nothing


def test_printed_unit_ends_with_the_commands_as_comments(xdg, capsys):
    code, out, _ = run(capsys, ["service", "--data-dir", "d", "--name", "coatings"])
    assert code == 0
    tail = out[out.index("WantedBy=default.target"):].splitlines()[1:]
    assert all(line.startswith("#") or not line for line in tail)  # stdout saved as is is still the unit
    text = "\n".join(tail)
    for command in ("systemctl --user daemon-reload", "systemctl --user enable --now coatings",
                    "loginctl enable-linger $USER", "journalctl --user -u coatings -f"):
        assert command in text


def test_install_writes_once_and_refuses_a_different_unit(xdg, capsys):
    target = xdg / "systemd/user/specialist.service"
    code, out, _ = run(capsys, ["service", "--data-dir", "d", "--install"])
    assert code == 0 and f"wrote {target}" in out and "systemctl --user enable --now specialist" in out
    first = target.read_text()
    assert exec_start(first).endswith(f"--data-dir {Path.cwd() / 'd'}")
    assert not list(target.parent.glob("*.tmp"))
    stamp = target.stat().st_mtime_ns
    code, out, _ = run(capsys, ["service", "--data-dir", "d", "--install", "--json"])
    doc = json.loads(out)
    assert code == 0 and doc["installed"] and not doc["written"] and doc["unit"] == first
    assert target.stat().st_mtime_ns == stamp  # the same unit again: left alone
    code, out, err = run(capsys, ["service", "--data-dir", "other", "--install"])
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert "holds a different unit" in err and "--force" in err and target.read_text() == first
    code, out, _ = run(capsys, ["service", "--data-dir", "other", "--install", "--force"])
    assert code == 0 and "--data-dir " + str(Path.cwd() / "other") in target.read_text()


def test_relative_xdg_config_home_is_ignored(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/config")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    doc = json.loads(run(capsys, ["service", "--json"])[1])
    assert doc["path"] == str(tmp_path / "home/.config/systemd/user/specialist.service")


@pytest.mark.parametrize("argv, words", [
    (["--data-dir", "afile"], ["--data-dir", "which is a file"]),
    (["--config", "missing.toml"], ["missing.toml", "cannot be read"]),
    (["--config", "bad.toml"], ["bad.toml", "not valid TOML"]),
    (["--config", "wrong.toml"], ["wrong.toml", "tracking.log_every_s"]),
    (["--name", "my unit"], ["--name", "allowed"]),
    (["--data-dir", "line\nbreak"], ["--data-dir", "control character"]),
])
def test_service_refuses_bad_input_in_one_sentence(xdg, tmp_path, capsys, argv, words):
    (tmp_path / "afile").write_text("x")
    (tmp_path / "bad.toml").write_text("[tracking\n")
    (tmp_path / "wrong.toml").write_text("[tracking]\nlog_every_s = -1\n")
    code, out, err = run(capsys, ["service", *argv])
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and err.startswith("error: ")
    assert all(w in err for w in words), err
    assert not xdg.exists()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here, "
                    "so the unit's syntax cannot be checked by systemd itself")
def test_systemd_accepts_the_unit(xdg, tmp_path, capsys):
    """systemd's own parser: no warning (an unknown key, a bad value or escape only warns) and the
    executable found, with a data directory whose name needs quoting and escaping: unescaped, '%Q'
    is an unknown specifier, a lone '"' unbalances the quoting and '\\q' is an unknown escape."""
    (tmp_path / "c.toml").write_text("")
    assert main(["service", "--data-dir", 'data 100%Q "x \\q $HOME', "--config", "c.toml", "--install"]) == 0
    unit = xdg / "systemd/user/specialist.service"
    # systemd expands $NAME in ExecStart= (systemd.service(5): "$$" is a literal "$"), which verify
    # does not show: checked on the text
    # and does not in Environment=
    environment = next(line for line in unit.read_text().splitlines() if "SPECIALIST_DATA_DIR" in line)
    assert "$$HOME" in exec_start(unit.read_text()) and "$HOME" in environment and "$$" not in environment
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr
    bogus = tmp_path / "bogus.service"  # the check can fail: a misspelt key is reported
    bogus.write_text(unit.read_text().replace("RestartSec=", "RestartSecs="))
    done = subprocess.run(["systemd-analyze", "verify", str(bogus)], capture_output=True, text=True, timeout=60)
    assert "RestartSecs" in done.stderr


# --- status --check ----------------------------------------------------------------------------

def hold_lock(paths: Paths, started: float | None = None):
    """The data directory's lock as the daemon takes it; ``started`` back-dates its taking."""
    paths.data_dir.mkdir(parents=True, exist_ok=True)
    fh = open(paths.lock, "a+")
    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    fh.truncate(0)
    fh.write(str(os.getpid()))
    fh.flush()
    if started is not None:
        os.utime(paths.lock, (started, started))
    return fh


def beat(paths: Paths, at: float, pid: int | None = None) -> None:
    """The driver's heartbeat (``Driver._write_status``), written at time ``at``."""
    store = Store(paths.store)
    try:
        store.put("cursors", {"stream": status_mod.CURSOR, "position": {
            "running": True, "pid": os.getpid() if pid is None else pid, "host": "lab", "started_at": at - 5,
            "heartbeat": at, "round": 7, "params_version": 3, "run_id": "r", "actors": {}, "metrics": {}}})
    finally:
        store.close()


def test_check_with_no_daemon_fails(tmp_path, capsys):
    code, out, err = run(capsys, ["status", "--data-dir", str(tmp_path), "--check"])
    assert (code, out, err) == (1, "", f"no daemon runs on {tmp_path}\n")
    beat(Paths(tmp_path), time.time())  # a fresh heartbeat without the lock: the daemon is gone
    assert run(capsys, ["status", "--data-dir", str(tmp_path), "--check"])[0] == 1


def test_check_passes_on_a_fresh_heartbeat(tmp_path, capsys):
    paths = Paths(tmp_path)
    with hold_lock(paths, started=time.time() - 600):
        beat(paths, time.time() - 3)
        code, out, err = run(capsys, ["status", "--data-dir", str(tmp_path), "--check", "--max-age", "120"])
        assert code == 0 and err == "" and f"daemon pid {os.getpid()}" in out and "(limit 120 s)" in out
        code, out, _ = run(capsys, ["status", "--data-dir", str(tmp_path), "--check", "--json"])
        doc = json.loads(out)
        assert code == 0 and doc["running"] and doc["check"]["ok"] and doc["round"] == 7
        assert "heartbeat 3 s old" in doc["check"]["reason"]


def test_check_fails_on_a_stale_heartbeat(tmp_path, capsys):
    paths = Paths(tmp_path)
    with hold_lock(paths, started=time.time() - 3600):
        beat(paths, time.time() - 312)
        code, out, err = run(capsys, ["status", "--data-dir", str(tmp_path), "--check", "--max-age", "120"])
        assert code == 1 and out == "" and len(err.splitlines()) == 1
        assert err.startswith("heartbeat is 312 s old (limit 120 s)")
        code, out, err = run(capsys, ["status", "--data-dir", str(tmp_path), "--check", "--json", "--max-age", "120"])
        assert code == 1 and json.loads(out)["check"] == {"ok": False, "reason": err.strip()}


def test_default_limit_follows_the_configuration(tmp_path, capsys):
    paths = Paths(tmp_path / "d")
    (tmp_path / "c.toml").write_text("[tracking]\nlog_every_s = 5.0\n[ray]\nget_timeout_s = 100.0\n")
    with hold_lock(paths, started=time.time() - 3600):
        beat(paths, time.time() - 312)
        argv = ["status", "--data-dir", str(paths.data_dir), "--check"]
        assert run(capsys, argv)[0] == 0  # 312 s <= 2 x 10 s + 300 s, the defaults
        code, _, err = run(capsys, argv + ["--config", str(tmp_path / "c.toml")])
        assert code == 1 and "(limit 110 s)" in err  # 2 x 5 s + 100 s


def test_check_times_a_starting_daemon_from_its_lock(tmp_path, capsys):
    """The store holds an earlier run's heartbeat (another pid) until the new daemon writes one."""
    paths = Paths(tmp_path)
    beat(paths, time.time() - 7200, pid=os.getpid() + 1)
    argv = ["status", "--data-dir", str(tmp_path), "--check", "--max-age", "120"]
    with hold_lock(paths, started=time.time() - 30):
        code, out, _ = run(capsys, argv)
        assert code == 0 and "no heartbeat yet" in out
    with hold_lock(paths, started=time.time() - 500):
        code, _, err = run(capsys, argv)
        assert code == 1 and "started 500 s ago and has written no heartbeat yet (limit 120 s)" in err
    beat(paths, time.time() - 7200)  # this pid, but from before the lock was taken: a reused pid
    with hold_lock(paths, started=time.time() - 500):
        assert "no heartbeat yet" in run(capsys, argv)[2]


@pytest.mark.parametrize("argv, words", [
    (["--check", "--max-age", "0"], ["--max-age", "> 0"]),
    (["--check", "--max-age", "nan"], ["--max-age", "> 0"]),
    (["--max-age", "60"], ["--max-age", "without --check"]),
    (["--check", "--config", "missing.toml"], ["missing.toml", "cannot be read"]),
])
def test_check_bad_input_is_exit_2(tmp_path, capsys, monkeypatch, argv, words):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, ["status", "--data-dir", str(tmp_path), *argv])
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and all(w in err for w in words), err


# --- disk use ------------------------------------------------------------------------------------

SIZES = {"store.sqlite": 4096, "store.sqlite-wal": 1000, "checkpoints/1/params.msgpack": 30000,
         "checkpoints/1/meta.json": 123, "champion/params.msgpack": 20000, "mlflow.db": 8192,
         "mlflow-artifacts/1/r/figure.png": 5555, "logs/daemon.log": 777, "drop/s1.csv": 300,
         "drop/processed/s0.csv": 301, "goals/g.json": 50, "quarantine/bad.csv": 12,
         "jax-cache/x": 2000, "daemon.lock": 5, "notes.txt": 1}


def make_tree(root: Path, outside: Path) -> None:
    for name, size in SIZES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"x" * size)
    outside.mkdir()
    (outside / "big").write_bytes(b"x" * 100_000)
    (root / "checkpoints/linked").symlink_to(outside)  # links are not followed: none of this counts
    (root / "logs/big.log").symlink_to(outside / "big")


def test_disk_use_per_part(tmp_path):
    make_tree(tmp_path / "d", tmp_path / "elsewhere")
    parts = {"store": ["store.sqlite", "store.sqlite-wal"],
             "checkpoints": ["checkpoints/1/params.msgpack", "checkpoints/1/meta.json", "champion/params.msgpack"],
             "mlflow": ["mlflow.db", "mlflow-artifacts/1/r/figure.png"], "logs": ["logs/daemon.log"],
             "drop": ["drop/s1.csv", "drop/processed/s0.csv", "goals/g.json"], "quarantine": ["quarantine/bad.csv"],
             "other": ["jax-cache/x", "daemon.lock", "notes.txt"]}
    expected = {part: sum(SIZES[n] for n in names) for part, names in parts.items()}
    expected["total"] = sum(SIZES.values())
    assert status_mod.disk(Paths(tmp_path / "d")) == expected
    du = subprocess.run(["du", "-s", "-b", str(tmp_path / "d")], capture_output=True, text=True)
    if du.returncode == 0:  # GNU du: apparent bytes, folders' own entries counted too
        dirs = sum(os.lstat(r).st_size for r, _, _ in os.walk(tmp_path / "d"))
        links = sum(os.lstat(p).st_size for p in (tmp_path / "d/checkpoints/linked", tmp_path / "d/logs/big.log"))
        assert int(du.stdout.split()[0]) == expected["total"] + dirs + links


def test_status_shows_disk_use(tmp_path, capsys):
    root = tmp_path / "d"
    make_tree(root, tmp_path / "elsewhere")
    (root / "store.sqlite").unlink()
    (root / "store.sqlite-wal").unlink()
    beat(Paths(root), time.time())  # a real store this time: its size is whatever SQLite made it
    code, out, _ = run(capsys, ["status", "--data-dir", str(root), "--json"])
    disk = json.loads(out)["disk"]
    assert code == 0 and disk["checkpoints"] == 50123 and disk["logs"] == 777 and disk["other"] == 2006
    assert disk["store"] >= 4096 and disk["total"] == sum(v for k, v in disk.items() if k != "total")
    code, out, _ = run(capsys, ["status", "--data-dir", str(root)])
    assert code == 0 and "disk checkpoints" in out and "50.1 kB" in out and "777 B" in out


@pytest.mark.parametrize("n, text", [(0, "0 B"), (999, "999 B"), (1000, "1.0 kB"), (50_123, "50.1 kB"),
                                     (999_960, "1.0 MB"), (312_400_000, "312.4 MB"), (1_270_000_000, "1.3 GB")])
def test_size_text(n, text):
    assert status_mod.size_text(n) == text


def test_disk_walk_is_fast_for_thousands_of_files(tmp_path):
    folder = tmp_path / "checkpoints"
    for i in range(40):
        (folder / str(i)).mkdir(parents=True)
        for j in range(100):
            (folder / str(i) / str(j)).write_bytes(b"x" * j)
    start = time.perf_counter()
    assert status_mod.disk(Paths(tmp_path))["checkpoints"] == 40 * sum(range(100))
    assert time.perf_counter() - start < 2.0


# --- a second daemon on the same data directory --------------------------------------------------

def test_second_run_is_refused_naming_the_running_pid(tmp_path, capsys):
    """The lock held by another process, taken as `specialist run` takes it (processes.lock)."""
    data = tmp_path / "d"
    data.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from specialist.app import processes; from specialist.paths "
         "import Paths; lock = processes.lock(Paths(sys.argv[1])); print('held', flush=True); time.sleep(120)",
         str(data)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        code, out, err = run(capsys, ["run", "--data-dir", str(data), "--seconds", "1"])
    finally:
        holder.kill()
        holder.wait()
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert f"is in use by a running daemon (pid {holder.pid})" in err and str(data) in err
