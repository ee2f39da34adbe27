"""Goals and claims stated in papers: what an abstract asks of a coating, or says one achieves.

    found = extract(p["arxiv_id"], p["title"], p["abstract"])   # p: a paper of feeds.arxiv.parse_page
    found["goals"]     # goal JSON, one per sentence stating a concrete spectral requirement
    found["claims"]    # {"key", "arxiv_id", "text", "goal", "design", "materials", "layers"}

Precision comes before recall: a wrong goal costs training time, a missed one little. A sentence
yields a goal only when it states a wavelength band or point AND either a quantity (R, T, A)
with a numeric bound, or a device whose meaning over that band is unambiguous (antireflection,
high reflector, absorber: default bounds below). Sentences about structures a thin-film stack
cannot be (metasurfaces, gratings, waveguides, ...), relative changes ("reduced by 50 %"), peak
values over a band, oblique incidence without an angle, and substrates outside the library all
yield nothing. Materials outside the library leave the default material set.

The module is longer than the house limit: a hundred lines of phrase tables and the rules that
read them belong to the same contract (a paper in, goals and claims out), and splitting them
would scatter the rules a reader checks against each other.
"""

from __future__ import annotations

import hashlib
import re

from domains.photonics import goals as goals_mod, materials as lib
from specialist.domain import goal_hash

# Library materials by the names papers use for them (lower case).
_NAMES = {"sio2": "SiO2", "silica": "SiO2", "silicon dioxide": "SiO2", "tio2": "TiO2",
          "titania": "TiO2", "titanium dioxide": "TiO2", "ta2o5": "Ta2O5", "tantala": "Ta2O5",
          "tantalum pentoxide": "Ta2O5", "nb2o5": "Nb2O5", "niobia": "Nb2O5", "mgf2": "MgF2",
          "magnesium fluoride": "MgF2", "al2o3": "Al2O3", "alumina": "Al2O3", "hfo2": "HfO2",
          "hafnia": "HfO2", "si3n4": "Si3N4", "silicon nitride": "Si3N4", "a-si": "a-Si",
          "amorphous silicon": "a-Si", "ag": "Ag", "silver": "Ag", "au": "Au", "gold": "Au",
          "al": "Al", "aluminum": "Al", "aluminium": "Al", "cr": "Cr", "chromium": "Cr"}
# Coating materials the library lacks; naming one means the stated stack cannot be rebuilt.
# Bare "Si" is here: the library holds only amorphous silicon, whose index differs from c-Si.
_UNKNOWN = ("si", "silicon", "germanium", "ge", "manganese", "mn", "tungsten", "titanium", "ti",
            "nickel", "ni", "copper", "cu", "platinum", "pt", "ito", "graphene", "vo2", "zns",
            "znse", "gaas", "zro2", "sc2o3", "y2o3", "caf2", "laf3", "ybf3", "gst", "tin", "mos2")
_MATERIAL = re.compile(r"(?<![\w-])(" + "|".join(sorted(map(re.escape, {*_NAMES, *_UNKNOWN}), key=len,
                       reverse=True)) + r")(?![\w-])", re.I)
_SUBSTRATES = {"glass": "N-BK7", "bk7": "N-BK7", "n-bk7": "N-BK7", "fused silica": "SiO2",
               "quartz": "SiO2", "sapphire": "Al2O3"}
_SUBSTRATE = re.compile(r"(?<![\w-])([\w-]+(?:\s+silica)?)\s+substrates?\b|\b(?:on|onto)\s+(?:an?\s+|the\s+)?"
                        r"(fused silica|n-bk7|bk7|glass|quartz|sapphire|silicon|germanium)"
                        r"(?![\w-]|\s+(?:nitride|dioxide))", re.I)
_DEFAULT_MATERIALS = ("SiO2", "TiO2", "Al2O3", "MgF2", "HfO2")
_ABSORBING = ("Cr", "Ag", "Al")  # added for absorptance goals: a lossless stack absorbs nothing
_DEVICES = {"antireflection": r"anti-?reflecti\w*|\bAR coat\w*",
            "mirror": r"Bragg (?:reflector|mirror)s?|\bDBRs?\b|high[- ]reflect\w*|dielectric mirrors?",
            "bandpass": r"band-?pass", "notch": r"\bnotch|band-?stop",
            "edge": r"(?:long|short)-?pass|edge filters?|cut-?(?:off|on) filters?",
            "dichroic": r"dichroic", "absorber": r"absorbers?\b|perfect absorption"}
