"""``specialist new-domain NAME``: write a small, working domain package to start a new field from.

``create(name, parent)`` writes ``parent/specialist-NAME/``, a pip-installable package::

    specialist-NAME/
        pyproject.toml          # registers NAME in the entry-point groups specialist.domains and
                                # specialist.commands
        README.md
        NAME_domain/__init__.py
        NAME_domain/plugin.py   # NameDomain: an example domain that passes the conformance tests
        NAME_domain/commands.py # `specialist NAME-verify GOAL.json DESIGN.json`: a command of its own

The example in ``plugin.py`` (match a short target vector) uses only the public names of
``specialist.domain`` and is commented where the author replaces it with their own field; the
example command uses ``specialist.cli.io``, as the photonics commands do.
"""

from __future__ import annotations

import argparse
import re
from importlib.metadata import entry_points
from pathlib import Path
from string import Template

from specialist.domain import GROUP
from specialist.errors import InputError

NAME_RULE = re.compile(r"[a-z][a-z0-9_]*")

PYPROJECT = Template('''\
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "specialist-$name"
version = "0.1.0"
description = "The $name domain for specialist."
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["specialist", "numpy>=2.0"]

[project.entry-points."specialist.domains"]
$name = "$package.plugin:$cls"

[project.entry-points."specialist.commands"]
$name = "$package.commands:COMMANDS"

[tool.setuptools]
packages = ["$package"]
''')

INIT = Template('''\
"""The $name domain for specialist; the loop finds it through the entry point in pyproject.toml."""

from $package.plugin import $cls

__all__ = ["$cls"]
''')

