"""Figures for the dashboard, drawn from plain series so that domains need no plotting library.

A series is {"panel", "label", "kind": "goal" | "design", "x", "y", "xlabel"}; series sharing a
panel name share axes.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # a daemon has no screen
import matplotlib.pyplot as plt  # noqa: E402


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


def close(fig) -> None:
    plt.close(fig)


def _panels(series: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for s in series:
        out.setdefault(s["panel"], []).append(s)
    return out
