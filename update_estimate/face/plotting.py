"""`backtest --plot`: actuals against forecasts and interval bands (matplotlib, `plot` extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from update_estimate.errors import UsageError
from update_estimate.requests import percent


def require() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UsageError("--plot needs matplotlib: pip install 'update-estimate[plot]'") from None


PANEL_INCHES = (3.4, 1.9)  # one panel; a grid of plugins by metrics stays readable


def draw(result: Any, path: Path) -> None:
    """A grid, a row per plugin (and the run total) and a column per metric, with each axis in
    its own units (seconds or minutes, bytes or megabytes) on a linear scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    from update_estimate.face.render import SHORT_METRIC, human
    from update_estimate.record import METRICS

    rows = list(dict.fromkeys((r.host, r.plugin) for r in result.rows))
    metrics = [m for m in METRICS if any(r.metric == m for r in result.rows)]
    width, height = PANEL_INCHES
    fig, axes = plt.subplots(
        len(rows),
        len(metrics),
        figsize=(width * len(metrics), height * len(rows) + 0.6),
        squeeze=False,
    )
    for (i, (host, plugin)), (j, metric) in (
        (row, col) for row in enumerate(rows) for col in enumerate(metrics)
    ):
        ax = axes[i, j]
        cases = [c for c in result.cases if (c.host, c.plugin, c.metric) == (host, plugin, metric)]
        x = range(len(cases))
        ours = [c.intervals["ours"] for c in cases]
        ax.fill_between(x, [o[1] for o in ours], [o[2] for o in ours], alpha=0.25, linewidth=0)
        ax.plot(x, [o[0] for o in ours], linewidth=1)
        ax.plot(x, [c.actual for c in cases], "o", markersize=2.5, color="black")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _, m=metric: human(m, max(v, 0))))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=7)
        ax.set_title(f"{plugin} {SHORT_METRIC.get(metric, metric)}", fontsize=8)
        ax.set_ylim(bottom=0)
        if i == len(rows) - 1:
            ax.set_xlabel("run, oldest first", fontsize=7)
    mode = "with the plugins' reports" if result.with_covariates else "before the check phase"
    fig.suptitle(
        f"Backtest of the last {result.last} runs, {mode}: estimate (line), "
        f"{percent(result.level)} interval (band), actual (dots)",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
