"""Shared test helpers: a place for tests to record measured numbers, printed after the run."""

from __future__ import annotations

import pytest

_METRICS = pytest.StashKey[dict]()


def pytest_configure(config):
    config.stash[_METRICS] = {}


@pytest.fixture
def metrics(request) -> dict:
    """A session-wide dict; whatever a test stores here is printed in the terminal summary."""
    return request.config.stash[_METRICS]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    recorded = config.stash.get(_METRICS, {})
    if recorded:
        terminalreporter.section("measured accuracy")
        for key in sorted(recorded):
            terminalreporter.write_line(f"{key}: {recorded[key]}")