PLUGIN = Template('''\
"""The $name domain.

EXAMPLE, to replace with your field: match a short target vector.
Goal: {"name", "domain": "$name", "target": [v0, ...]}, 1 to LENGTH values in [0, 1].
Design: {"values": [...]}, one per target value; merit = RMS error / TOLERANCE (lower is
better), solved when merit <= 1.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from specialist.domain import BOS, END, PAD, Spec

FIRST = max(PAD, BOS, END) + 1  # ids below FIRST are reserved; yours start here
BINS, LENGTH, TOLERANCE = 20, 4, 0.05  # REPLACE: your vocabulary, longest design, solve threshold


class $cls:
    """The $name domain (see the module docstring for goals and designs)."""

    # REPLACE: vocab_size counts the reserved ids; max_tokens counts END.
    spec = Spec("$name", vocab_size=FIRST + BINS, max_tokens=LENGTH + 1, cond_dim=LENGTH + 1)

    def curriculum(self, seed: int) -> tuple[list[dict], list[dict]]:
        """(training goals, held-out goals): fixed for a ``seed``, never overlapping."""
        # REPLACE: draw goals from your field (a seeded generator, or a fixed list you load).
        rng = np.random.default_rng(seed)
        goals = [{"name": f"$name-{i}", "domain": "$name",
                  "target": rng.uniform(0, 1, int(rng.integers(1, LENGTH + 1))).round(3).tolist()}
                 for i in range(40)]
        unique = list({json.dumps(g["target"]): g for g in goals}.values())  # no goal in both
        return unique[:30], unique[30:]

    def encode(self, goal: dict, design: dict | None = None) -> tuple[np.ndarray, list[int] | None]:
        """The goal as a conditioning vector and, if given, the design as tokens.

        Args:
            goal: a goal from curriculum or from_record.
            design: a design to write as tokens, or None.

        Returns:
            (float32 vector of spec.cond_dim, tokens ending in END, or None without a design).
        """
        target = goal["target"]  # REPLACE: the numbers that describe your goal
        cond = np.zeros(self.spec.cond_dim, np.float32)
        cond[:len(target)], cond[-1] = target, len(target) / LENGTH
        if design is None:
            return cond, None
        bins = np.clip((np.asarray(design["values"], float) * BINS).astype(int), 0, BINS - 1)
        return cond, [FIRST + int(b) for b in bins] + [END]

    def decode(self, goal: dict, tokens: Sequence[int]) -> dict:
        """The design a token sequence describes; encode(decode(t)) decodes to the same design.

        Args:
            goal: the goal the tokens were written for.
            tokens: model output; reading stops at END, stray tokens are skipped.

        Returns:
            The design.
        """
        values: list[float] = []
        for tok in tokens:
            if tok == END or len(values) == len(goal["target"]):
                break
            if FIRST <= tok < self.spec.vocab_size:
                values.append((tok - FIRST + 0.5) / BINS)  # the bin's centre: a fixed point
        return {"values": values}

    def verify(self, goal: dict, designs: Sequence[dict]) -> list[dict]:
        """Exact verdicts for a batch of designs.

        Args:
            goal: the goal the designs answer.
            designs: the designs to check.

        Returns:
            Per design {"merit": float, "solved": bool}, or {"rejected": reason}.
        """
        target = np.asarray(goal["target"], float)
        out: list[dict] = []
        for design in designs:  # REPLACE: your exact, batched checker or simulator
            v = np.asarray(design.get("values", []), float)
            if v.shape != target.shape:
                out.append({"rejected": f"needs {len(target)} values, got {v.size}"})
                continue
            merit = float(np.sqrt(np.mean((v - target) ** 2)) / TOLERANCE)
            out.append({"merit": merit, "solved": merit <= 1.0})
        return out

    def refine(self, goal: dict, designs: Sequence[dict], budget: int) -> tuple[list[dict], list[dict], int]:
        """Improve designs with at most ``budget`` evaluations, never making one worse.

        Args:
            goal: the goal the designs answer.
            designs: starting designs.
            budget: most evaluations to spend.

        Returns:
            (refined designs, their verdicts, evaluations spent).
        """
        # REPLACE: a local optimizer; keep a step only where it does not raise the merit.
        spent, out = 0, []
        target = np.asarray(goal["target"], float)
        for design in designs:
            v = np.asarray(design.get("values", []), float)
            if v.shape == target.shape and spent < budget:
                v, spent = v + 0.5 * (target - v), spent + 1  # halves the error: never worse
            out.append({"values": v.tolist()})
        return out, self.verify(goal, out), spent

    def from_record(self, record: dict) -> dict[str, list[Any]]:
        """{"goals", "claims", "measurements"} found in a feed ``record`` (lists, possibly empty)."""
        # REPLACE: pull goals and measured values out of papers and datasets of your field.
        return {"goals": [], "claims": [], "measurements": []}
''')

COMMANDS = Template('''\
"""Commands the $name domain adds to `specialist` (entry-point group specialist.commands).

EXAMPLE, to replace or extend: `specialist $name-verify GOAL.json DESIGN.json [--json]` prints the
domain's verdict on a design. Each command is a Command(help, add_args, run); run returns the
exit status, and an InputError becomes one sentence on stderr with status 2.
"""

from __future__ import annotations

import argparse

from specialist.cli.io import Command, emit, json_flag, read_json
from specialist.errors import InputError

from $package.plugin import $cls


def _verify_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("goal", metavar="GOAL.json")
    p.add_argument("design", metavar="DESIGN.json")
    json_flag(p)


def verify(args: argparse.Namespace) -> int:
    goal, design = read_json(args.goal), read_json(args.design)
    if not isinstance(goal, dict) or not isinstance(goal.get("target"), list):
        raise InputError(args.goal, "target", "is missing; allowed: a list of numbers in [0, 1]")
    verdict = $cls().verify(goal, [design])[0]
    emit(args, verdict, print)
    return 0 if "merit" in verdict else 1


COMMANDS = {"$name-verify": Command("the $name domain's verdict on a design for a goal", _verify_args, verify)}
''')

