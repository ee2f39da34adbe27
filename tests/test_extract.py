"""Goals and claims from papers: phrase rules, measured precision on real abstracts (read with
the arXiv feed's parser), claim checks, and `specialist extract`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from domains.photonics import extract as ex, goals, materials
from domains.photonics.plugin import PhotonicsDomain
from experiments import claims
from feeds.arxiv import parse_page
from specialist.store import Store

DATA = Path(__file__).parent / "data" / "arxiv"
FEED = DATA / "arxiv-optics-feed.xml"
LABELS = Path(__file__).parent / "data/extraction_labels.json"


def targets(text: str, title: str = "") -> list[tuple]:
    """(quantity, relation, value, [lo, hi], angle, polarization) of every extracted target."""
    found = ex.extract("2401.00001", title, text)
    return [(t["quantity"], t["relation"], t["value"], t["wavelength_nm"], t["angle_deg"], t["polarization"])
            for g in found["goals"] for t in g["targets"]]


# --- phrases ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, band", [
    ("The mirror reflectance exceeds 99.5% at 1.55 µm.", [1550.0, 1550.0]),
    ("The mirror reflectance exceeds 99.5% at 1.55 \u03bcm.", [1550.0, 1550.0]),
    ("The mirror reflectance exceeds 99.5% at 1550 nm.", [1550.0, 1550.0]),
    ("The reflectance is below 0.5% over 400\u2013700 nm.", [400.0, 700.0]),
    ("The reflectance is below 0.5% over 400-700nm.", [400.0, 700.0]),
    ("The reflectance is below 0.5% from 400 nm to 700 nm.", [400.0, 700.0]),
    ("The reflectance is below 0.5% between 400 and 700 nm.", [400.0, 700.0]),
    ("The reflectance is below 0.5% over 0.4\u20130.7 µm.", [400.0, 700.0]),
    ("The reflectance is below 0.5% across the visible spectrum.", [400.0, 700.0]),
])
def test_wavelengths_and_units(text, band):
    (t,) = targets(text)
    assert t[3] == band and t[0] == "R"


@pytest.mark.parametrize("text, expected", [
    ("Reflectance below 0.5% over 400-700 nm.", ("R", "<=", 0.005)),
    ("$R<0.5\\%$ over 400-700 nm.", ("R", "<=", 0.005)),
    ("Transmittance above 90% over 400-700 nm.", ("T", ">=", 0.9)),
    ("An over 94% average absorption over 450-1400 nm.", ("A", ">=", 0.94)),
    ("An average reflectance of 0.3% over 400-700 nm.", ("R", "<=", 0.003)),
    ("Absorptance of at least 95% at 1064 nm.", ("A", ">=", 0.95)),
])
def test_quantities_and_bounds(text, expected):
    (t,) = targets(text)
    assert t[:3] == expected


def test_average_is_kept_as_the_statistic():
    (goal,) = ex.extract("2401.00001", "", "An average reflectance below 0.5% over 400-700 nm.")["goals"]
    assert goal["provenance"]["statistic"] == "average" and goal["provenance"]["arxiv_id"] == "2401.00001"
    assert goal["name"] == "arxiv-2401.00001-1" and goal["targets"][0]["tolerance"] == 0.002


@pytest.mark.parametrize("text, device, expected", [
    ("We design an antireflection coating for 400-700 nm.", "antireflection", ("R", "<=", 0.01)),
    ("A Bragg reflector centered at 1550 nm is fabricated.", "mirror", ("R", ">=", 0.95)),
    ("A broadband absorber from 400 to 1000 nm is shown.", "absorber", ("A", ">=", 0.9)),
    ("A notch filter with transmittance below 1% at 532 nm.", "notch", ("T", "<=", 0.01)),
    ("A dichroic mirror with reflectance above 98% over 400-500 nm.", "dichroic", ("R", ">=", 0.98)),
])
def test_device_types(text, device, expected):
    (goal,) = ex.extract("2401.00001", "", text)["goals"]
    t = goal["targets"][0]
    assert goal["provenance"]["device"] == device and (t["quantity"], t["relation"], t["value"]) == expected


@pytest.mark.parametrize("text", [
    "A bandpass filter at 550 nm.",                                         # which band passes?
    "The coating reduces reflection by over 90% at 1550 nm.",               # a relative change
    "A 100 nm thick TiO2 layer has reflectance below 1%.",                  # a thickness, no band
    "The metasurface shows transmission above 90% at 1550 nm.",             # not a thin film
    "Our model reduces MAE by over 50% at 550 nm.",                         # no optical quantity
    "Reflectance below 1% at oblique incidence over 400-700 nm.",           # which angle?
    "An AR coating on a silicon substrate with reflectance below 1% at 1550 nm.",  # substrate unknown
    "A peak absorption of 99% over 400-700 nm.",                            # a peak, not a bound
    "The transmission efficiency of 90% at 1550 nm.",                       # an efficiency
    "Reflectance is reduced to 100% at 10 nm.",                             # no plausible wavelength
    "The AR coat covers 200-300 GHz with reflections between 0.2% and 0.6%.",  # millimetre waves
    "The measured absorption is 5% higher than at 1550 nm.",                 # a difference
    "Absorption above 90% in the near-infrared.",                           # no numbers for the band
    "An AR coating for silicon solar cells with reflectance below 2% over 400-1100 nm.",  # substrate?
])
def test_nothing_concrete_yields_nothing(text):
    assert ex.extract("2401.00001", "", text)["goals"] == []


def test_angle_polarization_materials_layers():
    found = ex.extract("2401.00001", "", "We report a 6-layer TiO2/SiO2 coating on fused silica with "
                       "reflectance below 1% at 45° for s-polarized light over 500-600 nm.")
    (goal,), (claim,) = found["goals"], found["claims"]
    t = goal["targets"][0]
    assert (t["angle_deg"], t["polarization"], goal["substrate"]) == (45.0, "s", "SiO2")
    assert goal["materials"] == ["TiO2", "SiO2"] and goal["max_layers"] == 6
    assert claim["layers"] == 6 and claim["design"] is None and claim["goal"] == goal
    unknown = ex.extract("2401.00001", "", "A ZnS/MgF2 stack on glass has reflectance below 1% at 550 nm.")["goals"]
    assert unknown[0]["materials"][:2] == ["SiO2", "TiO2"]  # ZnS is not in the library: defaults


def test_each_band_goes_to_its_nearest_bound():
    found = targets("We obtain transmittance over 80% in the visible and reflectance of 90% in the infrared.")
    assert found == [("T", ">=", 0.8, [400.0, 700.0], 0.0, "avg")]
    ranged = targets("Reflectance below 1% from 400 to 700 nm at incidence angles from 30 to 60 degrees.")
    assert [t[4] for t in ranged] == [30.0, 60.0]


def test_requirements_are_goals_but_not_claims():
    found = ex.extract("2401.00001", "", "The detector requires reflectance below 0.1% at 1064 nm.")
    assert len(found["goals"]) == 1 and found["claims"] == []


# --- real abstracts: precision and recall against hand labels ---------------------------------

def _matches(target: dict, label: dict) -> bool:
    lo, hi = target["wavelength_nm"]
    return (target["quantity"] == label["quantity"] and target["relation"] == label["relation"]
            and abs(target["value"] - label["value"]) <= 0.01
            and abs(lo - label["wavelength_nm"][0]) <= 0.02 * label["wavelength_nm"][0]
            and abs(hi - label["wavelength_nm"][1]) <= 0.02 * label["wavelength_nm"][1])


def test_precision_and_recall_on_real_abstracts(metrics):
    labels = {p["arxiv_id"]: p["goals"] for p in json.loads(LABELS.read_text())["papers"]}
    papers = parse_page(FEED.read_bytes(), str(FEED))[1]
    assert {p["arxiv_id"] for p in papers} == set(labels), "every paper of the feed is labelled"
    extracted = correct = found = 0
    for p in papers:
        goals_found = ex.extract(p["arxiv_id"], p["title"], p["abstract"])["goals"]
        extracted += len(goals_found)
        correct += sum(all(any(_matches(t, lab) for lab in labels[p["arxiv_id"]]) for t in g["targets"])
                       for g in goals_found)
        found += sum(any(_matches(t, lab) for g in goals_found for t in g["targets"])
                     for lab in labels[p["arxiv_id"]])
    labelled = sum(map(len, labels.values()))
    precision = correct / extracted if extracted else 1.0
    recall = found / labelled if labelled else 1.0
    metrics["extraction (real abstracts)"] = (f"{len(papers)} papers, {labelled} labelled goals, {extracted} "
                                              f"extracted, precision {precision:.2f}, recall {recall:.2f}")
    print(f"\nextraction on {FEED.name}: {metrics['extraction (real abstracts)']}")
    assert precision >= 0.9 and recall >= 0.3


# --- hostile input ----------------------------------------------------------------------------

_FRAGMENTS = ["reflectance", "transmittance", "absorption", "R <", "T>", "below", "above", "over", "of",
              "0.5%", "99.9%", "100%", "0%", "1e9%", "400-700 nm", "400\u2013700nm", "1.55 µm", "10 nm",
              "1550 nm", "between 300 and", "from 2 to 5 µm", "45°", "89.9 degrees", "TE", "TM",
              "visible", "antireflection", "Bragg reflector", "absorber", "6-layer", "10 pairs",
              "TiO2 (100 nm)/SiO2 (90 nm)", "100 nm Ag", "on glass substrate", "silicon substrate",
              "$\\%$", "\\mu m", "{", "}", "^\\circ", ".", ";", ",", "We demonstrate", "average",
              "metasurface", "\u2212", "9" * 40, "0.000000001 nm", "nan%", "-5 nm"]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_FRAGMENTS) | st.text(max_size=12), max_size=40).map(" ".join),
       st.text(max_size=60))
def test_fuzz_extraction_never_crashes_and_goals_parse(abstract, title):
    found = ex.extract("2401.00001", title, abstract)
    for goal in found["goals"]:
        parsed = goals.parse(goal, goal["name"])
        lo = min(t.wavelength_nm[0] for t in parsed.targets)
        hi = max(t.wavelength_nm[1] for t in parsed.targets)
        for m in (parsed.substrate, *parsed.materials):
            m.nk([lo, hi])  # raises outside the material's data
    for claim in found["claims"]:
        assert claim["goal"] in found["goals"] and len(claim["key"]) == 16
        if claim["design"]:
            assert all(layer["material"] in materials.library() for layer in claim["design"]["layers"])


@pytest.mark.parametrize("text", ["ab-" * 50000 + " x", "below 1% " * 5000 + "reflectance at 500 nm",
                                  "below 1% at 500 nm " * 5000, "a (" * 30000, "1-" * 50000 + "nm",
                                  "We report R < 1% at 500 nm with TiO2 (100 nm). " * 2000])
def test_long_hostile_abstracts_finish_quickly(text):
    start = time.perf_counter()
    ex.extract("2401.00001", text[:5000], text)
    assert time.perf_counter() - start < 10  # linear work: well under a second on a quiet core


# --- the domain, claims and the command -------------------------------------------------------

def test_from_record():
    d = PhotonicsDomain()
    assert d.from_record({"id": "x", "title": "", "abstract": ""}) == {"goals": [], "claims": [], "measurements": []}
    assert d.from_record({"kind": "result", "abstract": "Reflectance below 1% at 550 nm."})["goals"] == []
    found = d.from_record({"kind": "paper", "arxiv_id": "2401.00001", "title": "",
                           "abstract": "We measure reflectance below 1% at 550 nm."})
    assert len(found["goals"]) == 1 and len(found["claims"]) == 1 and found["measurements"] == []


def _claim(text: str) -> dict:
    (claim,) = ex.extract("2401.00001", "", text)["claims"]
    return claim


def test_check_stated_design_consistent_and_inconsistent():
    d = PhotonicsDomain()
    quarter_wave = "We demonstrate a single-layer MgF2 (99.6 nm) coating on glass substrate with reflectance"
    ok = claims.check(d, _claim(f"{quarter_wave} below 1.5% at 550 nm."))
    bad = claims.check(d, _claim(f"{quarter_wave} below 0.1% at 550 nm."))
    assert ok["verdict"] == "consistent" and bad["verdict"] == "inconsistent"
    assert bad["numbers"]["simulated"][0]["simulated"] == pytest.approx(0.0125, abs=0.001)  # ((1.52-1.38²)/(1.52+1.38²))²


def test_check_by_search_and_not_checkable():
    d = PhotonicsDomain()
    reached = claims.check(d, _claim("We obtain a 4-layer TiO2/SiO2 coating with reflectance below 0.5% at 550 nm."),
                           budget=150)
    assert reached["verdict"] == "consistent" and reached["numbers"]["evaluations"] <= 150
    vague = claims.check(d, _claim("We measure reflectance below 0.5% at 550 nm."))
    assert vague["verdict"] == "not checkable"


class _Stub:
    """A domain whose verifier returns a fixed merit (no optimizer, no curves)."""

    def __init__(self, merit):
        self.merit = merit

    def verify(self, goal, designs):
        return [{"merit": self.merit, "solved": self.merit <= 1.0} for _ in designs]


def test_check_pending_writes_verdicts_back(tmp_path):
    store = Store(tmp_path / "store.sqlite")
    design_claim = _claim("We report TiO2 (60 nm)/SiO2 (90 nm) on glass with reflectance below 1% at 550 nm.")
    assert _claim("We report TiO2 (60 nm)/SiO2 (90 nm) with reflectance below 1% at 550 nm.")["design"] is None
    vague = _claim("We measure reflectance below 0.5% at 550 nm.")
    assert design_claim["design"]["layers"][1] == {"material": "SiO2", "thickness_nm": 90.0}
    store.put_many([("claims", {"key": c["key"], "arxiv_id": c["arxiv_id"], "body": c, "verdict": "pending",
                                "detail": {}}) for c in (design_claim, vague)])
    assert claims.check_pending(_Stub(3.0), store, limit=5) == {"checked": 2, "inconsistent": 1}
    assert store.get("claims", design_claim["key"])["verdict"] == "inconsistent"
    assert store.get("claims", vague["key"])["verdict"] == "not checkable"
    assert claims.check_pending(_Stub(3.0), store) == {"checked": 0, "inconsistent": 0}


def test_extract_command_json(capsys):
    from specialist.cli import main

    assert main(["extract", str(FEED), "--json"]) == 0
    docs = json.loads(capsys.readouterr().out)
    assert len(docs) == 29 and all(set(d) == {"paper", "goals", "claims"} for d in docs)
    assert main(["extract", str(FEED)]) == 0 and "29 papers" in capsys.readouterr().out


def test_ingest_command_stores_a_feed_file_once_and_keeps_checked_claims(tmp_path, capsys):
    from specialist.cli import main

    data = tmp_path / "data"
    assert main(["ingest", str(FEED), "--data-dir", str(data), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    (entry,) = doc["files"]
    assert entry["status"] == "stored" and entry["papers"] == 29 and entry["goals"] >= 1
    assert (doc["stored"], doc["duplicates"], doc["rejected"]) == (1, 0, 0)  # the summary counts the feed file
    store = Store(data / "store.sqlite")
    assert store.count("papers") == 29 and store.count("goals") == entry["goals"]
    assert entry["claims"] >= 1 and store.count("claims") == entry["claims"]
    key = next(store.rows("claims"))["key"]  # a checked claim stays checked when the paper comes again
    store.put("claims", {**store.get("claims", key), "verdict": "consistent"})
    assert main(["ingest", str(FEED), "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    assert "0 files stored, 1 already stored" in out and "29 papers" in out and "duplicate" in out
    assert store.get("claims", key)["verdict"] == "consistent"
    (tmp_path / "broken.xml").write_text("<feed")
    assert main(["ingest", str(tmp_path / "broken.xml"), "--data-dir", str(data)]) == 2
    assert "broken.xml" in capsys.readouterr().err
