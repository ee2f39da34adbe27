"""What every command shares: reading input files, the common options, printing results.

A command is a ``Command(help, add_args, run)``: ``add_args(parser)`` declares its options,
``run(args)`` returns the exit status. Generic commands are listed in
``specialist.cli.registry``; a domain package adds its own through the entry-point group
``specialist.commands``, naming a dict of such commands (see ``domains/photonics/commands.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable, NamedTuple

from specialist import config
from specialist.errors import InputError
from specialist.paths import DATA_DIR_ENV, Paths, default_data_dir


class Command(NamedTuple):
    help: str
    add_args: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def read_bytes(path: str) -> bytes:
    """A file's content; an unreadable file is an InputError naming it."""
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as err:
        raise InputError(path, "", f"cannot be read ({err.strerror})") from None


def read_json(path: str) -> Any:
    """A JSON file's content; unreadable or malformed files are InputErrors naming the file."""
    try:
        return json.loads(read_bytes(path).decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(path, "", f"is not valid JSON ({err})") from None


def emit(args: argparse.Namespace, doc: Any, render: Callable[[Any], None]) -> None:
    """Print ``doc`` as JSON with --json, else as ``render(doc)`` for people."""
    if getattr(args, "json", False):
        json.dump(doc, sys.stdout)
        sys.stdout.write("\n")
    else:
        render(doc)


def json_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def data_dir_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", default=default_data_dir(),
                   help=f"where the daemon keeps all its state (default ${DATA_DIR_ENV} or ./specialist-data)")


def config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", help="a TOML configuration (every field optional; "
                   "see `specialist run --print-config`)")


def load_config(args: argparse.Namespace) -> config.Config:
    """The configuration --config names (the defaults without it)."""
    return config.load(getattr(args, "config", None))


def paths(args: argparse.Namespace) -> Paths:
    return Paths(Path(args.data_dir))
