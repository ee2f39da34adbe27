"""Property-based checks of the command line's contract over generated inputs (hypothesis).

Every generated command line, run in-process through ``registry.main``, must end in one of two
ways: exit 0 with a non-empty stdout (with --json exactly one JSON document, every number in it
finite), or exit 2 with exactly one line on stderr, ``error: ...``, naming the file or option at
fault. No exception may escape ``main`` (argparse's usage errors end the same way, exit 2), and
no output holds NaN. ``evaluate`` of a design that breaks a hard constraint of its goal exits 1
with its JSON verdict (GUIDE), which is checked as a success whose ``rejected`` is set.

    pytest tests/test_properties.py -q -s        # prints "property cases: N, failures: 0"
    SPECIALIST_PROPERTY_EXAMPLES=5 pytest tests/test_properties.py -q -s   # five times the cases

Inputs: designs and goals (valid and broken JSON, written to files), configurations (TOML with
the real configuration tree's sections and fields, broken values, unknown names, non-UTF-8
bytes), arXiv feeds (a recorded feed mutated, generated abstracts, random bytes) and the
options of materials, bench, status, designs and propose.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import itertools
import json
import math
import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from domains.photonics import materials as lib
from specialist import config
from specialist.cli.registry import build_parser, main

SCALE = float(os.environ.get("SPECIALIST_PROPERTY_EXAMPLES", "1"))  # a factor on every test's count
STATS = {"cases": 0, "failures": 0}
OUTCOMES: dict[tuple[str, int], int] = {}  # (command, exit status) -> cases
FEED = Path(__file__).resolve().parents[2] / "shared" / "data" / "arxiv-optics-feed.xml"
_SERIAL = itertools.count()


def examples(n: int):
    """Deterministic settings with ``n`` examples (times SPECIALIST_PROPERTY_EXAMPLES)."""
    return settings(max_examples=max(1, round(n * SCALE)), derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("properties")


def put(folder: Path, content, suffix: str = ".json") -> str:
    """Write generated content to a new file: JSON-able values as JSON (NaN and Infinity written
    as Python's json writes them), str as text, bytes as they are."""
    path = folder / f"f{next(_SERIAL)}{suffix}"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


# --- the contract ------------------------------------------------------------------------------

def _finite(doc) -> bool:
    if isinstance(doc, float):
        return math.isfinite(doc)
    if isinstance(doc, dict):
        return all(_finite(v) for v in doc.values())
    if isinstance(doc, list):
        return all(_finite(v) for v in doc)
    return True


def _no_constant(name: str):
    raise AssertionError(f"printed {name}, which is not JSON")


def _names(argv: list[str]) -> list[str]:
    """What an error may name: the options given (or taken for options), and the values that are
    files or folders."""
    flags = [a.split("=")[0] for a in argv if a.startswith("-")]
    return flags + [a for a in argv if "/" in a]


def cli(capsys, argv: list[str], extra_names: tuple[str, ...] = ()) -> tuple[int, str, str]:
    """Run the command line and assert the contract (module docstring); returns (status, out, err)."""
    capsys.readouterr()
    STATS["cases"] += 1
    try:
        try:
            status = main(argv)
        except SystemExit as end:  # argparse: usage errors (2); nothing else may end the program
            assert end.code == 2, f"{argv}: SystemExit({end.code!r})"
            status = 2
        out, err = capsys.readouterr()
        _check(argv, status, out, err, extra_names)
        OUTCOMES[argv[0], status] = OUTCOMES.get((argv[0], status), 0) + 1
    except BaseException:
        STATS["failures"] += 1
        raise
    return status, out, err


def _check(argv, status, out, err, extra_names) -> None:
    as_json = "--json" in argv
    doc = json.loads(out, parse_constant=_no_constant) if as_json and out.strip() else None
    assert _finite(doc), f"{argv}: a number that is not finite in {out[:300]}"
    assert "Traceback" not in err, f"{argv}:\n{err}"
    if status == 0:
        assert out.strip(), f"{argv}: exit 0 with nothing on stdout"
        if not as_json and argv[0] in ("simulate", "evaluate", "materials", "bench", "status"):
            assert not re.search(r"(?<![\w.])-?(nan|inf)(?![\w])", out, re.I), f"{argv}: {out[:500]}"
        return
    if status == 1 and argv[0] == "evaluate":  # a design breaking a hard constraint: the verdict
        assert doc is None or (doc["rejected"] and doc["merit"] is None), f"{argv}: {out[:300]}"
        return
    assert status == 2, f"{argv}: exit {status}; stderr {err!r}"
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("error: "), f"{argv}: stderr {err!r}"
    names = _names(argv) + list(extra_names)
    assert any(n in lines[0] for n in names), f"{argv}: the error names none of {names}: {lines[0]}"


def test_the_contract_refuses_what_it_should(capsys, tmp_path):
    """The checker itself can fail: a traceback-free exit 2 that names nothing is caught."""
    path = put(tmp_path, {"substrate": "N-BK7", "layers": []})
    with pytest.raises(AssertionError, match="names none"):
        _check(["simulate", path], 2, "", "error: something is wrong.\n", ())
    with pytest.raises(AssertionError, match="not JSON"):
        _check(["simulate", path, "--json"], 0, '{"R": [NaN]}', "", ())
    with pytest.raises(AssertionError, match="not finite"):
        _check(["simulate", path, "--json"], 0, '{"R": [1e999]}', "", ())
    with pytest.raises(AssertionError, match="nothing on stdout"):
        _check(["simulate", path], 0, "", "", ())


# --- generated JSON: valid documents, and the same with one fault ---------------------------------

LIBRARY = sorted(lib.library())
DIELECTRICS = ["SiO2", "TiO2", "Ta2O5", "MgF2", "Al2O3", "HfO2", "Nb2O5", "Si3N4"]
WEIRD = st.one_of(
    st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e300, -1e300, -0.0, 5e-324, -1, 0, 2**70, -2**70,
                     "NaN", "1", "", "TiO2", "tio2", "Unobtainium", True, False, None, [], [1.0], {}, {"n": 1}]),
    st.floats(allow_nan=True, allow_infinity=True), st.integers(), st.text(max_size=6))
