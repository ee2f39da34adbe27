"""The house's shape, read from the import statements (ast): layers bottom-up, no cycle, no generic
code importing photonics, Ray and MLflow each at one edge, no actor driven by a method name."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("specialist", "feeds", "experiments", "learner", "domains")
WORKERS = ("domains", "feeds", "experiments", "learner")  # layer 2: each imports contracts only


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for f in (ROOT / pkg).rglob("*.py"):
            name = ".".join(f.relative_to(ROOT).with_suffix("").parts)
            out[name.removesuffix(".__init__")] = f
    return out


MODULES = _modules()

# a domain's command modules (commands, simulate_command, design_commands, ...) and the cli gathering them
COMMAND_MODULES = r"domains\.\w+\.(\w+_)?commands?|domains\.\w+\.cli"


def layer(module: str) -> int:
    """1 contracts, 2 domains and workers, 3 the application, 4 benchmarks, 5 the command line."""
    if module.startswith("specialist.cli") or re.fullmatch(COMMAND_MODULES, module):
        return 5  # a domain's commands plug into the command line and sit with it
    if module.startswith("specialist.benchmarks"):
        return 4
    if module.startswith("specialist.app"):
        return 3
    if module.split(".")[0] in WORKERS:
        return 2
    return 1


def _imports(module: str) -> list[tuple[ast.AST, str, bool]]:
    """(node, imported name, inside a function) for every import of ``module``, relative ones resolved."""
    tree = ast.parse(MODULES[module].read_text())
    local = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
             for n in ast.walk(f)}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node, a.name, id(node) in local) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")[: len(module.split(".")) - node.level + (MODULES[module].name == "__init__.py")]
                base = ".".join(parts + ([base] if base else []))
            out += [(node, base, id(node) in local)] + [(node, f"{base}.{a.name}", id(node) in local)
                                                        for a in node.names]
    return out


def _graph() -> dict[str, set[str]]:
    """Project modules each module imports (a package import counts as its __init__)."""
    return {m: {name for _, name, _ in _imports(m) if name in MODULES and name != m} for m in MODULES}


GRAPH = _graph()


def test_every_project_module_is_seen():
    assert {"specialist.domain", "specialist.core", "specialist.app.daemon", "specialist.cli.registry",
            "domains.photonics.plugin", "domains.photonics.commands", "learner.worker"} <= set(MODULES)


def test_no_module_imports_a_layer_above_its_own():
    upward = sorted(f"{a} ({layer(a)}) -> {b} ({layer(b)})" for a, deps in GRAPH.items() for b in deps
                    if layer(b) > layer(a))
    assert not upward


def test_domains_and_workers_import_contracts_only():
    sideways = sorted(f"{a} -> {b}" for a, deps in GRAPH.items() for b in deps
                      if layer(a) == layer(b) == 2 and a.split(".")[0] != b.split(".")[0])
    assert not sideways


def test_no_import_cycle():
    state: dict[str, int] = {}  # 1 on the path, 2 done

    def visit(m: str, path: list[str]) -> list[str] | None:
        state[m] = 1
        for d in sorted(GRAPH[m]):
            if m.startswith(d + "."):  # a module importing its own package's __init__ (re-exports)
                continue
            if state.get(d) == 1:
                return path + [m, d]
            if d not in state and (cycle := visit(d, path + [m])):
                return cycle
        state[m] = 2
        return None

    for m in sorted(MODULES):
        if m not in state:
            assert visit(m, []) is None


def test_generic_packages_never_import_photonics():
    leaks = sorted(f"{a} -> {name}" for a in MODULES if not a.startswith("domains.photonics")
                   for _, name, _ in _imports(a) if name.startswith("domains.photonics"))
    assert not leaks


@pytest.mark.parametrize("library, home", [("ray", "specialist.app.daemon"), ("mlflow", "specialist.app.tracking")])
def test_ray_and_mlflow_are_each_imported_in_one_module(library, home):
    users = {m for m in MODULES for _, name, _ in _imports(m) if name == library or name.startswith(library + ".")}
    assert users == {home}


def test_no_actor_call_is_dispatched_by_a_method_name_string():
    for m, path in MODULES.items():
        text = path.read_text()
        assert not re.search(r"\.remote\(\s*['\"]", text), m
        assert not re.search(r"\bcall\.remote\(", text), m


def test_imports_inside_functions_say_why():
    """Imports sit at the top of a module; one placed in a function carries its reason on its line."""
    silent = []
    for m, path in MODULES.items():
        lines = path.read_text().splitlines()
        silent += [f"{m}:{node.lineno}" for node, _, inside in _imports(m)
                   if inside and "#" not in lines[node.lineno - 1]]
    assert not sorted(set(silent))


def test_the_checks_catch_what_they_look_for(monkeypatch):
    """The checks above fail on an upward import, a cycle and a photonics import (they can fail)."""
    assert layer("specialist.config") < layer("feeds.arxiv") < layer("specialist.app.daemon") \
        < layer("specialist.benchmarks.forgetting") < layer("specialist.cli.bench")
    assert layer("domains.photonics.commands") == layer("specialist.cli.io")
    monkeypatch.setitem(GRAPH, "specialist.store", GRAPH["specialist.store"] | {"specialist.app.builders"})
    with pytest.raises(AssertionError):
        test_no_module_imports_a_layer_above_its_own()
    with pytest.raises(AssertionError):
        test_no_import_cycle()
