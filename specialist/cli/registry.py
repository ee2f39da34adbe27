"""The `specialist` command line: the parser and the registry of commands.

Every command has --help; --json prints one JSON document on stdout. Bad input ends with one
sentence on stderr naming the file or option and what is allowed, and exit status 2.

The generic commands are below; each installed domain package adds its own through the
entry-point group ``specialist.commands`` (photonics: simulate, evaluate, materials, extract),
so this package never imports a domain. A plugin that fails to load warns and is skipped.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import warnings
from importlib.metadata import entry_points
from typing import NoReturn, Sequence

from specialist.cli import bench, daemon, dashboard, lab, scaffold, service
from specialist.cli.io import Command
from specialist.errors import InputError

GROUP = "specialist.commands"

COMMANDS = {
    "bench": Command("per-goal optimizers on goals at several evaluation budgets: solve rate, median merit",
                     bench.add_args, bench.run),
    "run": Command("the daemon: propose, verify, learn until SIGINT/SIGTERM (checkpoint on the way out)",
                   daemon.run_args, daemon.run),
    "pretrain": Command("the spectrum phase alone: train on simulator-made pairs, resumable, with a progress bar",
                        daemon.pretrain_args, daemon.pretrain),
    "status": Command("what the daemon of a data directory is doing, from its store",
                      daemon.status_args, daemon.status),
    "propose": Command("the best design for a goal within a budget: the specialist (the champion, else the newest "
                       "checkpoint, else the shipped weights), or one of the domain's optimizers (--method)",
                       daemon.propose_args, daemon.propose),
    "ingest": Command("hand measured result files in: check, store with a verdict, copy to the drop folder's "
                      "processed/", daemon.ingest_args, daemon.ingest),
    "submit": Command("hand the lab's own goals to the daemon: worked on in every round until withdrawn",
                      lab.submit_args, lab.submit),
    "withdraw": Command("stop working on a lab goal (its designs and history are kept)", lab.withdraw_args,
                        lab.withdraw),
    "designs": Command("the lab goals' best designs so far with their history; --export writes them in the "
                       "forms coating engineers use, --tolerance adds a Monte Carlo tolerance analysis",
                       lab.designs_args, lab.designs),
    "tolerance": Command("how a design holds up when made with thickness and index errors (Monte Carlo)",
                         lab.tolerance_args, lab.tolerance),
    "dashboard": Command("the MLflow UI on the daemon's tracking store, on 127.0.0.1 (an SSH tunnel reaches it)",
                         dashboard.add_args, dashboard.run),
    "service": Command("a systemd user unit that keeps the daemon running: printed, or written with --install",
                       service.add_args, service.run),
    "new-domain": Command("create a new domain package to start from (passes the conformance test)",
                          scaffold.add_args, scaffold.run),
}


def plugin_commands() -> dict[str, Command]:
    """Commands the installed domain packages register; a broken plugin or a clashing name warns."""
    found: dict[str, Command] = {}
    for ep in entry_points(group=GROUP):
        try:
            commands = dict(ep.load())
        except Exception as err:  # a broken third-party plugin must not take the command line down
            warnings.warn(f"commands of plugin '{ep.name}' ({ep.value}) failed to load and are skipped: {err}")
            continue
        for name, command in commands.items():
            if name in COMMANDS or name in found:
                warnings.warn(f"command '{name}' of plugin '{ep.name}' is skipped: the name is taken")
            else:
                found[name] = Command(*command)
    return found


class _Parser(argparse.ArgumentParser):
    """argparse ending a usage error as every other error of the command line ends: one line on
    stderr, "error: ..." naming the option, and exit status 2 (argparse's own ending is a usage
    block and a line that starts with the program's name). Sub-commands' parsers are of this class
    too: ``add_subparsers`` makes its parsers of the parent's class."""

    def error(self, message: str) -> NoReturn:
        text = message.replace("\r", "\\r").replace("\n", "\\n")  # values as given may hold line breaks
        self.exit(2, f"error: {text} (see `{self.prog} --help`).\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="specialist", description="A daemon that keeps a small model learning one verifiable "
        "scientific domain, and the tools around it (photonics: thin-film coatings).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in {**plugin_commands(), **COMMANDS}.items():
        p = sub.add_parser(name, help=command.help, description=command.help)
        command.add_args(p)
        p.set_defaults(handler=command.run)
    return parser


_NEGATIVE_VALUE = re.compile(r"^-\.?\d")  # '-400:700:3', '-1e3', '-.5': a value, never an option here
_PLAIN_NEGATIVE = re.compile(r"^-\d+$|^-\d*\.\d+$")  # what argparse itself already takes for a value


def _negative_values(argv: list[str]) -> list[str]:
    """``--opt -400:700:3`` as ``--opt=-400:700:3``: argparse takes only plain negative numbers
    ('-400') for values and reads '-400:700:3' as an unknown option, ending in "expected one
    argument" instead of the option's own sentence on what is allowed. No option of the command
    line starts with '-' and a digit, so the join changes no command line that worked."""
    out: list[str] = []
    for i, token in enumerate(argv):
        if token == "--":  # the rest are positional values, as given
            return out + argv[i:]
        prev = out[-1] if out else ""
        if (prev.startswith("--") and len(prev) > 2 and "=" not in prev
                and _NEGATIVE_VALUE.match(token) and not _PLAIN_NEGATIVE.match(token)):
            out[-1] = f"{prev}={token}"
        else:
            out.append(token)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(_negative_values(argv))
    args.argv = argv  # the command line as given, for records such as shipped weights' provenance
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