README = Template('''\
# specialist-$name

A domain plugin for `specialist`, the daemon that keeps a small model learning a field. The
daemon finds it through the entry-point group `specialist.domains` (see `pyproject.toml`).

## Install and check

From the folder holding this one, in the environment where `specialist` is installed:

    pip install -e specialist-$name
    python -c "from specialist.domain import available; print(sorted(available()))"

The list now includes `$name`, and `specialist $name-verify --help` shows the example command
(`$package/commands.py`, registered in the group `specialist.commands`). In the specialist
checkout, run the conformance tests on it:

    pytest tests/test_domain_conformance.py -k $name

## Make it yours

The class is in `$package/plugin.py`. It is an example (match a short target vector)
that already passes the conformance tests. Replace each part marked `REPLACE`: the goals of
your field (`curriculum`, `from_record`), how goals and designs become numbers and tokens
(`spec`, `encode`, `decode`), your exact checker (`verify`) and a local optimizer (`refine`).
Keep the contract in each docstring, and re-run the conformance tests after each change. The
optional capabilities of `specialist.domain` (Synthetic, Generator, Optimizer, LabData, Curves,
ClaimCheck, Benchmarks, Hindsight, Pretrained, Exports, Tolerance, Process, Families) are methods or
attributes you may add later; the loop uses each one a domain offers.
''')


def class_name(name: str) -> str:
    """The domain class for ``name``: ``chem_kinetics`` -> ``ChemKineticsDomain``."""
    return "".join(part.capitalize() for part in name.split("_")) + "Domain"


def create(name: str, parent: Path) -> Path:
    """Write the package ``parent/specialist-<name>/`` and return its folder.

    Raises:
        InputError: ``name`` is not allowed, already an installed domain, or the folder exists.
    """
    if not NAME_RULE.fullmatch(name):
        raise InputError("NAME", "", f"is '{name}'; allowed: lower-case letters, digits and underscores, "
                         "starting with a letter, e.g. chem_kinetics")
    if name in entry_points(group=GROUP).names:
        raise InputError("NAME", "", f"is '{name}', already an installed domain; choose another name")
    root = Path(parent) / f"specialist-{name}"
    if root.exists():
        raise InputError(str(root), "", "already exists; choose another NAME or --dir, or remove the folder")
    fields = {"name": name, "package": f"{name}_domain", "cls": class_name(name)}
    files = {"pyproject.toml": PYPROJECT, "README.md": README, f"{name}_domain/__init__.py": INIT,
             f"{name}_domain/plugin.py": PLUGIN, f"{name}_domain/commands.py": COMMANDS}
    try:
        (root / fields["package"]).mkdir(parents=True)
        for rel, template in files.items():
            (root / rel).write_text(template.substitute(fields), encoding="utf-8")
    except OSError as err:
        raise InputError("--dir", "", f"is '{parent}', where {root} cannot be written ({err.strerror})") from None
    return root


def add_args(p: argparse.ArgumentParser) -> None:
    """The options of ``specialist new-domain``."""
    p.add_argument("name", metavar="NAME",
                   help="the domain's name: lower-case letters, digits and underscores, starting with a letter")
    p.add_argument("--dir", default=".", help="folder to create specialist-NAME in (default: the current one)")


def run(args: argparse.Namespace) -> int:
    """Create the package and print what was made and what to do next."""
    root = create(args.name, Path(args.dir))
    print(f"created {root}/")
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        print(f"  {path.relative_to(root)}")
    print("next steps:")
    print(f"  1. pip install -e {root}")
    print(f"  2. '{args.name}' is then listed by specialist.domain.available() (and specialist.domain.load)")
    print(f"  3. pytest tests/test_domain_conformance.py -k {args.name}   # in the specialist checkout")
    print(f"  4. replace the parts marked REPLACE in {root / (args.name + '_domain') / 'plugin.py'}")
    print(f"  5. add commands of your own in {root / (args.name + '_domain') / 'commands.py'} "
          f"(`specialist {args.name}-verify` is the example)")
    return 0