inline = st.builds(lambda name, n, k: {"name": name, "n": n, "k": k}, st.sampled_from(["H", "L", "M", "SiO2"]),
                   st.floats(1.0, 4.0), st.one_of(st.just(0.0), st.floats(0.0, 0.5)))
inline_edge = st.builds(lambda n, k: {"name": "E", "n": n, "k": k},
                        st.sampled_from([1e-300, 1e-3, 0.05, 1e3, 1e150, 1e300]),
                        st.sampled_from([0.0, 1e-3, 1e3, 1e300]))
film = st.one_of(st.sampled_from(DIELECTRICS), st.sampled_from(LIBRARY), inline)
medium = st.one_of(st.sampled_from(["air", "N-BK7", "SiO2"]), inline)


@st.composite
def design(draw, mats=None, media=None):
    """A valid design (of the goal's ``mats`` and ``media`` when given)."""
    mats = mats or [draw(film) for _ in range(3)]
    layers = draw(st.lists(st.builds(lambda m, d: {"material": m, "thickness_nm": d}, st.sampled_from(mats),
                                     st.one_of(st.floats(5, 400), st.integers(0, 300), st.just(0))), max_size=4))
    doc = dict(media) if media else {"incident": draw(st.sampled_from(["air", {"name": "oil", "n": 1.5}])),
                                     "substrate": draw(medium)}
    doc["layers"] = layers
    if media is None and draw(st.integers(0, 3)) == 0:
        doc.update(substrate_thickness_mm=draw(st.floats(0.01, 10)), exit=draw(st.sampled_from(["air", "SiO2"])))
    return doc


