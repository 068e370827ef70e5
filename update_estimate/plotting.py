"""`backtest --plot`: actuals against forecasts and interval bands (matplotlib, `plot` extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from update_estimate.errors import UsageError


def require() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UsageError("--plot needs matplotlib: pip install 'update-estimate[plot]'") from None


def draw(result: Any, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(r.plugin, r.metric, r.host) for r in result.rows]
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, 2.2 * len(panels)), squeeze=False)
    for ax, (plugin, metric, host) in zip(axes[:, 0], panels, strict=True):
        cases = [c for c in result.cases if (c.plugin, c.metric, c.host) == (plugin, metric, host)]
        x = range(len(cases))
        point = [c.intervals["ours"][0] for c in cases]
        lower = [c.intervals["ours"][1] for c in cases]
        upper = [c.intervals["ours"][2] for c in cases]
        ax.fill_between(x, lower, upper, alpha=0.25, label=f"{result.level:.0%} interval")
        ax.plot(x, point, label="estimate")
        ax.plot(x, [c.actual for c in cases], "o", markersize=3, color="black", label="actual")
        ax.set_title(f"{host} / {plugin} / {metric}", fontsize=9)
        ax.set_yscale("symlog")
    axes[0, 0].legend(fontsize=8)
    axes[-1, 0].set_xlabel("run (last runs of the history)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