# Bounds a device implies when its band is stated and its bound is not (lab defaults).
_DEVICE_DEFAULTS = {"antireflection": ("R", "<=", 0.01), "mirror": ("R", ">=", 0.95),
                    "absorber": ("A", ">=", 0.9)}
_NOT_A_STACK = re.compile(r"metasurface|metalens|meta-atom|grating|nanoparticle|nanowire|nanopillar|"
                          r"nanoantenna|photonic crystal|waveguide|\bfib(?:er|re)|resonator|lattice", re.I)
# Words in any case; the symbols R, T and A only in capitals right before a relation.
_QUANTITY = {q: re.compile(rf"(?i:{words})|\b{q}(?:_?avg|_?ave)?(?=\s*[<>≤≥=])") for q, words in (
    ("R", r"reflectance|reflectivit(?:y|ies)|reflections?"),
    ("T", r"transmittance|transmissivity|transmissions?"),
    ("A", r"absorptance|absorptivity|absorption"))}
_NUM = r"(\d+(?:\.\d+)?)"
_UNIT = r"(nm|µm|um|microns?|micrometers?|micrometres?)(?![A-Za-z])"
_BAND = re.compile(rf"(?<![\w.,])(?:between\s+{_NUM}\s*(?:{_UNIT})?\s*and|{_NUM}\s*(?:{_UNIT})?\s*(?:-|to))"
                   rf"\s*{_NUM}\s*{_UNIT}")
_POINT = re.compile(rf"(?<![\w.,]){_NUM}\s*-?\s*{_UNIT}")
_VISIBLE = re.compile(r"\b(?:in|across|over|throughout|for)\s+the\s+(?:entire\s+|whole\s+|full\s+)?visible\b"
                      r"|\bvisible\s+(?:range|spectrum|region|band|wavelengths?|light)\b", re.I)
# Regions named without numbers: a bound next to one belongs to no band the goal could state.
_REGION = re.compile(r"\b(?:(?:near|mid|far|short-wave|long-wave)[- ]?)?(?:infrared|ultraviolet)\b"
                     r"|\b(?:NIR|MIR|SWIR|LWIR|IR|UV|THz|terahertz|microwaves?|millimet(?:er|re)[- ]waves?)\b")
_NOT_WAVELENGTH = re.compile(r"thick|period|pitch|diameter|radius|width|height|spacing|bandwidth|"
                             r"FWHM|resolution|roughness|size|gap|spacer|shift|deviation|step", re.I)
_BOUND = re.compile(r"(?P<word>(?<!\w)(?:below|less than|lower than|under|smaller than|not exceeding|at most|"
                    r"no more than|above|over|more than|greater than|higher than|exceeding|exceeds?|"
                    r"at least|in excess of|of|is|was|were|reaching|reaches|reached)|<=|>=|[<>≤≥=])"
                    rf"\s*(?:about|approximately|only|just|~)?\s*{_NUM}\s*%", re.I)
_LE = {"below", "less than", "lower than", "under", "smaller than", "not exceeding", "at most",
       "no more than", "<", "<=", "≤"}
_GE = {"above", "over", "more than", "greater than", "higher than", "exceeding", "exceed",
       "exceeds", "at least", "in excess of", ">", ">=", "≥"}
_ANGLE = re.compile(r"(?:(up to|within ±?|±)|(?<![\w.])(\d+(?:\.\d+)?)\s*(?:°|degrees?)?\s*(?:-|to))?\s*"
                    r"(?<![\w.])(\d+(?:\.\d+)?)\s*(?:°(?!\s*[CFK]\b)|degrees?\b(?!\s*(?:C|Celsius|F)\b)|deg\b)",
                    re.I)
# Words after a percentage that make it a difference, not a level ("5 % higher than").
_AFTER_VETO = re.compile(r"\s*(?:higher|lower|more|less|better|worse|larger|smaller|greater|improvement|"
                         r"increase|decrease|reduction|enhancement|relative|points?)\b", re.I)
_BETWEEN_VETO = re.compile(r"\bby\b|efficien|contrast|ratio|change|loss|error|improve|enhance|increas|"
                           r"reduc|decreas|modulat|differen|uniformity|yield|\d", re.I)
_COUNT_WORDS = {"single": 1, "one": 1, "bi": 2, "two": 2, "double": 2, "tri": 3, "three": 3,
                "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
                "eleven": 11, "twelve": 12, "twenty": 20}