@st.composite
def target(draw):
    """A valid target: a band (or one wavelength) in 400-1000 nm, its values, the optional fields."""
    lo = draw(st.floats(400, 900))
    single = draw(st.integers(0, 3)) == 0
    band = draw(st.sampled_from([lo, [lo, lo]])) if single else [lo, lo + draw(st.floats(1, 100))]
    points = 1 if single else draw(st.sampled_from([2, 5, 9]))
    t = {"quantity": draw(st.sampled_from(["R", "T", "A"])), "wavelength_nm": band,
         "relation": draw(st.sampled_from(["<=", ">=", "="])),
         "value": draw(st.one_of(st.floats(0, 1), st.lists(st.floats(0, 1), min_size=points, max_size=points)))}
    optional = {"points": st.just(points), "polarization": st.sampled_from(["s", "p", "avg"]),
                "angle_deg": st.sampled_from([0, 0.0, 30, 60.5]),  # few angles: few compilations
                "tolerance": st.one_of(st.floats(1e-4, 0.1), st.floats(1e-4, 0.1),
                                       st.sampled_from([5e-324, 1e-300, 1e-9, 1e300])),
                "weight": st.one_of(st.floats(0.1, 10), st.floats(0.1, 10),
                                    st.sampled_from([5e-324, 1e-6, 1e6, 1e300, 1.7e308]))}
    t.update(draw(st.fixed_dictionaries({}, optional=optional)))
    if isinstance(t["value"], list):
        t["points"] = points
    return t


@st.composite
def goal(draw):
    """A valid goal of dielectric films on glass (every target inside every material's data)."""
    mats = draw(st.lists(st.one_of(st.sampled_from(DIELECTRICS), inline), min_size=1, max_size=3))
    g = {"name": draw(st.sampled_from(["ar", "mirror-1", "g.2"])),
         "substrate": draw(st.sampled_from(["N-BK7", "SiO2"])), "materials": mats,
         "targets": draw(st.lists(target(), min_size=1, max_size=2))}
    optional = {
        "domain": st.just("photonics"), "incident": st.sampled_from(["air", {"name": "oil", "n": 1.5}]),
        "max_layers": st.sampled_from([3, 4]),  # few layer counts: few compilations
        "thickness_nm": st.one_of(st.builds(lambda a, b: [a, a + b], st.floats(0, 5), st.floats(300, 500)),
                                  st.sampled_from([[0, 1e6], [1e5, 1e6], [0, 1e300]])),
        "max_total_thickness_nm": st.one_of(st.floats(100, 5000), st.none()), "solved_below": st.floats(0.01, 10),
        "robustness": st.fixed_dictionaries({}, optional={
            "thickness_pct": st.floats(0, 20), "index_sigma": st.floats(0, 0.5), "runs": st.integers(2, 4),
            "seed": st.integers(0, 2**31 - 1)}),
        "process": st.just("run-7"), "calibration": st.fixed_dictionaries({}, optional={
            "version": st.integers(0, 3), "thickness_scale": st.floats(0.5, 2),
            "delta_n": st.dictionaries(st.sampled_from(DIELECTRICS), st.floats(-0.1, 0.1), max_size=2)})}
    g.update(draw(st.fixed_dictionaries({}, optional=optional)))
    if draw(st.integers(0, 4)) == 0:
        g.update(substrate_thickness_mm=draw(st.floats(0.1, 5)), exit="air")
    return g


def _paths(doc, prefix=()) -> list[tuple]:
    """Every place in a JSON document: the key paths of its objects' fields and lists' items."""
    out = [prefix]
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for key, value in items:
        out += _paths(value, (*prefix, key))
    return out


@st.composite
def broken(draw, valid):
    """A document of ``valid`` with one fault: a value replaced by an odd one, a field dropped,
    an unknown field added, or a part wrapped in a list or an object."""
    doc = json.loads(json.dumps(draw(valid)))
    where = draw(st.sampled_from(_paths(doc)))
    fault = draw(st.sampled_from(["replace", "replace", "drop", "add", "wrap"]))
    if fault == "replace":
        new = draw(st.one_of(WEIRD, film, inline_edge, st.floats(-1e3, 2e6)))
    elif fault == "wrap":
        new = draw(st.sampled_from([[], {}])) or None
    parent = doc
    for key in where[:-1]:
        parent = parent[key]
    if not where:  # the document itself
        return draw(st.one_of(WEIRD, st.just([doc]), st.just({"design": doc}))) if fault != "drop" else []
    key, old = where[-1], parent[where[-1]]
    if fault == "drop":
        del parent[key]
    elif fault == "add":
        into = old if isinstance(old, dict) else parent if isinstance(parent, dict) else None
        if into is None:  # an item of a list: one more item
            parent.append(draw(WEIRD))
        else:
            into[draw(st.sampled_from(["extra", "Layers", "thickness", "k", "n", "name"]))] = draw(WEIRD)
    else:
        parent[key] = new if fault == "replace" else [old] if new is None else {"value": old}
    return doc


