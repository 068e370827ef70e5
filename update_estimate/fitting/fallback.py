"""Forecast records straight from the history, for when no trained cache can answer.

Quick statistics: the median of a plugin's recent runs and the spread of those runs around it,
in the same record shape `train` writes, so `estimate` serves them through one code path.
They are marked `limited`: no model was selected or calibrated out of sample.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from update_estimate.record import METRICS, Records, SeriesRecord, Variant, series_key

if TYPE_CHECKING:
    import numpy as np

RECENT = 20


def records_from_history(
    db: Path, hosts: list[str] | None, plugins: list[str] | None, lock_timeout: float
) -> Records:
    """Series records, and the history's plugins per host, as a cache holds them."""
    import numpy as np

    from update_estimate.fitting.features import (
        TARGET_STATUSES,
        last_success,
        outcomes,
        plausible_cap,
    )
    from update_estimate.history import reader as history

    hist = history.read(db, hosts=hosts, plugins=plugins, lock_timeout=lock_timeout)
    ex = hist.executions
    out: dict[str, SeriesRecord] = {}
    days: dict[str, dict[int, str]] = {}
    for (host, plugin), group in ex.groupby(["host", "plugin"], sort=True):
        last = last_success(group)
        targets = group[group["status"].isin(TARGET_STATUSES)]
        for metric in METRICS:
            rows = targets[targets[metric].notna()].tail(RECENT)
            if rows.empty:
                continue
            # the day of each run these residuals name
            numbers, starts = rows["run_number"], rows["start_time"].dt.strftime("%Y-%m-%d")
            days.setdefault(str(host), {}).update(zip(numbers.astype(int), starts, strict=True))
            logged = np.log1p(rows[metric].to_numpy(dtype=float))
            centre = _middle(logged, metric)
            base = Variant.constant(
                "recent_median",
                centre,
                residuals=(logged - centre).round(6).tolist(),
                censored=rows["censored"].astype(bool).tolist(),
                runs=[int(n) for n in rows["run_number"]],
            )
            out[series_key(str(host), str(plugin), metric)] = SeriesRecord(
                host=str(host),
                plugin=str(plugin),
                metric=metric,
                phase=None,
                data_points=int(targets[metric].notna().sum()),
                last_success=last,
                cap=plausible_cap(np.log1p(targets[metric].dropna().to_numpy(dtype=float))),
                basis="limited",
                variants={"base": base},
                outcomes=outcomes(group, metric),
            )
    return Records(out, hist.plugins_by_host, days, {})


def _middle(logged: np.ndarray, metric: str) -> float:
    """The median of the runs (log1p); a download's is a size one of them fetched, the
    upper of the middle two: between nothing and a size, their mean on the log scale is
    neither (half of a plugin's runs fetching nothing read 2.6 kB, where the others fetched
    megabytes)."""
    import numpy as np

    if metric == "download_bytes":
        return float(np.sort(logged)[len(logged) // 2])
    return float(np.median(logged))
