"""The lab results drop folder and `specialist ingest`: stored once, moved after the commit,
bad files quarantined with a reason, nothing lost (also under fuzzing)."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from domains.photonics import calibration, design as design_mod
from domains.photonics.plugin import PhotonicsDomain
from domains.photonics.results import COLUMNS, SIDECAR_FIELDS
from feeds.lab import LabFeed
from feeds.worker import FeedWorker
from specialist import cli
from specialist.errors import InputError
from specialist.store import Store

DESIGN = {"incident": "air", "substrate": "N-BK7",
          "layers": [{"material": "TiO2", "thickness_nm": 60.0}, {"material": "SiO2", "thickness_nm": 95.0}]}
SIDECAR = {"design": DESIGN, "sample_id": "s-1", "angle_deg": 0, "polarization": "avg", "run": "r-1"}
WL = np.linspace(400.0, 700.0, 16)
ROWS = [[f"{w:g}", f"{0.04 + 0.001 * i:g}", f"{0.9 - 0.001 * i:g}"] for i, w in enumerate(WL)]


DOMAIN = PhotonicsDomain()


def stub_judge(design: dict, measurement: dict) -> dict:
    return {"rms": {}}


def lab(folder: Path, judge=stub_judge, **options) -> LabFeed:
    """The drop folder reading photonics results, as `specialist run` and `ingest` set it up."""
    return LabFeed(folder, DOMAIN.read_result, judge, **options)


def csv_text(rows=ROWS, header=COLUMNS) -> str:
    return "\n".join(",".join(r) for r in [list(header), *rows]) + "\n"


def drop(folder: Path, stem: str, csv: str | bytes | None = "", sidecar: dict | str | bytes | None = SIDECAR,
         age_s: float = 60.0) -> list[Path]:
    """Write a result aged ``age_s`` seconds: the CSV ("" for a good one) and the sidecar, each
    given as text, bytes or (the sidecar) an object; None leaves that file out."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix, body in ((".csv", csv_text() if csv == "" else csv), (".json", sidecar)):
        if body is None:
            continue
        body = json.dumps(body) if isinstance(body, dict) else body
        path = folder / f"{stem}{suffix}"
        path.write_bytes(body if isinstance(body, bytes) else body.encode())
        os.utime(path, (time.time() - age_s,) * 2)
        written.append(path)
    return written


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.exists() else []


def commit(store: Store, feed: LabFeed, position=None):
    """One FeedWorker step by hand: poll, then rows and position in one transaction."""
    rows, position = feed.poll(position)
    store.put_many(rows + [("cursors", {"stream": feed.name, "position": position})])
    return rows, position


def test_good_result_is_stored_with_a_verdict_then_moved(tmp_path):
    truth = calibration.predict(design_mod.parse(DESIGN), {"wavelength_nm": WL, "R": 0, "T": 0})
    rows = [[repr(float(w)), repr(float(r)), repr(float(t))] for w, r, t in zip(WL, truth["R"], truth["T"])]
    drop(tmp_path / "drop", "sample", csv_text(rows))
    store = Store(tmp_path / "store.sqlite")
    worker = FeedWorker(store, [lab(tmp_path / "drop", DOMAIN.judge)])
    assert worker.poll().new == {"lab": 1}  # stored, then filed away once committed
    (row,) = store.rows("results")
    assert row["sample_id"] == "s-1" and row["name"] == "sample.csv" and len(row["sha256"]) == 64
    assert row["measurement"]["run"] == "r-1" and row["measurement"]["wavelength_nm"] == WL.tolist()
    assert row["verdict"]["rms_all"] < 1e-9 and set(row["verdict"]["rms"]) == {"R", "T"}
    assert files(tmp_path / "drop") == []
    assert files(tmp_path / "drop" / "processed") == ["sample.csv", "sample.json"]
    assert worker.poll().new == {"lab": 0}