def maybe_broken(valid):
    return st.one_of(valid, broken(valid))


SMALL_DESIGN = {"substrate": "N-BK7", "layers": [{"material": "TiO2", "thickness_nm": 100}]}
SMALL_GOAL = {"name": "ar", "substrate": "N-BK7", "materials": ["TiO2"], "max_layers": 4,
              "targets": [{"quantity": "R", "wavelength_nm": [500, 600], "points": 3, "relation": "<=", "value": 0.0}]}
RAW_FILES = st.sampled_from([
    '{"substrate": "N-BK7", "layers": [{"material": "TiO2", "thickness_nm": NaN}]}',
    '{"substrate": "N-BK7", "layers": [{"material": "TiO2", "thickness_nm": 1e400}]}',
    '{"substrate": "N-BK7", "layers": []', "", "null", "[" * 100_000, b"\xff\xfe{}", b"\x00" * 10,
    '{"name": "g", "substrate": "N-BK7", "materials": ["TiO2"], "targets": [{"quantity": "R", '
    '"wavelength_nm": [400, 500], "relation": "<=", "value": Infinity}]}'])
design_file = st.one_of(maybe_broken(design()), maybe_broken(st.lists(design(), min_size=1, max_size=3)),
                        st.just([]), RAW_FILES)
good_wavelengths = st.builds(lambda lo, span, n: f"{lo:g}:{lo + span:g}:{n}", st.floats(300, 1500),
                             st.floats(0, 800), st.sampled_from([1, 2, 3, 5, 16]))
wavelength_spec = st.one_of(
    good_wavelengths, good_wavelengths, good_wavelengths,
    st.builds(lambda w: f"{w:g}", st.floats(300, 1600)),
    st.sampled_from(["400:700:301", "700:400:3", "0:700:3", "-400:700:3", "400:700:0", "400:700:1.5", "400:700",
                     "nan", "inf:700:3", "400:700:100001", "", "1e309", "400:700:3:4", "abc", "-5", "1e-30",
                     "100:200:2", "3000:5000:2", "550:550:1", " 500", "5e2", "0x10", "400:700:nan"]),
    st.text(max_size=8))
angle = st.one_of(st.floats(0, 89.99), st.sampled_from(["90", "-1", "nan", "inf", "1e308", "-0", "x", "", "45"]))
polarization = st.sampled_from(["s", "p", "avg", "S", "both", ""])


def options(values: dict) -> list[str]:
    """['--flag', value, ...] for the options drawn."""
    return [x for flag, value in values.items() for x in (flag, str(value))]


@given(doc=design_file, values=st.fixed_dictionaries({}, optional={
    "--wavelengths": wavelength_spec, "--angle": angle, "--polarization": polarization}), as_json=st.booleans())
@example(doc={"substrate": {"name": "S", "n": 1e300}, "layers": []}, values={}, as_json=True)  # was NaN
@example(doc=SMALL_DESIGN, values={"--angle": "x"}, as_json=True)  # was argparse's usage block
@examples(200)
def test_simulate(capsys, folder, doc, values, as_json):
    path = put(folder, doc)
    argv = ["simulate", path, *options(values)] + (["--json"] if as_json else [])
    status, out, _ = cli(capsys, argv)
    if status == 0 and as_json:  # fractions of the incident power (an absorbing incident medium is refused)
        designs = doc if isinstance(doc, list) else [doc]
        for d, one in zip(designs, json.loads(out) if isinstance(doc, list) else [json.loads(out)]):
            assert all(-1e-9 <= x <= 1 + 1e-9 for q in ("R", "T", "A") for x in one[q]), (d, one)


@st.composite
def goal_and_design(draw):
    g = draw(goal())
    media = {k: g[k] for k in ("incident", "substrate", "substrate_thickness_mm", "exit") if k in g}
    mats = [m["name"] if isinstance(m, dict) and draw(st.booleans()) else m for m in g["materials"]]
    d = draw(design(mats, {"incident": "air", **media}))
    which = draw(st.sampled_from(["neither", "neither", "neither", "goal", "goal", "design", "design", "raw"]))
    if which == "goal":
        g = draw(broken(st.just(g)))
    elif which == "design":
        d = draw(broken(st.just(d)))
    elif which == "raw":
        g, d = draw(st.sampled_from([(draw(RAW_FILES), d), (g, draw(RAW_FILES))]))
    return g, d


