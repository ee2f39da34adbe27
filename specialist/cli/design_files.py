"""The designs a bench found, written as files: `specialist bench --out DIR`.

Per goal and method, the best design over every budget and seed (the lowest merit; the first
found on a tie) is written as ``DIR/<goal>/<method>.json``: the design JSON alone, as
``evaluate`` and ``simulate`` read it. ``DIR/index.json`` lists them all, goal by goal:

    {"designs": [{"goal", "folder", "method", "budget", "seed", "merit", "solved", "evaluations",
                  "file"}, ...]}

``file`` is relative to DIR, and null (with ``merit`` null) where the method found no valid
design for the goal. A goal's folder is its name with every run of characters other than
letters, digits, '.', '_' and '-' replaced by '_' (a goal file's name without its folder and
.json), made unique with '-2', '-3', ...; the index keeps the mapping from goal to folder.

    best = Best()
    best.keep(row, design)                     # every result row, with its design or None
    summary = write(prepare(args.out), best)   # after the bench
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from specialist.cli.io import write_text
from specialist.errors import InputError

INDEX = "index.json"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class Best:
    """The best (result row, design) per (goal, method) seen so far."""

    def __init__(self) -> None:
        self.found: dict[tuple[str, str], tuple[dict, dict | None]] = {}

    def keep(self, row: dict, design: dict | None) -> None:
        """Take a result row ({"goal", "method", "merit", ...}) and its design (None if nothing
        valid was found); a design always beats none, a lower merit a higher one."""
        key = (row["goal"], row["method"])
        old = self.found.get(key)
        if old is None or (design is not None and (old[1] is None or row["merit"] < old[0]["merit"])):
            self.found[key] = (row, design)


def prepare(path: str) -> Path:
    """The folder --out names, made now so that a bad one is refused before the bench runs.

    Raises:
        InputError: a path that is a file or cannot be made.
    """
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise InputError("--out", "", f"is '{path}', which is a file; allowed: a folder, existing or to be created")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError("--out", "", f"is '{path}', which cannot be made ({err.strerror}); allowed: a folder in a "
                         "writable place") from None
    return folder


def safe_name(text: str, fallback: str = "goal") -> str:
    """``text`` as a file name: unsafe characters replaced by '_', at most 80 characters."""
    if text.lower().endswith(".json"):  # a goal file: its own name, without the folder it sits in
        text = Path(text).stem
    return _UNSAFE.sub("_", text).strip("._-")[:80] or fallback


def write(folder: Path, best: Best) -> dict:
    """Write every best design and the index under ``folder``.

    Returns:
        {"dir", "index", "designs" (files written), "without_design" (goal and method pairs
        that found nothing valid)}.
    """
    folders: dict[str, str] = {}
    entries = []
    goals = list(dict.fromkeys(g for g, _ in best.found))
    methods = list(dict.fromkeys(m for _, m in best.found))
    for goal, method in sorted(best.found, key=lambda k: (goals.index(k[0]), methods.index(k[1]))):
        row, design = best.found[goal, method]
        if goal not in folders:
            folders[goal] = _unique(safe_name(goal), {f.lower() for f in folders.values()})
        file = f"{folders[goal]}/{safe_name(method, 'method')}.json" if design is not None else None
        if file is not None:
            (folder / folders[goal]).mkdir(exist_ok=True)
            write_text(str(folder / file), json.dumps(design, indent=2) + "\n", "--out")
        merit = row["merit"] if design is not None and math.isfinite(row["merit"]) else None
        entries.append({"goal": goal, "folder": folders[goal], "method": method, "budget": row["budget"],
                        "seed": row.get("seed", 0), "merit": merit, "solved": bool(row["solved"]),
                        "evaluations": row["evaluations"], "file": file})
    write_text(str(folder / INDEX), json.dumps({"designs": entries}, indent=2, allow_nan=False) + "\n", "--out")
    written = sum(e["file"] is not None for e in entries)
    return {"dir": str(folder), "index": str(folder / INDEX), "designs": written,
            "without_design": len(entries) - written}


def _unique(name: str, taken: set[str]) -> str:
    """``name``, or ``name-2``, ``name-3``, ... when taken (compared without case, as some file
    systems do)."""
    candidate, k = name, 1
    while candidate.lower() in taken:
        k += 1
        candidate = f"{name}-{k}"
    return candidate