GOOD = csv_text()
BAD = [  # (csv, sidecar, words the reason must hold); None: the file is missing
    (GOOD, None, ["sample.csv", "no sidecar sample.json"]),
    (None, SIDECAR, ["sample.json", "no spectrum sample.csv"]),
    (csv_text(header=("wavelength_nm", "R", "X")), SIDECAR, ["sample.csv", "header", "'X'", "allowed"]),
    (csv_text([*ROWS[:3], ["550", "abc", "0.5"]]), SIDECAR, ["sample.csv", "line 5, R", "'abc'"]),
    (csv_text([*ROWS[:3], ["550", "nan", "0.5"]]), SIDECAR, ["line 5, R", "finite"]),
    (csv_text(ROWS[::-1]), SIDECAR, ["wavelength_nm", "strictly increase"]),
    (csv_text([*ROWS, ["1700", "0.1", "0.8"]]), SIDECAR, ["wavelength_nm", "layers[0].material", "TiO2",
                                                         "300-1690"]),
    (csv_text([[w, "4.2", t] for w, _, t in ROWS]), SIDECAR, ["field 'R'", "[0, 1]", "percent"]),
    (csv_text(ROWS[:2]), SIDECAR, ["2 data rows", "3 to 100000"]),
    (csv_text([*ROWS[:3], ["550", "0.1"]]), SIDECAR, ["line 5", "one per column"]),
    (b"", SIDECAR, ["sample.csv", "no data"]),
    (GOOD, {**SIDECAR, "design": {**DESIGN, "layers": [{"material": "Unobtainium", "thickness_nm": 9}]}},
     ["sample.json", "design.layers[0].material", "Unobtainium"]),
    (GOOD, {**SIDECAR, "polarization": "x"}, ["polarization", '"s", "p" or "avg"']),
    (GOOD, {**SIDECAR, "angle_deg": 95}, ["angle_deg", "[0, 90)"]),
    (GOOD, {**SIDECAR, "angle": 5}, ["'angle'", "not a sidecar field"]),
    (GOOD, {k: v for k, v in SIDECAR.items() if k != "design"}, ["design", "missing"]),
    (GOOD, "{not json", ["sample.json", "not valid JSON"]),
]


@pytest.mark.parametrize("csv, sidecar, words", BAD)
def test_bad_result_is_quarantined_with_its_reason(tmp_path, csv, sidecar, words):
    folder = tmp_path / "drop"
    before = [p.name for p in drop(folder, "sample", csv, sidecar)]
    rows, position = lab(folder).poll(None)
    assert rows == [] and position["pending"] == [] and files(folder) == []
    assert files(folder / "quarantine") == sorted(before + ["sample.reason.txt"])
    reason = (folder / "quarantine" / "sample.reason.txt").read_text()
    for word in words:
        assert word in reason


def test_a_verdict_refused_is_the_sidecars_fault(tmp_path):
    def refusing(design: dict, measurement: dict) -> dict:
        raise InputError("design", "layers[0].material", "is outside its valid range")

    folder = tmp_path / "drop"
    drop(folder, "sample")
    assert lab(folder, refusing).poll(None)[0] == []
    reason = (folder / "quarantine" / "sample.reason.txt").read_text()
    assert reason.startswith("sample.json: field 'layers[0].material'")


def test_other_files_are_quarantined_and_files_being_written_wait(tmp_path):
    folder = tmp_path / "drop"
    drop(folder, "young", sidecar=None, age_s=0.0)   # being written: too new
    drop(folder, "lonely", sidecar=None, age_s=5.0)  # settled, still waiting for its sidecar
    for name in (".hidden.csv", "upload.csv.part", "notes.txt"):
        (folder / name).write_text("x")
        os.utime(folder / name, (time.time() - 60,) * 2)
    feed = lab(folder)  # settle 2 s, partner wait 10 s
    assert feed.poll(None)[0] == []
    assert files(folder) == [".hidden.csv", "lonely.csv", "upload.csv.part", "young.csv"]
    assert "not a result file" in (folder / "quarantine" / "notes.reason.txt").read_text()
    drop(folder, "young", age_s=3.0)                           # its sidecar arrived; both settled
    os.utime(folder / "lonely.csv", (time.time() - 11,) * 2)   # waited long enough
    rows, _ = feed.poll(None)
    assert [r["name"] for _, r in rows] == ["young.csv"]
    assert "no sidecar lonely.json" in (folder / "quarantine" / "lonely.reason.txt").read_text()


def test_duplicates_are_stored_once_and_name_clashes_get_a_suffix(tmp_path):
    folder, store = tmp_path / "drop", Store(tmp_path / "store.sqlite")
    feed, position = lab(folder), None
    for stem in ("a", "a", "b"):  # the same content three times, twice under the same name
        drop(folder, stem)
        _, position = commit(store, feed, position)
        position = feed.settle(position)
    assert store.count("results") == 1
    assert files(folder / "processed") == ["a-1.csv", "a-1.json", "a.csv", "a.json", "b.csv", "b.json"]
    for _ in range(2):
        drop(folder, "bad", "garbage")
        feed.poll(None)
    assert files(folder / "quarantine") == ["bad-1.csv", "bad-1.json", "bad-1.reason.txt",
                                            "bad.csv", "bad.json", "bad.reason.txt"]