@given(pair=goal_and_design(), as_json=st.booleans())
@example(pair=({**SMALL_GOAL, "targets": [{**SMALL_GOAL["targets"][0], "tolerance": 5e-324}]}, SMALL_DESIGN),
         as_json=True)  # the merit was infinite
@example(pair=({**SMALL_GOAL, "targets": [{**SMALL_GOAL["targets"][0], "weight": 1e308}] * 2}, SMALL_DESIGN),
         as_json=True)  # the merit was NaN
@examples(100)
def test_evaluate(capsys, folder, pair, as_json):
    argv = ["evaluate", put(folder, pair[0]), put(folder, pair[1])] + (["--json"] if as_json else [])
    status, out, _ = cli(capsys, argv)
    if status == 0 and as_json:
        doc = json.loads(out)
        assert doc["rejected"] is None and doc["merit"] >= 0 and doc["solved"] in (True, False)


@given(g=st.one_of(maybe_broken(goal()), RAW_FILES))
@examples(40)
def test_submit(capsys, folder, g):
    data_dir = folder / f"data{next(_SERIAL)}"
    status, out, _ = cli(capsys, ["submit", put(folder, g), "--json", "--data-dir", str(data_dir)])
    report = json.loads(out)
    assert report["submitted"] + report["rejected"] == 1 and (status == 0) == (report["submitted"] == 1)


# --- configurations ------------------------------------------------------------------------------

def _fields(cls) -> dict[str, object]:
    """A section's fields a file may set, with their defaults (a nested section as its class)."""
    return {f.name: (f.default if f.default is not dataclasses.MISSING else f.default_factory())
            for f in dataclasses.fields(cls) if not f.metadata.get("from_domain")}


SECTIONS = {f.name: f.default_factory().__class__ for f in dataclasses.fields(config.Config)}
# Any text TOML can hold, control characters included (`run --print-config` must escape them).
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
GOOD_TEXT = {"domain": ["photonics", "toy"], "budgets": ["1,10,100", "5", "0,1", "1,,x"], "sort_by": [
    "lastUpdatedDate", "submittedDate", "relevance"], "endpoint": ["http://127.0.0.1:9", "ftp://x", "https://"],
    "since": ["2024-01-31", "2024-13-01", "", "yesterday"], "start_from": ["shipped", "scratch", "/nowhere"],
    "skip_families": ["", "ar_broad", "ar_broad,notch", "no-such-family"]}


