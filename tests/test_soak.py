"""The soak benchmark: RSS of all the daemon's processes over time, and its growth after warm-up."""

from __future__ import annotations

import pytest

from specialist.benchmarks import soak
from tests.test_daemon import CONFIG


def test_growth_counts_only_the_samples_after_the_warmup():
    rows = [{"t_s": 0, "rss_mb": 100.0}, {"t_s": 600, "rss_mb": 1000.0}, {"t_s": 1800, "rss_mb": 1010.0},
            {"t_s": 4200, "rss_mb": 1030.0}]
    g = soak.growth(rows, warmup=600)
    assert g["after_warmup"] == 3 and g["growth_pct"] == pytest.approx(3.0)
    # least squares through (1/6 h, 1000), (1/2 h, 1010), (7/6 h, 1030): slope 30.0 MB/h (by hand)
    assert g["slope_mb_per_h"] == pytest.approx(30.0, rel=1e-9)
    assert soak.growth(rows[:1], warmup=0)["growth_pct"] is None


@pytest.mark.daemon
def test_a_short_soak_samples_every_process_of_a_real_daemon(tmp_path):
    config = tmp_path / "specialist.toml"
    config.write_text(CONFIG)
    report = soak.soak(tmp_path / "data", seconds=20, warmup=25, every=3, config=str(config))
    up = [r for r in report["samples"] if r["processes"] >= 6]  # driver, GCS, raylet and the actors
    assert len(up) >= 3, report["samples"]
    assert all(100 < r["rss_mb"] < 24_000 for r in up)
    assert report["after_warmup"] >= 2 and report["growth_pct"] is not None