_LAYERS = re.compile(r"\b(\d+|" + "|".join(_COUNT_WORDS) + r")[- ]?(layers?|pairs?|periods?)\b", re.I)
_STACK_LAYER = re.compile(rf"(?<![\w-])([A-Za-z][\w-]*)\s*\(\s*{_NUM}\s*nm\s*\)|(?<![\w.]){_NUM}\s*-?nm"
                          r"(?:-thick)?\s+([A-Za-z][\w-]*)")
_CLAIM_WORDS = re.compile(r"\b(?:we|our|achiev|demonstrat|obtain|measur|show|exhibit|realiz|report|"
                          r"fabricat|reach|yield|experimental)\w*", re.I)
_FOREIGN = re.compile(r"solar cells?|photovoltaic|photodiodes?|\bLEDs?\b|wafers?", re.I)
# Longer "sentences" are not prose (tables, run-on junk); skipping them keeps the pairing of bounds
# and bands, quadratic within a sentence, bounded.
_MAX_SENTENCE = 1500
_REQUIREMENT_WORDS = re.compile(r"\b(?:requir|need|must|should|demand|specif|target)\w*", re.I)


def extract(arxiv_id: str, title: str, abstract: str) -> dict[str, list[dict]]:
    """Goals and claims a paper states (see the module docstring for what counts).

    Args:
        arxiv_id: the paper's id without version; goal names derive from it.
        title: the title.
        abstract: the abstract (LaTeX fragments are tolerated).

    Returns:
        {"goals": [goal JSON, ...], "claims": [claim dict, ...]}; every goal parses with
        ``goals.parse``.
    """
    title, abstract = _clean(title), _clean(abstract)
    if _NOT_A_STACK.search(title) and not re.search(r"thin[- ]film|multilayer|coating", title, re.I):
        return {"goals": [], "claims": []}
    context = _context(abstract)
    found_goals, claims, seen = [], [], set()
    for sentence in [title, *_sentences(abstract)]:
        goal = _goal(sentence, context, f"arxiv-{arxiv_id.replace('/', '-')}-{len(found_goals) + 1}")
        if goal is None or goal_hash(goal) in seen:
            continue
        seen.add(goal_hash(goal))
        goal["provenance"]["arxiv_id"] = arxiv_id
        found_goals.append(goal)
        if _CLAIM_WORDS.search(sentence) and not _REQUIREMENT_WORDS.search(sentence):
            claims.append(_claim(arxiv_id, sentence, goal, context))
    return {"goals": found_goals, "claims": claims}


