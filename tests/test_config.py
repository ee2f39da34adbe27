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
    assert cfg.model == config.ModelSection()


@pytest.mark.parametrize("text, field, allowed", [
    ("[daemon]\ngroups = 4\n", "daemon.groups", "allowed: domain, seed"),
    ("[deamon]\n", "deamon", "allowed: daemon, model"),
    ("[daemon]\ngroup = 'four'\n", "daemon.group", "allowed: a int"),
    ("[daemon]\ngroup = 0\n", "daemon.group", "> 0"),
    ("[model]\nwidth = 100\nheads = 3\n", "model.heads", "divisor"),
    ("daemon = 3\n", "daemon", "table"),
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
    for section in dataclasses.fields(config.Config):
        for f in dataclasses.fields(section.default_factory()):
            assert f.metadata.get("doc"), f"{section.name}.{f.name} has no documentation"
            assert f"`{section.name}.{f.name}`" in readme, f"README does not document {section.name}.{f.name}"
