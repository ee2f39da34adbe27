"""Figures for the dashboard, drawn from plain series so that domains need no plotting library.

A series is {"panel", "label", "kind": "goal" | "design", "x", "y", "xlabel"}; series sharing a
panel name share axes.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # a daemon has no screen
import matplotlib.pyplot as plt  # noqa: E402

from specialist.errors import InputError  # noqa: E402

DPI = 120


def designs_against_goals(items: list[tuple[str, list[dict]]]):
    """One row per goal (title, its series), one column per panel; returns the Figure."""
    rows = [(title, _panels(series)) for title, series in items]
    cols = max((len(p) for _, p in rows), default=1)
    fig, axes = plt.subplots(len(rows) or 1, cols, figsize=(4.5 * cols, 3.2 * max(len(rows), 1)),
                             squeeze=False)
    for r, (title, panels) in enumerate(rows):
        for c, (panel, series) in enumerate(panels.items()):
            ax = axes[r][c]
            labelled = set()
            for s in series:
                style = {"color": "0.3", "linestyle": "--", "marker": "." if len(s["x"]) == 1 else None} \
                    if s["kind"] == "goal" else {"color": "C0", "marker": "o" if len(s["x"]) == 1 else None}
                ax.plot(s["x"], s["y"], label=None if s["label"] in labelled else s["label"], **style)
                labelled.add(s["label"])
            ax.set_title(f"{title}\n{panel}" if c == 0 else panel, fontsize=8)
            ax.set_xlabel(series[0].get("xlabel", ""), fontsize=8)
            ax.tick_params(labelsize=7)
            ax.legend(fontsize=7)
        for c in range(len(panels), cols):
            axes[r][c].axis("off")
    fig.tight_layout()
    return fig


def learning_curve(history: list[dict], baseline: dict | None, pretrain_steps: int):
    """Held-out solve rate per budget against wall time since the first version (pretraining
    included); the baseline's solve rates at the same budgets as dashed lines."""
    fig, ax = plt.subplots(figsize=(7, 4))
    budgets = list(history[0]["budgets"]) if history else []
    minutes = [h["elapsed_s"] / 60 for h in history]
    for i, b in enumerate(budgets):
        ax.plot(minutes, [h["budgets"][b]["solve_rate"] for h in history], marker="o", color=f"C{i}",
                label=f"specialist, budget {b}")
        if baseline and b in baseline["budgets"]:
            ax.axhline(baseline["budgets"][b]["solve_rate"], color=f"C{i}", linestyle="--",
                       label=f"{baseline['method']}, budget {b}")
    ends = [m for m, h in zip(minutes, history) if h["version"] >= pretrain_steps]
    if ends:
        ax.axvline(ends[0], color="0.5", linestyle=":", label="first evaluation after pretraining")
    ax.set_xlabel("wall time since the first version [min]")
    ax.set_ylabel("held-out solve rate")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def tolerance(title: str, report: dict, merits: list[float]):
    """A tolerance analysis: the made copies' merits as a histogram (the design as designed, the
    median and the 90th percentile marked) and, where the report has them, each layer's merit
    with that layer alone 1 % thicker and 1 % thinner; returns the Figure."""
    layers = report.get("sensitivity") or []
    fig, axes = plt.subplots(1, 2 if layers else 1, figsize=(11 if layers else 6.5, 4), squeeze=False)
    ax = axes[0][0]
    ax.hist(merits, bins=min(40, max(5, len(merits) // 5)), color="C0", alpha=0.75)
    for key, label, style in (("merit", "as designed", "-"), ("median", "median", "--"), ("p90", "90th pct", ":")):
        ax.axvline(report[key], color="k", linestyle=style, label=f"{label} {report[key]:.3g}")
    ax.set_xlabel("merit of a made copy")
    ax.set_ylabel("made copies")
    ax.set_title(f"{report['runs']} copies: thickness {report['thickness_pct']:g} %, index {report['index_sigma']:g};"
                 f" {report['solved_share']:.0%} solved", fontsize=9)
    ax.legend(fontsize=8)
    if layers:
        ax = axes[0][1]
        x = [r["layer"] for r in layers]
        ax.bar([i - 0.2 for i in x], [r["merit_plus_1pct"] for r in layers], 0.4, label="layer 1 % thicker")
        ax.bar([i + 0.2 for i in x], [r["merit_minus_1pct"] for r in layers], 0.4, label="layer 1 % thinner")
        ax.axhline(report["merit"], color="k", linewidth=1, label="as designed")
        ax.set_xticks(x)
        ax.set_xlabel("layer (from the incident side)")
        ax.set_ylabel("merit")
        ax.set_ylim(0, 1.25 * max(max(r["merit_plus_1pct"], r["merit_minus_1pct"]) for r in layers) or 1.0)
        ax.set_title("per-layer sensitivity", fontsize=9)
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def close(fig) -> None:
    plt.close(fig)


def check_png(path: str, option: str = "--plot") -> None:
    """Refuse, before any work, a file name that is not .png or a folder that cannot be written.

    Raises:
        InputError: naming ``option``, the path and what is allowed.
    """
    target = Path(path)
    if target.suffix.lower() != ".png" or target.is_dir():
        raise InputError(option, "", f"is '{path}'; allowed: a file name ending in .png")
    folder = target.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise InputError(option, "", f"is '{path}', whose folder does not exist or cannot be written; allowed: "
                         "a file in an existing, writable folder")


def save_png(fig, path: str, option: str = "--plot") -> None:
    """Write the figure as PNG and close it, through a temporary file and a rename so that a
    reader never sees half of it.

    Raises:
        InputError: a path ``check_png`` refuses, or one that cannot be written.
    """
    try:
        check_png(path, option)
        target = Path(path)
        tmp = target.with_name(target.name + ".tmp")
        fig.savefig(tmp, format="png", dpi=DPI)
        os.replace(tmp, target)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise InputError(option, "", f"is '{path}', which cannot be written ({err.strerror}); allowed: a file in "
                         "an existing, writable folder") from None
    finally:
        plt.close(fig)


def _panels(series: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for s in series:
        out.setdefault(s["panel"], []).append(s)
    return out