def test_a_crash_between_commit_and_move_loses_and_repeats_nothing(tmp_path):
    folder, store = tmp_path / "drop", Store(tmp_path / "store.sqlite")
    drop(folder, "a")
    drop(folder, "b", csv_text(ROWS[1:]))
    rows, _ = lab(folder).poll(None)  # crash before the commit: nothing stored...
    assert len(rows) == 2 and files(folder) == ["a.csv", "a.json", "b.csv", "b.json"]
    commit(store, lab(folder))        # ...so it is all read again; then a crash after it
    assert store.count("results") == 2 and len(files(folder)) == 4
    (folder / "b.csv").write_text(csv_text(ROWS[2:]))  # b rewritten meanwhile: not filed away unread
    os.utime(folder / "b.csv", (time.time() - 60,) * 2)
    worker = FeedWorker(store, [lab(folder)])  # the restarted daemon: files a away, stores the new b
    assert worker.poll().new == {"lab": 1} and store.count("results") == 3
    assert files(folder) == [] and files(folder / "processed") == ["a.csv", "a.json", "b.csv", "b.json"]
    assert worker.poll().new == {"lab": 0}


def test_ingest_command_stores_copies_and_reports(tmp_path, capsys):
    good = drop(tmp_path / "in", "sample")[0]
    bad = drop(tmp_path / "in", "broken", "wavelength_nm,R\n")[0]
    data = tmp_path / "data"
    assert cli.main(["ingest", str(good), "--data-dir", str(data), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["stored"] == 1 and report["files"][0]["verdict"]["rms"]["R"] > 0
    assert files(data / "drop" / "processed") == ["sample.csv", "sample.json"] and good.exists()
    assert cli.main(["ingest", str(good.with_suffix(".json")), str(bad), "--data-dir", str(data)]) == 2
    out, err = capsys.readouterr()
    assert "1 already stored, 1 rejected" in out and "error: " in err and "broken.csv" in err
    assert files(data / "drop" / "processed") == ["sample.csv", "sample.json"]  # a duplicate is not copied again
    assert Store(data / "store.sqlite").count("results") == 1
    assert cli.main(["ingest", str(tmp_path / "notes.txt"), "--data-dir", str(data)]) == 2
    assert "not a result file" in capsys.readouterr().err


# --- fuzzing: malformed results through the real drop-folder path --------------------------------

GOOD_CSV, GOOD_SIDECAR = csv_text().encode(), json.dumps(SIDECAR).encode()
_CELL = st.integers(0, len(ROWS) - 1)
_BAD_WL = st.sampled_from(["nan", "inf", "-inf", "1e999", "abc", "", "-400", "0x10", "--5", "1e300 5"])
_BAD_FRACTION = st.one_of(st.sampled_from(["NaN", "Infinity", "", "1..2", "5", "-0.001", "1e308", "1.0001"]),
                          st.floats(1.0001, 1e300).map(repr), st.floats(-1e300, -1e-9).map(repr))


def _with_cell(rows, i, j, value):
    rows = [list(r) for r in rows]
    rows[i][j] = value
    return csv_text(rows).encode()


def _swapped(i):
    return csv_text([*ROWS[:i], ROWS[i + 1], ROWS[i], *ROWS[i + 2:]]).encode()


def _invalid_header(h):
    return set(h) - set(COLUMNS) or len(set(h)) < len(h) or "wavelength_nm" not in h or len(h) < 2


bad_csv = st.one_of(
    st.binary(max_size=300),
    st.just(b""),
    st.text(max_size=200).map(str.encode),
    st.lists(st.sampled_from(["wavelength_nm", "R", "T", "X", "r", "wavelength", "", "t "]), max_size=5)
    .filter(_invalid_header).map(lambda h: csv_text(header=h).encode()),
    st.builds(_with_cell, st.just(ROWS), _CELL, st.just(0), _BAD_WL),
    st.builds(_with_cell, st.just(ROWS), _CELL, st.sampled_from([1, 2]), _BAD_FRACTION),
    st.integers(0, len(ROWS) - 2).map(_swapped),
    st.integers(0, 2).map(lambda n: csv_text(ROWS[:n]).encode()),
    st.builds(lambda i, extra: _with_cell(ROWS, i, 2, ROWS[i][2] + extra), _CELL,
              st.sampled_from([",1", ",", ",,x"])),
    st.sampled_from([100.0, 50.0, 25.0]).map(  # percent, or some other scale: some R beyond 1
        lambda s: csv_text([[w, f"{float(r) * s:g}", t] for w, r, t in ROWS]).encode()),
)
_WRONG = {"angle_deg": st.one_of(st.text(max_size=5), st.booleans(), st.lists(st.integers(), max_size=2),
                                 st.floats(90, 1e300), st.floats(-1e300, -1e-9), st.just(float("nan"))),
          "polarization": st.one_of(st.text(max_size=5).filter(lambda s: s not in ("s", "p", "avg")),
                                    st.integers()),
          "sample_id": st.one_of(st.just(""), st.just(" "), st.text("ab", min_size=201, max_size=210), st.floats(),
                                 st.none(), st.dictionaries(st.text(max_size=2), st.integers(), max_size=2)),
          "run": st.one_of(st.just(""), st.floats(), st.booleans(), st.lists(st.text(max_size=2), max_size=2)),
          "notes": st.one_of(st.integers(), st.none(), st.lists(st.integers(), max_size=2)),
          "lab_goal": st.one_of(st.just(""), st.integers(), st.none(), st.text("ab", min_size=201, max_size=210)),
          "hypothesis": st.one_of(st.just(" "), st.floats(), st.lists(st.text(max_size=2), max_size=2)),
          "design": st.one_of(st.integers(), st.text(max_size=10), st.lists(st.integers(), max_size=3),
                              st.sampled_from([{**DESIGN, "layers": [{"material": "TiO2", "thickness_nm": t}]}
                                               for t in (-1, "5", None, True)]
                                              + [{**DESIGN, "layers": [{"material": "Xx", "thickness_nm": 10}]},
                                                 {**DESIGN, "layers": "TiO2"}, {"incident": "air"},
                                                 {**DESIGN, "substrate": {"name": "g", "n": -1}}]))}
bad_sidecar = st.one_of(
    st.binary(max_size=200),
    st.one_of(st.integers(), st.text(max_size=20), st.lists(st.integers(), max_size=3), st.none())
    .map(lambda v: json.dumps(v).encode()),
    st.sampled_from(SIDECAR_FIELDS).flatmap(lambda k: _WRONG[k].map(lambda v: {**SIDECAR, k: v})),
    st.sampled_from(["design"]).map(lambda k: {f: v for f, v in SIDECAR.items() if f != k}),
    st.text(min_size=1, max_size=8).filter(lambda k: k not in SIDECAR_FIELDS).map(lambda k: {**SIDECAR, k: 1}),
).map(lambda s: json.dumps(s).encode() if isinstance(s, dict) else s)
bad_result = st.one_of(
    st.tuples(bad_csv, st.just(GOOD_SIDECAR)), st.tuples(st.just(GOOD_CSV), bad_sidecar),
    st.tuples(bad_csv, bad_sidecar), st.tuples(st.one_of(bad_csv, st.just(GOOD_CSV)), st.none()),
    st.tuples(st.none(), st.one_of(bad_sidecar, st.just(GOOD_SIDECAR))))


def test_fuzz_fixture_is_sound(tmp_path):
    drop(tmp_path, "ok", GOOD_CSV, GOOD_SIDECAR)
    assert len(lab(tmp_path, settle_s=0, partner_wait_s=0).poll(None)[0]) == 1


@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(result=bad_result, stem=st.sampled_from(["sample", "a b", "ünï", "x.y"]), clash=st.booleans())
def test_fuzzed_bad_results_are_all_quarantined_with_a_reason(result, stem, clash):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "drop"
        if clash:  # a quarantined namesake already there
            drop(folder / "quarantine", stem, GOOD_CSV, GOOD_SIDECAR)
        dropped = drop(folder, stem, *result)
        kept = files(folder / "quarantine")
        rows, position = lab(folder, settle_s=0, partner_wait_s=0).poll(None)
        assert rows == [] and position["pending"] == [] and files(folder) == []
        new = sorted(set(files(folder / "quarantine")) - set(kept))
        reasons = [n for n in new if n.endswith(".reason.txt")]
        assert len(new) == len(dropped) + 1 and len(reasons) == 1
        assert (folder / "quarantine" / reasons[0]).read_text().strip()
        assert files(folder / "processed") == []
