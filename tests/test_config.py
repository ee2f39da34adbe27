"""The TOML configuration: defaults without a file, documented fields, clear errors."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from specialist import config
from specialist.errors import InputError

README = Path(__file__).parent.parent / "README.md"


def test_defaults_without_a_file_and_round_trip_through_toml(tmp_path):
    cfg = config.load()
    path = tmp_path / "specialist.toml"
    path.write_text(config.to_toml(cfg))
    assert config.load(str(path)) == cfg
    assert tomllib.loads(config.to_toml(cfg))["daemon"]["domain"] == "photonics"


def test_a_file_sets_only_what_it_names(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[daemon]\ngroup = 4\n[learner]\nlearning_rate = 1\n")
    cfg = config.load(str(path))
    assert cfg.daemon.group == 4 and cfg.learner.learning_rate == 1.0
    assert cfg.model == config.ModelConfig()


@pytest.mark.parametrize("text, field, allowed", [
    ("[daemon]\ngroups = 4\n", "daemon.groups", "allowed: domain, seed"),
    ("[deamon]\n", "deamon", "allowed: daemon, model"),
    ("[daemon]\ngroup = 'four'\n", "daemon.group", "allowed: a int"),
    ("[daemon]\ngroup = 0\n", "daemon.group", "> 0"),
    ("[model]\nwidth = 100\nheads = 3\n", "model.heads", "divisor"),
    ("daemon = 3\n", "daemon", "table"),
    ("[feeds.arxiv]\npage_size = 500\n", "feeds.arxiv.page_size", "1 to 100"),
    ("[feeds.arxiv]\nsort_by = 'random'\n", "feeds.arxiv.sort_by", "lastUpdatedDate"),
    ("[feeds.arxiv]\nquery = 3\n", "feeds.arxiv.query", "allowed: a str"),
    ("[feeds.arxiv]\nspeed = 3\n", "feeds.arxiv.speed", "allowed: enabled, query"),
    ("[feeds]\narxiv_timeout_s = 0\n", "feeds.arxiv.timeout_s", "> 0"),
    ("[model]\nvocab_size = 9\n", "model.vocab_size", "allowed: width, layers"),
])
def test_bad_fields_name_the_file_the_field_and_what_is_allowed(tmp_path, text, field, allowed):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        config.load(str(path))
    assert err.value.source == str(path) and err.value.field == field and allowed in str(err.value)


def test_unreadable_and_malformed_files(tmp_path):
    with pytest.raises(InputError, match="cannot be read"):
        config.load(str(tmp_path / "missing.toml"))
    (tmp_path / "broken.toml").write_text("[daemon\n")
    with pytest.raises(InputError, match="not valid TOML"):
        config.load(str(tmp_path / "broken.toml"))


def test_every_field_is_documented_here_and_in_the_readme():
    readme = README.read_text()

    def walk(prefix: str, part) -> int:
        n = 0
        for f in config._documented(part):
            value = getattr(part, f.name)
            if dataclasses.is_dataclass(value):
                n += walk(f"{prefix}{f.name}.", value)
            else:
                assert f.metadata.get("doc"), f"{prefix}{f.name} has no documentation"
                assert f"`{prefix}{f.name}`" in readme, f"README does not document {prefix}{f.name}"
                n += 1
        return n

    assert walk("", config.Config()) > 60


def test_the_arxiv_feed_is_a_nested_section_and_earlier_flat_names_still_read(tmp_path):
    nested, flat = tmp_path / "nested.toml", tmp_path / "flat.toml"
    nested.write_text('[feeds.arxiv]\nenabled = false\nquery = "cat:physics.optics"\ndelay_s = 5\n')
    flat.write_text('[feeds]\narxiv = false\narxiv_query = "cat:physics.optics"\narxiv_delay_s = 5\n')
    for path in (nested, flat):
        a = config.load(str(path)).feeds.arxiv
        assert (a.enabled, a.query, a.delay_s, a.max_results) == (False, "cat:physics.optics", 5.0, 200)
    assert "[feeds.arxiv]" in config.to_toml() and "arxiv_" not in config.to_toml()
    assert config.load(str(nested)) == config.load(str(flat))
    assert config.as_params(config.Config())["feeds.arxiv.delay_s"] == "3.0"


def test_one_model_config_takes_its_size_from_the_file_and_its_shape_from_the_domain():
    from specialist.domain import Spec
    from specialist.model import ModelConfig

    assert ModelConfig is config.ModelConfig
    cfg = config.load(None, {"model": {"width": 64}}).model.for_domain(Spec("x", 11, 7, 5))
    assert (cfg.vocab_size, cfg.max_tokens, cfg.cond_dim, cfg.width, cfg.layers) == (11, 7, 5, 64, 4)


def test_skipped_families_are_checked_against_the_families_a_domain_names(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[daemon]\nskip_families = "b, x, y"\n')
    cfg = config.load(str(path))  # the file alone cannot tell: only the domain knows its families
    config.check_families(config.load(None, {"daemon": {"skip_families": "a,b"}}), ("a", "b"), "c")
    with pytest.raises(InputError) as err:
        config.check_families(cfg, ("a", "b"), str(path))
    assert str(err.value) == (f"{path}: field 'daemon.skip_families' names 'x', 'y', which are not goal families of "
                              "domain 'photonics'; allowed: comma-separated names from a, b.")
