"""The lab results feed: measured results dropped into a folder, checked, stored and filed away.

    feed = LabFeed(data_dir / "drop", domain.read_result, measurements.Judge(store, domain))
    FeedWorker(store, [feed]).poll()     # stores new results; their files move at the next poll
    report = feed.ingest_files(["a.csv"], store)      # `specialist ingest`: store, copy to processed/

``DropFolder`` holds the folder's rules below; the lab goals' folder (``feeds.labgoals``) keeps
them too. A result is two files with one stem, ``NAME.csv`` and its sidecar ``NAME.json``; what they hold
is the domain's to say and check (for coatings: ``domains.photonics.results``). This module
keeps the folder and gets the rest from the domain: ``read`` turns a pair into a ``results`` row
(or raises InputError), ``judge`` gives the row its verdict.

The folder's rules:
- names starting with ``.`` or ending in ``.part``, ``.tmp`` or ``~`` are still being written and
  are left alone: write under such a name, then rename;
- a file is taken once unchanged for ``settle_s`` (2 s); a CSV or sidecar waits for its partner
  until ``partner_wait_s`` (10 s) old, and is then quarantined, as is any other file by then;
  subfolders are left alone;
- a good result is stored under the SHA-256 of its content and moved to ``processed/``; a bad
  file moves to ``quarantine/`` beside ``NAME.reason.txt``; a name taken there gets ``-1``, ``-2``...
- files move only once their rows are committed: the position committed with the rows lists
  them with their hashes, and the next poll (or ``settle``) moves those still holding that
  content. A crash before the commit leaves them to be read again; stored content read again
  writes nothing new, as its key is its hash.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable

from specialist.errors import InputError
from specialist.store import Store

SETTLE_S, PARTNER_WAIT_S = 2.0, 10.0
_BEING_WRITTEN = (".part", ".tmp", "~")
_PAIR = (".csv", ".json")

# read(csv_path, sidecar_path, csv_label, sidecar_label) -> results row {"sha256", "name",
# "sample_id", "design", "measurement"}; raises InputError naming the file at fault.
Reader = Callable[[Path, Path, str, str], dict]
Verdict = Callable[[dict, dict], dict]  # (design JSON, measurement) -> verdict


class DropFolder:
    """A watched folder under the rules above: ``poll`` and ``settle`` as a feed; what a group of
    files becomes is the subclass's ``_take`` (rows for the store, or None once quarantined),
    which files belong together its ``_group`` and when a group is whole its ``_whole``.

    Args:
        drop_dir: the folder watched; ``processed/`` and ``quarantine/`` are made inside it.
        settle_s, partner_wait_s: see the module docstring.
        batch: most groups taken per poll (one store transaction).
    """

    def __init__(self, drop_dir: str | Path, settle_s: float = SETTLE_S, partner_wait_s: float = PARTNER_WAIT_S,
                 batch: int = 64):
        self.drop = Path(drop_dir)
        self.processed, self.quarantine = self.drop / "processed", self.drop / "quarantine"
        self.settle_s, self.partner_wait_s, self.batch = settle_s, partner_wait_s, batch

    def poll(self, position: Any) -> tuple[list[tuple[str, dict]], dict]:
        """Rows of the groups found since ``position``; the new position lists files to move once
        the rows are committed (``settle``). Bad files are quarantined at once."""
        for folder in (self.processed, self.quarantine):  # (again) if someone removed them
            folder.mkdir(parents=True, exist_ok=True)
        position = self.settle(position)
        rows, pending, reserved = [], [], set()
        for files in self._ready()[: self.batch]:
            taken = self._take(files)
            if taken is not None:
                rows += taken
                pending.append(self._reserve(files, reserved))
        return rows, {**position, "pending": pending}

    def settle(self, position: Any) -> dict:
        """Move the files a committed position lists to ``processed/``, those that still hold
        the content that was stored; returns the position with nothing pending."""
        position = dict(position or {})
        for item in position.get("pending", []):
            try:
                state = [(self.drop / s, self.drop / d, _holds(self.drop / s, sha)) for s, d, sha in item]
                if all(held is not False for _, _, held in state):  # a pair rewritten since is read anew
                    for src, dest, held in state:
                        if held:
                            os.replace(src, _free_path(dest))
            except OSError:
                pass  # left in place: read again, stored again as a no-op, moved next time
        return {**position, "pending": []}

    def _take(self, files: list[Path]) -> list[tuple[str, dict]] | None:
        raise NotImplementedError

    def _group(self, path: Path) -> tuple[str, str]:
        return ("", path.name)

    def _whole(self, files: list[Path]) -> bool:
        return True

    def _ready(self) -> list[list[Path]]:
        """Groups of files to act on now: whole groups settled, and any group waited on too long."""
        groups: dict[tuple[str, str], list[Path]] = {}
        for path in sorted(self.drop.iterdir()):
            if not (path.name.startswith(".") or path.name.endswith(_BEING_WRITTEN)) and path.is_file():
                groups.setdefault(self._group(path), []).append(path)
        now, ready = time.time(), []
        for files in groups.values():
            try:
                age = min(now - p.stat().st_mtime for p in files)
            except FileNotFoundError:
                continue  # taken away meanwhile
            if age >= self.settle_s and (self._whole(files) or age >= self.partner_wait_s):
                ready.append(files)
        return ready

    def _reserve(self, files: list[Path], reserved: set[str]) -> list[list[str]]:
        """[[source, destination, sha256], ...] for a group, under a stem free in processed/."""
        free = _free_stem(self.processed, files[0].stem, [p.suffix for p in files], reserved)
        reserved.update(free + p.suffix for p in files)
        return [[p.name, f"processed/{free}{p.suffix}", _sha(p.read_bytes())] for p in files]

    def _quarantine(self, files: list[Path], reason: str) -> None:
        free = _free_stem(self.quarantine, files[0].stem, [p.suffix for p in files] + [".reason.txt"])
        note = f"{reason}\nfiles: {', '.join(p.name for p in files)}\n"
        write_atomic(self.quarantine / f"{free}.reason.txt", note)  # the reason first: never unexplained
        for p in files:
            try:
                os.replace(p, self.quarantine / f"{free}{p.suffix}")
            except FileNotFoundError:
                pass  # taken away meanwhile by whoever dropped it

    def _copy(self, src: Path) -> Path:
        tmp = self.processed / f".{uuid.uuid4().hex}.part"
        shutil.copyfile(src, tmp)
        dest = _free_path(self.processed / src.name)
        os.replace(tmp, dest)
        return dest


class LabFeed(DropFolder):
    """The results drop folder as a feed (``name``, ``poll``), and the one-shot ``ingest_files``.

    Args:
        drop_dir: the folder watched (see ``DropFolder``).
        read: the domain's reader of a result pair (its ``read_result``), see ``Reader``.
        judge: the verdict of a measurement, ``judge(design_json, measurement) -> dict``.
        name: the stream name its position is stored under.
        settle_s, partner_wait_s, batch: see ``DropFolder``.
    """

    def __init__(self, drop_dir: str | Path, read: Reader, judge: Verdict, name: str = "lab",
                 settle_s: float = SETTLE_S, partner_wait_s: float = PARTNER_WAIT_S, batch: int = 64):
        super().__init__(drop_dir, settle_s, partner_wait_s, batch)
        self.read, self.judge, self.name = read, judge, name

    def ingest_files(self, paths: Iterable[str | Path], store: Store) -> dict:
        """Check result files, store the good ones and copy them to ``processed/``.

        Args:
            paths: each a result's CSV or its JSON sidecar (the partner is found by stem).
            store: receives the results.

        Returns:
            {"files": [{"file", "status": "stored" | "duplicate" | "rejected", "sha256",
            "sample_id", "verdict", "copied_to" (empty for a duplicate) | "error"}], "stored", "duplicates",
            "rejected"}.
        """
        self.processed.mkdir(parents=True, exist_ok=True)
        entries, rows, seen, named = [], [], set(), set()
        for path in map(Path, paths):
            try:
                csv_path, sidecar = _partners(path)
                if csv_path in named:
                    continue  # the CSV and its sidecar both named: one result
                named.add(csv_path)
                row = self._judged(self.read(csv_path, sidecar, str(csv_path), str(sidecar)), sidecar.name)
            except InputError as err:
                entries.append({"file": str(path), "status": "rejected", "error": str(err)})
                continue
            duplicate = row["sha256"] in seen or store.get("results", row["sha256"]) is not None
            seen.add(row["sha256"])
            rows.append(("results", row))
            entries.append({"file": str(path), "status": "duplicate" if duplicate else "stored",
                            "sha256": row["sha256"], "sample_id": row["sample_id"],
                            "verdict": row["verdict"], "sources": (csv_path, sidecar)})
        store.put_many(rows)
        for entry in entries:  # copies follow the commit, as moves do; a duplicate is there already
            if "sources" in entry:
                sources = entry.pop("sources")
                entry["copied_to"] = [str(self._copy(p)) for p in sources] if entry["status"] == "stored" else []
        count = lambda status: sum(e["status"] == status for e in entries)
        return {"files": entries, "stored": count("stored"), "duplicates": count("duplicate"),
                "rejected": count("rejected")}

    def _group(self, path: Path) -> tuple[str, str]:
        return ("pair", path.stem) if path.suffix in _PAIR else ("", path.name)

    def _whole(self, files: list[Path]) -> bool:
        return sorted(p.suffix for p in files) == sorted(_PAIR)

    def _take(self, files: list[Path]) -> list[tuple[str, dict]] | None:
        """The row of a good result; a bad group is quarantined and yields None."""
        by_suffix = {p.suffix: p for p in files}
        try:
            if len(files) != 2:
                why = _UNPAIRED.get(files[0].suffix, _NOT_RESULT)
                raise InputError(files[0].name, "", why.format(files[0].stem))
            csv_path, sidecar = by_suffix[".csv"], by_suffix[".json"]
            return [("results", self._judged(self.read(csv_path, sidecar, csv_path.name, sidecar.name), sidecar.name))]
        except InputError as err:
            self._quarantine(files, str(err))
            return None

    def _judged(self, row: dict, sidecar: str) -> dict:
        try:
            verdict = self.judge(row["design"], row["measurement"])
        except InputError as err:  # the design is the sidecar's
            raise err.within(sidecar) from None
        return {**row, "verdict": verdict}


_UNPAIRED = {".csv": "has no sidecar {}.json; a result is NAME.csv with its sidecar NAME.json",
             ".json": "has no spectrum {}.csv; a result is NAME.csv with its sidecar NAME.json"}
_NOT_RESULT = "is not a result file; allowed: NAME.csv (lower case) with its sidecar NAME.json"


def _partners(path: Path) -> tuple[Path, Path]:
    if path.suffix not in _PAIR:
        raise InputError(str(path), "", _NOT_RESULT)
    return path.with_suffix(".csv"), path.with_suffix(".json")


def _free_stem(folder: Path, stem: str, suffixes: list[str], reserved: Iterable[str] = ()) -> str:
    """``stem``, or the first of ``stem-1``, ``stem-2``... under which no file of the group exists."""
    taken, i = set(reserved), 0
    while True:
        candidate = stem if i == 0 else f"{stem}-{i}"
        if not any(candidate + s in taken or (folder / (candidate + s)).exists() for s in suffixes):
            return candidate
        i += 1


def _free_path(dest: Path) -> Path:
    return dest.with_name(_free_stem(dest.parent, dest.stem, [dest.suffix]) + dest.suffix)


def _holds(path: Path, sha: str) -> bool | None:
    """Whether the file still holds the content of that hash; None when it is gone."""
    return _sha(path.read_bytes()) == sha if path.is_file() else None


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_atomic(path: Path, text: str) -> None:
    """Write a text file under a temporary name, then rename it: readers never see it half-written."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