def value_for(key: str, default) -> st.SearchStrategy:
    """Mostly a value near the default (of the field's own type), else one out of its range or of
    another type."""
    if isinstance(default, bool):
        near = st.booleans()
    elif isinstance(default, int):  # halved or doubled: model.heads still divides model.width
        near = st.sampled_from([default, default * 2, max(default // 2, min(default, 1))])
    elif isinstance(default, float):  # shrunk: shares stay shares
        near = st.floats(0.5, 1).map(lambda f: default * f)
    else:
        near = st.sampled_from(GOOD_TEXT.get(key, [default]))
    far = st.one_of(st.sampled_from([-1, -2, 0, 2**31 - 1, 2**31, 2**63 - 1, 10**400, -0.0, 1.5, 1e308,
                                     float("nan"), float("inf"), -float("inf")]), st.integers(-10, 10), st.floats(),
                    TEXT, st.sampled_from([True, [1, 2], {"a": 1}, TomlRaw("2024-01-31"), TomlRaw("07:32:00")]))
    return st.one_of(near, near, near, near, near, far)


class TomlRaw(str):
    """A TOML value written as it is (a date or time)."""


def toml_value(v) -> str:
    if isinstance(v, TomlRaw):
        return str(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if v != v else "inf" if v == math.inf else "-inf" if v == -math.inf else repr(v)
    if isinstance(v, str):  # a TOML basic string, as JSON writes one (characters as they are)
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + "}"
    return str(v)


@st.composite
def section_values(draw, name: str, cls) -> list[str]:
    """Lines of one [section]: some of its fields, now and then an unknown one; nested sections after."""
    fields = _fields(cls)
    keys = draw(st.lists(st.sampled_from(sorted(fields)), max_size=4, unique=True))
    lines, nested = [f"[{name}]"], []
    for key in keys:
        if dataclasses.is_dataclass(fields[key]):
            nested += draw(section_values(f"{name}.{key}", type(fields[key])))
        else:
            lines.append(f"{key} = {toml_value(draw(value_for(key, fields[key])))}")
    if draw(st.integers(0, 9)) == 0:
        lines.append(f"{draw(st.sampled_from(['colour', 'seeds', 'arxiv_query', 'arxiv']))} = 1")
    return lines + nested


@st.composite
def config_text(draw):
    names = draw(st.lists(st.sampled_from(sorted(SECTIONS)), max_size=3, unique=True))
    lines = [line for name in names for line in draw(section_values(name, SECTIONS[name]))]
    fault = draw(st.sampled_from(["none"] * 15 + ["unknown section", "top-level value", "bytes", "text",
                                                    "duplicate"]))
    if fault == "unknown section":
        lines.append("[extras]\nx = 1")
    elif fault == "top-level value":
        lines.insert(0, f"{draw(st.sampled_from(sorted(SECTIONS)))} = 5")
    elif fault == "duplicate":
        lines += ["[daemon]", "seed = 1", "seed = 2"]
    elif fault == "bytes":
        return b"\n".join(x.encode() for x in lines) + draw(st.sampled_from([b"\xff\xfe", b"\n# \xc3\x28"]))
    elif fault == "text":
        return draw(st.text(max_size=40))
    return "\n".join(lines) + "\n"


@given(text=config_text())
@examples(400)
def test_print_config(capsys, folder, text):
    path = put(folder, text, ".toml")
    status, out, _ = cli(capsys, ["run", "--print-config", "--config", path])
    if status == 0:  # what it prints is a configuration that reads back as the same one
        again = put(folder, out, ".toml")
        assert config.load(again) == config.load(path), out


# --- options -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def data_dirs(folder) -> dict[str, str]:
    """Data directories: missing, a file, empty, a store that is not one, a folder named as the
    store, a name too long for the file system, and one holding a submitted lab goal."""
    out = {name: str(folder / f"dir-{name}") for name in ("missing", "file", "empty", "junk", "folder", "lab")}
    out["long"] = str(folder / ("n" * 300) / "data")
    Path(out["file"]).write_text("x")
    Path(out["empty"]).mkdir()
    Path(out["junk"]).mkdir()
    Path(out["junk"], "store.sqlite").write_bytes(bytes(range(256)) * 8)
    Path(out["folder"], "store.sqlite").mkdir(parents=True)
    goal_file = put(folder, {"name": "lab-ar", "substrate": "N-BK7", "materials": ["SiO2", "TiO2"], "max_layers": 4,
                             "targets": [{"quantity": "R", "wavelength_nm": [500, 600], "points": 3,
                                          "relation": "<=", "value": 0.02}]})
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["submit", goal_file, "--data-dir", out["lab"], "--json"]) == 0
    return out


integer_text = st.one_of(st.integers(0, 3).map(str), st.integers(0, 3).map(str), st.integers(-3, 3).map(str),
                         st.sampled_from(["1e3", "x", "", "2**31", "99999999999999999999"]))
int_list = st.one_of(st.lists(st.integers(-1, 4), min_size=1, max_size=3).map(lambda v: ",".join(map(str, v))),
                     st.sampled_from(["", ",", "1,,2", "1.5", "a,b", " 1", "-0"]))


@given(name=st.one_of(*[st.sampled_from(LIBRARY)] * 4, st.sampled_from(["tio2", "TiO", "", "-x", "silver"]), TEXT),
       values=st.fixed_dictionaries({}, optional={"--wavelengths": wavelength_spec}), as_json=st.booleans())
@example(name="Ti\nO2", values={}, as_json=False)  # the error was two lines
@examples(200)
def test_materials(capsys, name, values, as_json):
    argv = ["materials", name, *options(values)] + (["--json"] if as_json else [])
    cli(capsys, argv, extra_names=("NAME",))


@given(values=st.fixed_dictionaries({"--budgets": st.one_of(st.sampled_from(["1", "2", "1,3"]), int_list)},
                                    optional={"--limit": st.one_of(st.just("1"), st.just("2"), integer_text),
                                              "--seed": integer_text,
                                              "--seeds": st.one_of(st.sampled_from(["0", "0,1"]), int_list),
                                              # gradient at a budget below 3 finds nothing: merit null
                                              "--methods": st.sampled_from(["random", "random", "nope", "",
                                                                            "random,random", "random,",
                                                                            "gradient"])}),
       config_file=st.one_of(st.none(), st.none(), st.none(), config_text()),
       goal_file=st.one_of(st.none(), st.none(), maybe_broken(goal())), as_json=st.booleans())
@example(values={"--budgets": "2"}, config_file=None, goal_file={**SMALL_GOAL, "thickness_nm": [0, 1e300]},
         as_json=True)  # the random designs' merit was NaN
@examples(60)
def test_bench(capsys, folder, values, config_file, goal_file, as_json):
    """bench with per-goal optimizers only (no checkpoint to serve); a method that finds no valid
    design within its budget (gradient below 3) reports merit null."""
    values.setdefault("--methods", "random")  # per-goal optimizers only: no checkpoint to serve
    values.setdefault("--limit", "1")
    limit = int(values["--limit"]) if values["--limit"].lstrip("-").isdigit() else 1
    budgets = [int(b) for b in values["--budgets"].split(",") if b.strip().lstrip("-").isdigit()]
    if limit > 2 or limit < 1 or max(budgets, default=0) > 4:  # keep every case fast
        values["--limit"] = "1"
    if config_file is not None:
        values["--config"] = put(folder, config_file, ".toml")
    goals = [] if goal_file is None else [put(folder, goal_file)]
    where = ["--data-dir", str(folder / "bench-data")]  # whatever runs, nothing is written to the working folder
    cli(capsys, ["bench", *goals, *options(values), *where] + (["--json"] if as_json else []))


@given(kind=st.sampled_from(["missing", "file", "empty", "junk", "folder", "long", "lab"]),
       command=st.sampled_from(["status", "designs"]), as_json=st.booleans())
@examples(28)
def test_data_dir(capsys, data_dirs, kind, command, as_json):
    cli(capsys, [command, "--data-dir", data_dirs[kind]] + (["--json"] if as_json else []))


def _propose_has_method() -> bool:
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    return any("--method" in a.option_strings for a in commands["propose"]._actions)


@pytest.mark.skipif(not _propose_has_method(), reason="propose has no --method")
@given(budget=st.sampled_from(["1", "3", "10", "1", "3", "10", "0", "-1", "1e3", "x", "", "2**31"]),  # no huge ones:
       # a budget is spent as given, and 99999999999999999999 evaluations take that long
       g=maybe_broken(goal()))
@examples(40)
def test_propose(capsys, folder, budget, g):
    argv = ["propose", put(folder, g), "--method", "random", "--budget", budget, "--json",
            "--data-dir", str(folder / "no-daemon")]
    cli(capsys, argv)


# --- feeds ---------------------------------------------------------------------------------------

ENTRY = """<entry><id>http://arxiv.org/abs/{id}v1</id><updated>{when}</updated><published>{when}</published>
<title>{title}</title><summary>{abstract}</summary><author><name>A. Author</name></author></entry>"""
FEED_HEAD = ('<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" '
             'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/"><opensearch:totalResults>{n}'
             '</opensearch:totalResults>')
number = st.one_of(st.integers(0, 3000).map(str), st.floats(0, 2000).map(lambda x: f"{x:.2f}"),
                   st.sampled_from(["9" * 400, "0", "1" + "0" * 310, "0.000", "00", "100.5"]))
phrase = st.one_of(
    st.builds("{} below {}% from {} to {} nm".format, st.sampled_from(["reflectance", "transmittance", "absorption",
                                                                     "R", "T"]), number, number, number),
    st.builds("an antireflection coating between {} and {} {}".format, number, number,
              st.sampled_from(["nm", "um", "µm", "microns"])),
    st.builds("a high-reflection mirror with R > {} % at {} nm at {} degrees".format, number, number, number),
    st.builds("{}-layer {} / {} stack on {} substrate with {} nm TiO2 ({} nm)".format, number,
              st.sampled_from(["SiO2", "TiO2", "HfO2", "Ag", "ZnS"]), st.sampled_from(["Ta2O5", "silver"]),
              st.sampled_from(["glass", "fused silica", "sapphire", "silicon"]), number, number),
    st.builds("absorber with absorptance above {}% over the visible at {} deg".format, number, number),
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=30))


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@st.composite
def feed_bytes(draw) -> bytes:
    """An arXiv Atom response: generated entries stating goals, the recorded feed cut or altered,
    or bytes."""
    kind = draw(st.sampled_from(["generated"] * 8 + ["cut", "altered", "bytes", "dtd"]))
    if kind == "bytes":
        return draw(st.binary(max_size=64))
    if kind in ("cut", "altered"):
        recorded = FEED.read_bytes() if FEED.exists() else (FEED_HEAD.format(n=1) + ENTRY.format(
            id="2401.00001", when="2024-01-02T03:04:05Z", title="AR coating", abstract="R below 1% from 400 to 700 nm")
            + "</feed>").encode()
        at = draw(st.integers(0, len(recorded)))
        if kind == "cut":
            return recorded[:at]
        return recorded[:at] + draw(st.sampled_from([b"<", b"&bogus;", b"\xff", b"]]>", b"<entry>"])) + recorded[at:]
    if kind == "dtd":
        return b'<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY a "aaaa">]><feed xmlns="http://www.w3.org/2005/Atom"/>'
    when = st.sampled_from(["2024-01-02T03:04:05Z"] * 8 + ["2024-01-02", "yesterday", ""])
    entries = [ENTRY.format(id=f"2401.{i:05d}", when=draw(when), title=_xml(draw(phrase)),
                            abstract=_xml(". ".join(draw(st.lists(phrase, min_size=1, max_size=4)))))
               for i in range(draw(st.integers(0, 3)))]
    return (FEED_HEAD.format(n=draw(st.sampled_from(["3"] * 8 + ["x", ""]))) + "".join(entries) + "</feed>").encode()


@given(body=feed_bytes(), as_json=st.booleans())
@examples(300)
def test_extract(capsys, folder, body, as_json):
    path = put(folder, body, ".xml")
    status, out, _ = cli(capsys, ["extract", path] + (["--json"] if as_json else []))
    if status == 0 and as_json:  # every goal a feed yields is one the goal parser takes
        from domains.photonics import goals as goals_mod

        for paper in json.loads(out):
            for g in paper["goals"]:
                goals_mod.parse(g, "extracted")


def test_a_spectrum_that_is_not_finite_is_never_scored_as_met():
    """Behind the commands: the merit of a design whose computed spectrum overflows (layers far
    beyond what a design or goal admits, 1e299 nm) is infinite, never 0 (solved)."""
    import jax.numpy as jnp
    import numpy as np

    from domains.photonics import goals as goals_mod, merit

    for relation in ("<=", ">=", "="):
        g = goals_mod.parse({**SMALL_GOAL, "targets": [{**SMALL_GOAL["targets"][0], "relation": relation}]})
        ev = merit.Evaluator(g)
        mats, d = np.zeros((2, ev.n_layers), np.int32), np.zeros((2, ev.n_layers))
        d[0, :2] = 1e299
        d[1, :2] = 100.0  # a sane design beside it keeps its own finite merit
        m = np.asarray(ev.merit(jnp.asarray(mats), jnp.asarray(d)))
        assert m[0] == np.inf and np.isfinite(m[1]), (relation, m)
        assert ev.score([g.design([(g.materials[0], 100.0)])])[0]["merit"] >= 0


def test_zz_case_count(metrics):
    """The number of command lines tried and failed (run last: the file's tests run in order)."""
    by_command = ", ".join(f"{c} exit {s}: {n}" for (c, s), n in sorted(OUTCOMES.items()))
    print(f"\nproperty cases: {STATS['cases']}, failures: {STATS['failures']} ({by_command})")
    metrics["property cases"] = f"{STATS['cases']}, failures: {STATS['failures']}"
    assert STATS["cases"] > 0
