"""`specialist service`: a systemd user unit that keeps `specialist run` going on a lab server.

    specialist service --data-dir DIR [--config FILE]            # print the unit, then how to enable it
    specialist service --data-dir DIR --install [--force]         # write ~/.config/systemd/user/NAME.service

The unit runs this very `specialist` (absolute path) on the absolute data directory and
configuration, restarts it when it fails, sends its output to the journal and stops it with
SIGTERM, leaving time for the shutdown checkpoint. The command never runs systemctl: it prints
the commands that enable the unit, for the user to run. ``--json`` prints {"unit": the text,
"path": where it goes, "installed": whether that file holds this unit now, "written": whether this
call wrote it}.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from specialist.cli.configured import load_domain
from specialist.cli.io import config_arg, data_dir_arg, emit, json_flag, load_config, paths, write_text
from specialist.errors import InputError

STOP_TIMEOUT_S = 120  # the daemon finishes the rounds in flight and writes a checkpoint before it exits
RESTART_S = 10
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,199}$")


def add_args(p: argparse.ArgumentParser) -> None:
    data_dir_arg(p)
    config_arg(p)
    p.add_argument("--name", default="specialist", help="the unit's name, NAME.service (default specialist)")
    p.add_argument("--install", action="store_true", help="write the unit to $XDG_CONFIG_HOME/systemd/user/"
                   "NAME.service (default ~/.config/...); systemctl is left for you to run")
    p.add_argument("--force", action="store_true", help="with --install: replace a different unit of that name")
    json_flag(p)


def run(args: argparse.Namespace) -> int:
    name = _name(args.name)
    where = paths(args)  # a file named as the data directory is refused here
    config = None
    if args.config:
        load_domain(load_config(args), args)  # the checks `specialist run` makes, before the unit exists
        config = Path(args.config).absolute()
    text = unit(executable(), where.data_dir, config, name, Path.cwd())
    path = unit_path(name)
    written = install(path, text, args.force) if args.install else False
    doc = {"unit": text, "path": str(path), "installed": _holds(path, text), "written": written}
    emit(args, doc, _render_installed if args.install else _render_unit)
    return 0


def executable() -> list[str]:
    """The absolute command that starts this `specialist`: the script this process runs as, else the
    one installed beside this Python (a virtual environment's bin/), else ``python -m specialist.cli``.
    Links are kept as they are: a virtual environment's python is one, and resolving it would leave
    the environment."""
    candidates = [Path(sys.argv[0]), Path(sys.executable).parent / "specialist"] if sys.argv else []
    for script in candidates:
        if script.name == "specialist" and script.is_file() and os.access(script, os.X_OK):
            return [str(script.absolute())]
    return [str(Path(sys.executable).absolute()), "-m", "specialist.cli"]


def unit(command: list[str], data_dir: Path, config: Path | None, name: str, workdir: Path) -> str:
    """The unit file's text.

    Args:
        command: the absolute command that starts `specialist`.
        data_dir: the absolute data directory.
        config: the absolute configuration file, or None for the defaults.
        name: the unit's name (its journal identifier too).
        workdir: where the daemon runs: relative paths in the configuration mean what they meant there.
    """
    _printable(data_dir=data_dir, config=config, workdir=workdir)
    argv = [*command, "run", "--data-dir", str(data_dir)] + (["--config", str(config)] if config else [])
    return "\n".join([
        f"# The specialist daemon on {data_dir}, written by `specialist service`.",
        "[Unit]",
        f"Description=specialist daemon on {_spec(str(data_dir))}",
        "",
        "[Service]",
        "Type=simple",
        "ExecStart=" + " ".join(_exec_arg(a) for a in argv),
        f"WorkingDirectory={_spec(str(workdir))}",
        "Environment=" + _quoted(f"SPECIALIST_DATA_DIR={data_dir}"),
        "Environment=PYTHONUNBUFFERED=1",
        "Restart=on-failure",
        f"RestartSec={RESTART_S}",
        "# exit status 2 is bad input (the configuration, a data directory in use), which a restart does not mend",
        "RestartPreventExitStatus=2",
        "# SIGTERM to the daemon alone: it stops its own Ray processes after the shutdown checkpoint, which",
        "# needs them; whatever is left when it has exited, or after TimeoutStopSec, gets SIGKILL",
        "KillMode=mixed",
        "KillSignal=SIGTERM",
        f"TimeoutStopSec={STOP_TIMEOUT_S}",
        "StandardOutput=journal",
        "StandardError=journal",
        f"SyslogIdentifier={name}",
        "",
        "[Install]",
        "WantedBy=default.target",
        ""])


def _printable(**paths_: Path | None) -> None:
    """Refuse a path holding a control character: a unit file has no way to hold one."""
    options = {"data_dir": "--data-dir", "config": "--config", "workdir": "the current directory"}
    for key, value in paths_.items():
        if value is not None and any(ord(c) < 32 or ord(c) == 127 for c in str(value)):
            raise InputError(options[key], "", f"is '{value}', which holds a control character that a systemd "
                             "unit cannot hold; allowed: a path without line breaks or tabs")


def unit_path(name: str) -> Path:
    """Where systemd's user manager reads NAME.service: $XDG_CONFIG_HOME/systemd/user, where
    XDG_CONFIG_HOME is absolute (the XDG specification ignores a relative one), else ~/.config."""
    xdg = os.environ.get("XDG_CONFIG_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".config"
    return base / "systemd" / "user" / f"{name}.service"


def install(path: Path, text: str, force: bool) -> bool:
    """Write ``text`` to ``path`` whole (a temporary file and a rename); False when it is there already.

    Raises:
        InputError: a different unit is there and ``force`` is not given, or the folder cannot be made.
    """
    if path.is_dir():
        raise InputError("--name", "", f"names {path}, which is a directory; allowed: another --name")
    if path.exists():
        if _holds(path, text):
            return False
        if not force:
            raise InputError("--install", "", f"would replace {path}, which holds a different unit; allowed: "
                             "--force to replace it, or another --name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError("--install", "", f"cannot make the folder {path.parent} ({err.strerror}); allowed: a "
                         "writable XDG_CONFIG_HOME or home directory") from None
    write_text(str(path), text, "--install")
    return True


def _holds(path: Path, text: str) -> bool:
    """Whether ``path`` holds exactly ``text``."""
    try:
        return path.read_text() == text
    except (OSError, UnicodeDecodeError):  # absent, unreadable or binary: not this unit
        return False


def _name(name: str) -> str:
    name = name.removesuffix(".service")
    if not _NAME.match(name):
        raise InputError("--name", "", f"is '{name}'; allowed: letters, digits and _ . : - (up to 200, not "
                         "starting with . or -), as systemd unit names are")
    return name


def _spec(text: str) -> str:
    """``text`` with systemd's specifier sign doubled, so that '%' stays a '%'."""
    return text.replace("%", "%%")


def _quoted(text: str) -> str:
    """``text`` as one double-quoted word of a unit file."""
    return '"' + _spec(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _exec_arg(arg: str) -> str:
    """One word of ExecStart=: '$' doubled (systemd expands variables there), quoted when needed."""
    if re.fullmatch(r"[A-Za-z0-9_./:,+=@-]+", arg):
        return _spec(arg)
    return _quoted(arg).replace("$", "$$")


def _commands(name: str) -> list[str]:
    return ["systemctl --user daemon-reload",
            f"systemctl --user enable --now {name}",
            "loginctl enable-linger $USER    # keeps it running while you are logged out, and after a reboot"]


def _render_unit(doc: dict) -> None:
    """The unit, then how to install it, as comments: the whole output is a valid unit file."""
    name = Path(doc["path"]).stem
    print(doc["unit"], end="")
    print(f"\n# To install it: save the text above as {doc['path']} (or run this command again with --install),")
    print("# then:")
    for line in _commands(name):
        print(f"#   {line}")
    print(f"# Its log: journalctl --user -u {name} -f")


def _render_installed(doc: dict) -> None:
    name = Path(doc["path"]).stem
    print(f"wrote {doc['path']}" if doc["written"] else f"{doc['path']} already holds this unit; nothing changed")
    print("to start it now and whenever the machine starts:")
    for line in _commands(name):
        print(f"  {line}")
    print(f"its log:\n  journalctl --user -u {name} -f")
