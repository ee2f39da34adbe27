"""The `specialist` command line.

Every command has --help; --json prints one JSON document on stdout. Bad input ends with one
sentence on stderr naming the file or option and what is allowed, and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Sequence

from specialist.errors import InputError


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


def wavelengths(spec: str, option: str = "--wavelengths"):
    """Evenly spaced wavelengths [nm] from 'start:stop:count' (or one number)."""
    import numpy as np

    try:
        parts = [float(p) for p in spec.split(":")]
    except ValueError:
        parts = []
    if len(parts) == 1 and parts[0] > 0:
        return np.array(parts)
    if len(parts) != 3 or not (0 < parts[0] <= parts[1]) or parts[2] != int(parts[2]) or not 1 <= parts[2] <= 100000:
        raise InputError(option, "", f"is '{spec}'; allowed: start:stop:count in nm with "
                         "0 < start <= stop and a whole count from 1 to 100000, e.g. 400:700:301")
    return np.linspace(parts[0], parts[1], int(parts[2]))


def emit(args: argparse.Namespace, doc: Any, render) -> None:
    """Print ``doc`` as JSON with --json, else as ``render(doc)`` for people."""
    if getattr(args, "json", False):
        json.dump(doc, sys.stdout)
        sys.stdout.write("\n")
    else:
        render(doc)


def build_parser() -> argparse.ArgumentParser:
    from specialist import commands

    parser = argparse.ArgumentParser(
        prog="specialist", description="A daemon that keeps a small model learning one verifiable "
        "scientific domain, and the tools around it (photonics: thin-film coatings).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (helptext, add_args, handler) in commands.COMMANDS.items():
        p = sub.add_parser(name, help=helptext, description=helptext)
        add_args(p)
        p.set_defaults(handler=handler)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into a reader that stopped (e.g. `| head`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
