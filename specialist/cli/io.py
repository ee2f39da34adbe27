"""What every command shares: reading input files, the common options, printing results.

A command is a ``Command(help, add_args, run)``: ``add_args(parser)`` declares its options,
``run(args)`` returns the exit status. Generic commands are listed in
``specialist.cli.registry``; a domain package adds its own through the entry-point group
``specialist.commands``, naming a dict of such commands (see ``domains/photonics/commands.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable, Iterable, NamedTuple, Sequence

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
    except RecursionError:
        raise InputError(path, "", "nests arrays or objects too deeply; allowed: JSON nested at most a few "
                         "hundred levels") from None


def emit(args: argparse.Namespace, doc: Any, render: Callable[[Any], None]) -> None:
    """Print ``doc`` as JSON with --json, else as ``render(doc)`` for people."""
    if getattr(args, "json", False):
        # NaN and Infinity are not JSON: never print them. Every input that could lead there is
        # refused with an InputError while it is parsed, so a non-finite number reaching this
        # point is a bug of ours, not the user's: a RuntimeError (a report with the traceback, exit
        # status 1) rather than an exit-2 sentence that would blame the input. The document is
        # serialized before anything is written, so stdout never holds a partial document.
        try:
            text = json.dumps(doc, allow_nan=False)
        except ValueError as err:
            raise RuntimeError(f"the result holds a number that is not finite (NaN or infinity), which JSON "
                               f"cannot express; nothing was printed ({err})") from None
        sys.stdout.write(text + "\n")
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
    """The data directory --data-dir names; an existing file there, a name the file system refuses
    (too long, not searchable) or a store that is no SQLite database is an InputError."""
    folder = Path(args.data_dir)
    try:
        is_file = folder.exists() and not folder.is_dir()
        store_exists = Paths(folder).store.exists()
    except OSError as err:
        raise InputError("--data-dir", "", f"is '{args.data_dir}', which cannot be used ({err.strerror}); allowed: "
                         "a directory, existing or to be created") from None
    if is_file:
        raise InputError("--data-dir", "", f"is '{args.data_dir}', which is a file; allowed: a directory, "
                         "existing or to be created")
    where = Paths(folder)
    if store_exists and not _sqlite(where.store):
        raise InputError("--data-dir", "", f"is '{args.data_dir}', whose {where.store.name} is not a SQLite "
                         "database (another program's file, or damaged); allowed: the data directory of a "
                         "`specialist run` or `specialist submit`, or a new one")
    return where


def _sqlite(path: Path) -> bool:
    """Whether ``path`` is a file SQLite opens: empty (a new database) or with SQLite's header."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError:  # a folder of that name, or a file this user may not read
        return False
    return head in (b"", b"SQLite format 3\x00")


def csv_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--csv", metavar="FILE.csv", help="also write the table as CSV (one header row, then numbers)")


def plot_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--plot", metavar="FILE.png", help="also draw the result into this PNG file")


def write_csv(path: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Write a CSV table (numbers with repr precision), whole or not at all."""
    lines = [",".join(header)] + [",".join(_cell(v) for v in row) for row in rows]
    write_text(path, "\n".join(lines) + "\n", "--csv")


def write_text(path: str, text: str, option: str) -> None:
    """Write a file named on the command line through a temporary file and a rename, so a reader
    never sees half of it; a folder that does not exist or cannot be written is an InputError."""
    target = Path(path)
    if target.is_dir():
        raise InputError(option, "", f"is '{path}', which is a directory; allowed: a file name")
    tmp = target.with_name(target.name + ".tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, target)
    except OSError as err:
        if tmp.parent.is_dir():
            tmp.unlink(missing_ok=True)
        raise InputError(option, "", f"is '{path}', which cannot be written ({err.strerror}); allowed: a file in "
                         "an existing, writable folder") from None


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return repr(v + 0.0)  # + 0.0 turns -0.0 into 0.0
    return str(v)


def fmt(x: float, digits: int = 6) -> str:
    """A number for people: fixed digits, never '-0.000000' (a negative that rounds to zero)."""
    text = f"{x:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def count_note(shown: int, total: int, noun: str) -> str:
    """'15 of 301 wavelengths shown' (or 'all 31 wavelengths'), for tables that sample rows."""
    return f"all {total} {noun}" if shown >= total else f"{shown} of {total} {noun} shown"
