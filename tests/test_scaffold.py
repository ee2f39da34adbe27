"""`specialist new-domain`: the scaffolded package keeps the domain contract and installs as a plugin."""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import subprocess
import sys
import tomllib

import pytest

from specialist.cli import scaffold
from specialist.errors import InputError
from tests import test_domain_conformance as conformance

NAME = "demo_scaffold"
CHECKS = [conformance.test_protocol_and_spec, conformance.test_curriculum_is_fixed_and_split,
          conformance.test_encode_decode_verify_round_trip, conformance.test_refine_keeps_budget_and_never_worsens,
          conformance.test_from_record_shape]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return scaffold.create(NAME, tmp_path_factory.mktemp("scaffold"))


@pytest.fixture(scope="module")
def case(root):
    """(domain, train, heldout) of the scaffolded package, imported from its folder, not installed."""
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(root))
        try:
            plugin = importlib.import_module(f"{NAME}_domain.plugin")
            d = getattr(plugin, scaffold.class_name(NAME))()
            yield (d, *d.curriculum(0))
        finally:
            for mod in [m for m in sys.modules if m == f"{NAME}_domain" or m.startswith(f"{NAME}_domain.")]:
                del sys.modules[mod]


@pytest.mark.parametrize("check", CHECKS, ids=lambda f: f.__name__.removeprefix("test_"))
def test_scaffold_passes_the_conformance_checks(case, check):
    check(case)


def test_scaffold_files_and_entry_point(root):
    pkg = f"{NAME}_domain"
    assert root.name == f"specialist-{NAME}"
    assert {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} == \
        {"pyproject.toml", "README.md", f"{pkg}/__init__.py", f"{pkg}/plugin.py", f"{pkg}/commands.py"}
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    assert project["name"] == f"specialist-{NAME}"
    assert any(dep.startswith("specialist") for dep in project["dependencies"])
    assert any(dep.startswith("numpy") for dep in project["dependencies"])
    assert project["entry-points"]["specialist.domains"] == {NAME: f"{pkg}.plugin:DemoScaffoldDomain"}
    assert project["entry-points"]["specialist.commands"] == {NAME: f"{pkg}.commands:COMMANDS"}
    for path in root.rglob("*.py"):
        ast.parse(path.read_text(), str(path))  # no leftover template syntax
    plugin = (root / pkg / "plugin.py").read_text()
    assert "$" not in plugin and "REPLACE" in plugin and len(plugin.splitlines()) <= 120


def test_the_example_command_runs_through_the_command_lines_registry(root, tmp_path, capsys):
    import json

    from specialist.cli import registry

    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(root))
        try:
            commands = importlib.import_module(f"{NAME}_domain.commands").COMMANDS
            entry = type("Entry", (), {"name": NAME, "value": "scaffold", "load": lambda self: commands})()
            real = registry.entry_points
            mp.setattr(registry, "entry_points", lambda group: list(real(group=group)) + [entry])
            goal, design = tmp_path / "goal.json", tmp_path / "design.json"
            goal.write_text(json.dumps({"name": "g", "domain": NAME, "target": [0.5, 0.25]}))
            design.write_text(json.dumps({"values": [0.5, 0.25]}))
            assert registry.main([f"{NAME}-verify", str(goal), str(design), "--json"]) == 0
            assert json.loads(capsys.readouterr().out) == {"merit": 0.0, "solved": True}
            goal.write_text("{}")
            assert registry.main([f"{NAME}-verify", str(goal), str(design)]) == 2
            assert "field 'target'" in capsys.readouterr().err
        finally:
            for mod in [m for m in sys.modules if m == f"{NAME}_domain" or m.startswith(f"{NAME}_domain.")]:
                del sys.modules[mod]


def test_the_example_domain_refines_towards_solved(case):
    d, train, heldout = case
    goal = heldout[0]
    designs = [d.decode(goal, [3] * (d.spec.max_tokens - 1) + [2])]
    for _ in range(20):
        designs, verdicts, spent = d.refine(goal, designs, 1)
        assert spent == 1
    assert verdicts[0]["solved"]
    assert d.refine(goal, designs, 0)[2] == 0


@pytest.mark.parametrize("bad", ["Optics", "2d_flow", "_x", "chem-kinetics", "", "a b"])
def test_bad_name_is_an_input_error_naming_NAME(tmp_path, bad):
    with pytest.raises(InputError, match=r"^NAME: .*lower-case letters") as err:
        scaffold.create(bad, tmp_path)
    assert err.value.source == "NAME"
    assert not any(tmp_path.iterdir())


def test_installed_domain_name_is_refused(tmp_path):
    with pytest.raises(InputError, match="NAME: .*already an installed domain"):
        scaffold.create("photonics", tmp_path)


def test_existing_folder_is_an_input_error_naming_it(tmp_path):
    (tmp_path / f"specialist-{NAME}").mkdir()
    with pytest.raises(InputError, match="already exists") as err:
        scaffold.create(NAME, tmp_path)
    assert err.value.source == str(tmp_path / f"specialist-{NAME}")
    assert not any((tmp_path / f"specialist-{NAME}").iterdir())


def test_run_parses_the_options_and_prints_next_steps(tmp_path, capsys):
    p = argparse.ArgumentParser()
    scaffold.add_args(p)
    args = p.parse_args([NAME, "--dir", str(tmp_path)])
    assert scaffold.run(args) == 0
    out = capsys.readouterr().out
    root = tmp_path / f"specialist-{NAME}"
    assert root.is_dir() and f"pip install -e {root}" in out
    assert "available()" in out and "test_domain_conformance" in out
    assert p.parse_args([NAME]).dir == "."
    with pytest.raises(InputError, match="already exists"):
        scaffold.run(args)


def _can_build_wheels() -> bool:
    """Whether this environment's setuptools builds wheels (bdist_wheel: its own from 70.1, else wheel's)."""
    import setuptools

    major, minor = (int(x) for x in setuptools.__version__.split(".")[:2])
    return (major, minor) >= (70, 1) or importlib.util.find_spec("wheel") is not None


@pytest.mark.slow
def test_pip_install_registers_the_domain(tmp_path):
    if not _can_build_wheels():
        pytest.skip("--no-build-isolation needs setuptools>=70.1 or the wheel package in this environment")
    name = "scaffold_probe"
    root = scaffold.create(name, tmp_path)
    pip = [sys.executable, "-m", "pip"]
    try:
        done = subprocess.run(pip + ["install", "--no-deps", "--no-build-isolation", "-q", "-e", str(root)],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        probe = ("from specialist.domain import available, load; "
                 f"print(sorted(available())); print(load('{name}').spec.name)")
        out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True,
                             timeout=300, cwd=tmp_path).stdout
        assert f"'{name}'" in out.splitlines()[0] and out.splitlines()[1] == name
        helped = subprocess.run([sys.executable, "-m", "specialist.cli", f"{name}-verify", "--help"],
                                capture_output=True, text=True, timeout=300, cwd=tmp_path)
        assert helped.returncode == 0 and "GOAL.json" in helped.stdout
    finally:
        subprocess.run(pip + ["uninstall", "-y", "-q", f"specialist-{name}"], capture_output=True, timeout=300)