def _clean(text: str) -> str:
    """Plain text: unicode dashes and LaTeX fragments reduced to what the patterns read."""
    text = text.translate(dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2212"), "-"))
    text = text.replace("\u03bc", "µ").replace("\\%", "%").replace("$", "").replace("~", " ")
    text = re.sub(r"\^\s*\{?\\circ\}?", "°", text)
    text = re.sub(r"\\(?:mu|textmu)\b\s*", "µ", text)
    text = re.sub(r"\\(?:le|leq)\b", "≤", re.sub(r"\\(?:ge|geq)\b", "≥", text))
    text = re.sub(r"\\(?:sim|approx)\b", "about", text)
    text = re.sub(r"[{}^]", "", re.sub(r"\\[A-Za-z]+|\\[,;:! ]", " ", text))
    return " ".join(text.split())


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?;])\s+(?=[A-Z0-9(])", text) if s]


def _context(abstract: str) -> dict:
    """Paper-wide facts a sentence may lean on: materials, layer counts, substrate."""
    counts = {c for c in (_count(m) for m in _LAYERS.finditer(abstract)) if c}
    named = _materials(abstract)
    return {"materials": named, "layers": counts.pop() if len(counts) == 1 else None,
            "substrate": _substrate(abstract), "device": _device(abstract),
            # A coating may be meant for something outside the library (a silicon cell, a Ge lens).
            "foreign": any(n not in lib.library() for n in named) or bool(_FOREIGN.search(abstract))}


def _materials(text: str) -> list[str]:
    """Names of the materials a text names: library names where known, as written otherwise."""
    out: list[str] = []
    for m in _MATERIAL.finditer(text):
        word = m.group(1)
        if word.lower() in ("al", "au", "ag", "cr", "ti", "ni", "cu", "pt", "mn", "ge", "si", "tin") \
                and not word[0].isupper():
            continue  # "al" in "et al", "tin" as a word: elements count only as symbols or names
        name = _NAMES.get(word.lower(), word)
        if name not in out:
            out.append(name)
    return out


def _device(text: str) -> str | None:
    """The one kind of device a text names, or None (none, or several)."""
    kinds = [d for d, pattern in _DEVICES.items() if re.search(pattern, text, re.I)]
    return kinds[0] if len(kinds) == 1 else None


def _substrate(text: str) -> str | None:
    """The library substrate named, "" for one outside the library, None if none is named."""
    for m in _SUBSTRATE.finditer(text):
        word = (m.group(1) or m.group(2)).lower()
        if word in _SUBSTRATES or word in _NAMES:
            return _SUBSTRATES.get(word) or _NAMES[word]
        if word in _UNKNOWN:
            return ""
    return None  # "the substrate", "a thick substrate": named by no material


def _count(m: re.Match) -> int | None:
    word = m.group(1).lower()
    n = int(word) if word.isdigit() else _COUNT_WORDS.get(word)
    if n is None or not 1 <= n <= 200:
        return None
    return 2 * n if m.group(2).lower().startswith(("pair", "period")) and n <= 100 else n


def _goal(sentence: str, context: dict, name: str) -> dict | None:
    """The goal a sentence states, or None when it states nothing concrete."""
    if len(sentence) > _MAX_SENTENCE or _NOT_A_STACK.search(sentence):
        return None
    bands = _bands(sentence)
    angles, pols = _angles(sentence), _polarizations(sentence)
    if not bands or angles is None:
        return None
    bounds = _bounds(sentence, bands) or _device_bound(sentence, bands)
    if not bounds:
        return None
    device = _device(sentence) or context["device"]
    targets = [_target(q, rel, v, band, angle, pol) for q, rel, v, band, _ in bounds
               for angle in angles for pol in pols]
    statistic = "average" if any(b[4] == "average" for b in bounds) else bounds[0][4]
    return _assemble(name, targets, sentence, context, device, statistic)


def _bands(sentence: str) -> list[tuple[int, int, tuple[float, float]]]:
    """(start, end, (lo, hi) nm) of each wavelength band or point; thicknesses and such excluded."""
    out = []
    for m in _BAND.finditer(sentence):
        a, b = float(m.group(1) or m.group(3)), float(m.group(5))
        unit_a, unit_b = m.group(2) or m.group(4) or m.group(6), m.group(6)
        out.append((m.start(), m.end(), (a * _scale(unit_a), b * _scale(unit_b))))
    for m in _POINT.finditer(sentence):
        if not any(s <= m.start() < e for s, e, _ in out) and _is_point(sentence, m):
            out.append((m.start(), m.end(), (float(m.group(1)) * _scale(m.group(2)),) * 2))
    out += [(m.start(), m.end(), (400.0, 700.0)) for m in _VISIBLE.finditer(sentence)]
    out = [(s, e, wl) for s, e, wl in out if 150 <= wl[0] <= wl[1] <= 30000 and wl[1] <= 20 * wl[0]
           and not _not_wavelength(sentence, s, e)]
    # A region named beside numbers ("near-infrared (800-1600 nm)") only labels them.
    return out + [(m.start(), m.end(), None) for m in _REGION.finditer(sentence)
                  if all(_gap((m.start(), m.end()), (s, e)) > 20 for s, e, _ in out)]


def _gap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return max(b[0] - a[1], a[0] - b[1], 0)


def _scale(unit: str) -> float:
    return 1.0 if unit.lower() == "nm" else 1000.0


def _is_point(sentence: str, m: re.Match) -> bool:
    """A lone length is a wavelength only where the words around it say so."""
    before, after = sentence[max(0, m.start() - 25):m.start()], sentence[m.end():m.end() + 25]
    return bool(re.search(r"\b(?:at|around|near|cent(?:er|re)d at|wavelengths? of|λ\s*=?)\s*$", before, re.I)
                or re.match(r"\s*(?:wavelength|light|laser|band|region|range|radiation)", after, re.I))


def _not_wavelength(sentence: str, start: int, end: int) -> bool:
    before = re.split(r"\d", sentence[max(0, start - 30):start])[-1]
    after = sentence[end:end + 12]
    return bool(_NOT_WAVELENGTH.search(before) or re.match(r"\s*-?\s*(?:thick|layer|film|spacer|gap|period)",
                                                           after, re.I))


def _angles(sentence: str) -> list[float] | None:
    """Angles of incidence a sentence states ([0] when none; both ends of a range); None when it
    is unclear which."""
    found = set()
    for m in _ANGLE.finditer(sentence):
        hi = float(m.group(3))
        lo = float(m.group(2)) if m.group(2) else 0.0 if m.group(1) else hi
        found.add((lo, hi))
    found = {a for a in found if 0 <= a[0] <= a[1] < 90}
    if not found:
        return None if re.search(r"oblique", sentence, re.I) else [0.0]
    if len(found) > 1:
        return None
    return sorted(set(found.pop()))


def _polarizations(sentence: str) -> list[str]:
    s = re.search(r"\bTE\b|\bs-polari[sz]", sentence)
    p = re.search(r"\bTM\b|\bp-polari[sz]", sentence)
    return ["s", "p"] if s and p else ["s"] if s else ["p"] if p else ["avg"]


def _bounds(sentence: str, bands: list) -> list[tuple[str, str, float, tuple, str]]:
    """(quantity, relation, value, band, statistic) for each numeric bound next to a quantity.

    Each band goes to the bound nearest to it, so "T above 80 % in the visible and R of 90 % in
    the infrared" never lends the visible band to the reflectance.
    """
    found = []
    for m in _BOUND.finditer(sentence):
        if re.search(r"\bby\s*$", sentence[:m.start()], re.I) or _AFTER_VETO.match(sentence, m.end()):
            continue  # "reduced by over 90 %", "5 % higher": a relative change, not a level
        quantity = _quantity_near(sentence, m, bands)
        relation = _relation(m.group("word").lower(), float(m.group(2)) / 100)
        if quantity is not None and relation is not None:
            found.append((m, quantity, relation))
    owner = [min(range(len(found)), key=lambda j: _gap((s, e), found[j][0].span())) for s, e, _ in bands] \
        if found else []
    out = []
    for j, (m, quantity, relation) in enumerate(found):
        band = _nearest([b for b, o in zip(bands, owner) if o == j], m)
        if band is None:
            continue
        window = sentence[max(0, min(quantity[1], m.start()) - 25):max(quantity[2], m.end()) + 25]
        if re.search(r"\b(?:peak|maximum|max|minimum|min)\b", window, re.I) and band[0] != band[1]:
            continue  # a peak value says nothing about the rest of the band
        statistic = "average" if re.search(r"averag|\bmean\b|_avg|_ave|solar|integrated|weighted", window,
                                           re.I) else "bound"
        out.append((quantity[0], relation, float(m.group(2)) / 100, band, statistic))
    return out


def _quantity_near(sentence: str, bound: re.Match, bands: list) -> tuple[str, int, int] | None:
    """The quantity a bound belongs to: the nearest one within a few words, nothing between."""
    best = None
    for q, pattern in _QUANTITY.items():
        for m in pattern.finditer(sentence):
            lo, hi = (m.end(), bound.start()) if m.end() <= bound.start() else (bound.end(), m.start())
            if hi < lo or hi - lo > 120:  # "a few words", even with a band between
                continue
            between = sentence[lo:hi]
            for s, e, _ in bands:  # a band may sit between quantity and bound
                between = between.replace(sentence[s:e], " band ")
            if len(between.split()) > 8 or _BETWEEN_VETO.search(between) or "," in between:
                continue
            if best is None or hi - lo < best[3]:
                best = (q, m.start(), m.end(), hi - lo)
    return None if best is None else best[:3]


def _relation(word: str, value: float) -> str | None:
    if not 0 < value < 1:
        return None  # 0 % and 100 % are limits, not bounds a design is held to
    if word in _LE:
        return "<="
    if word in _GE:
        return ">="
    # "a reflectance of 0.3 %" states a level; low levels are ceilings, high ones floors.
    return "<=" if value <= 0.1 else ">=" if value >= 0.9 else None


def _nearest(bands: list, m: re.Match) -> tuple[float, float] | None:
    """The band nearest a bound; None if none, if a numberless region is nearest, or on a tie."""
    dist = sorted(((_gap((s, e), m.span()), i) for i, (s, e, _) in enumerate(bands)))
    if not dist or (len(dist) > 1 and dist[0][0] == dist[1][0] and bands[dist[0][1]][2] != bands[dist[1][1]][2]):
        return None
    return bands[dist[0][1]][2]


def _device_bound(sentence: str, bands: list) -> list[tuple[str, str, float, tuple, str]]:
    """The default bound of a device named with its band, when no numeric bound is stated."""
    kinds = [d for d in _DEVICE_DEFAULTS if re.search(_DEVICES[d], sentence, re.I)]
    if len(kinds) != 1 or len({wl for _, _, wl in bands}) != 1 or bands[0][2] is None:
        return []
    q, rel, value = _DEVICE_DEFAULTS[kinds[0]]
    return [(q, rel, value, bands[0][2], "default")]


def _target(q: str, relation: str, value: float, band: tuple, angle: float, pol: str) -> dict:
    lo, hi = band
    return {"quantity": q, "polarization": pol, "angle_deg": angle,
            "wavelength_nm": [lo, hi], "points": 1 if lo == hi else 31, "relation": relation,
            "value": round(value, 6), "tolerance": round(min(0.02, max(0.001, 0.4 * min(value, 1 - value))), 6),
            "weight": 1.0}


def _assemble(name: str, targets: list[dict], sentence: str, context: dict, device: str | None,
              statistic: str) -> dict | None:
    """The goal JSON for targets, with materials and substrate valid over its wavelengths."""
    lo = min(t["wavelength_nm"][0] for t in targets)
    hi = max(t["wavelength_nm"][1] for t in targets)
    substrate = _substrate(sentence) or context["substrate"]
    if substrate == "" or (substrate is None and context["foreign"]
                           and any(t["quantity"] != "A" for t in targets)):
        return None  # R and T depend on the substrate, and it may be one outside the library
    valid = lambda m: lib.library()[m].valid_nm[0] <= lo and hi <= lib.library()[m].valid_nm[1]
    named = _materials(sentence) or context["materials"]
    count = _layer_count(sentence) or context["layers"]
    if named and all(n in lib.library() for n in named) and all(valid(n) for n in named):
        mats = named
    else:  # a stated layer count belongs to the stated materials, so it goes with them
        count = None
        extra = _ABSORBING if any(t["quantity"] == "A" and t["relation"] != "<=" for t in targets) else ()
        mats = [m for m in (*_DEFAULT_MATERIALS, *extra) if valid(m)]
    substrate = substrate or next((s for s in ("N-BK7", "SiO2") if valid(s)), None)
    if len(mats) < 1 or substrate is None or not valid(substrate) or not valid("air"):
        return None
    goal = {"name": name, "domain": "photonics", "incident": "air", "substrate": substrate,
            "materials": mats, "max_layers": count or (30 if device == "mirror" else 20),
            "thickness_nm": [5, max(500, round(hi / 2))], "max_total_thickness_nm": None,
            "targets": targets, "solved_below": 1.0,
            "provenance": {"family": "paper", "sentence": sentence, "device": device, "statistic": statistic}}
    goals_mod.parse(goal, name)  # a bug here must surface, never reach the store
    return goal


def _layer_count(sentence: str) -> int | None:
    counts = {c for c in (_count(m) for m in _LAYERS.finditer(sentence)) if c}
    if re.search(r"\bbi-?layer", sentence, re.I):
        counts.add(2)
    if re.search(r"\btri-?layer", sentence, re.I):
        counts.add(3)
    return counts.pop() if len(counts) == 1 else None


def _claim(arxiv_id: str, sentence: str, goal: dict, context: dict) -> dict:
    """A performance claim: the sentence, its goal, and the design if fully stated."""
    named = _materials(sentence) or context["materials"]
    layers = _layer_count(sentence) or context["layers"]
    # Without a named substrate the design's spectrum is unknown: a default one could make a
    # correct paper look inconsistent.
    stated = _substrate(sentence) or context["substrate"]
    return {"key": hashlib.sha256(f"{arxiv_id}\n{sentence}".encode()).hexdigest()[:16],
            "arxiv_id": arxiv_id, "text": sentence, "goal": goal,
            "design": _design(sentence, goal, layers) if stated else None, "materials": named, "layers": layers}


def _design(sentence: str, goal: dict, layers: int | None) -> dict | None:
    """The design a sentence spells out layer by layer (material and thickness), else None."""
    stack = []
    for m in _STACK_LAYER.finditer(sentence):
        word, nm = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
        if word.lower() in _UNKNOWN:
            return None  # one layer outside the library and the stack cannot be rebuilt
        name = _NAMES.get(word.lower())
        if name is None or not 0 < float(nm) <= 100000:
            continue  # "700 nm with", "5 nm thickness": a length, not a layer
        stack.append({"material": name, "thickness_nm": float(nm)})
    if not stack or (layers is not None and layers != len(stack)):
        return None
    return {"incident": "air", "substrate": goal["substrate"], "layers": stack}
