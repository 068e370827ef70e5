"""How much longer a host's parallel runs took than update-all's schedule says they should.

For each past run whose plugins ran side by side: its duration (the `runs` table's start and
end) against the makespan of its plugins' own phase times replayed through `schedule`, as many
at once as ran together. Whatever the schedule does not model (the orchestrator setting up,
waiting, its summary) is in the difference; `estimate --jobs` stretches each replayed run's
makespan by it. A fixed setting-up time is a difference in seconds, contention a ratio: each
host keeps the form that predicts each of its runs better from its other runs.
"""

from __future__ import annotations

import math
import statistics
from typing import TYPE_CHECKING

from update_estimate import schedule
from update_estimate.history.validation import most_at_once, overlaps
from update_estimate.record import Stretch

if TYPE_CHECKING:
    import pandas as pd

RAN = ("success", "failed", "timeout")


def stretches(executions: pd.DataFrame, phases: pd.DataFrame) -> dict[str, Stretch]:
    """Per host, its parallel runs' stretch."""
    return {host: choose(runs) for host, runs in spans(executions, phases).items()}


def spans(
    executions: pd.DataFrame, phases: pd.DataFrame
) -> dict[str, dict[int, tuple[float, float]]]:
    """Per host, each parallel run's number, its replayed makespan and its duration."""
    walls = phases.pivot_table(
        index="execution_id", columns="phase", values="wall_clock_seconds", aggfunc="sum"
    )
    ran = executions[
        executions["status"].isin(RAN)
        & executions["end_time"].notna()
        & executions["run_end"].notna()
    ]
    out: dict[str, dict[int, tuple[float, float]]] = {}
    for (host, number), run in ran.groupby(["host", "run_number"], sort=True):
        starts, ends = run["start_time"].tolist(), run["end_time"].tolist()
        if len(run) < 2 or not overlaps(starts, ends):
            continue
        works = [
            schedule.Work(str(row.plugin), _phases(walls, row), (row.download_bytes or 0) > 0)
            for row in run.sort_values("plugin").itertuples()
        ]
        # the phases' times as they were: a shared line's slowdown is already in them
        placed = schedule.place(works, most_at_once(starts, ends), share_line=False)
        makespan = max(p.released for p in placed)
        duration = (run["run_end"].iloc[0] - run["run_start"].iloc[0]).total_seconds()
        if makespan > 0 and duration > 0:
            out.setdefault(str(host), {})[int(number)] = (makespan, duration)
    return out


def choose(runs: dict[int, tuple[float, float]]) -> Stretch:
    """The stretch of runs given as (replayed makespan, duration): seconds beyond the schedule
    where that predicted the runs better than the ratio did (`left_out_errors`). Ratios below
    three runs: too few to tell the forms apart."""
    additive = False
    if len(runs) >= 3:
        errors = left_out_errors(runs)
        additive = errors[True] < errors[False]
    return Stretch(additive, {run: round(v, 4) for run, v in per_run(runs, additive).items()})


def left_out_errors(runs: dict[int, tuple[float, float]]) -> dict[bool, float]:
    """Per form (additive or not): the median absolute log error of each run's duration
    predicted from its makespan and the median stretch of the other runs (two at least)."""
    out = {}
    for additive in (True, False):
        form, values = Stretch(additive, {}), per_run(runs, additive)
        errors = []
        for run, (makespan, duration) in runs.items():
            typical = statistics.median(v for r, v in values.items() if r != run)
            errors.append(abs(math.log(max(form.apply(makespan, typical), 1e-9) / duration)))
        out[additive] = statistics.median(errors)
    return out


def per_run(runs: dict[int, tuple[float, float]], additive: bool) -> dict[int, float]:
    """Each run's stretch in one form: seconds beyond its makespan, or duration over it."""
    return {r: d - m if additive else d / m for r, (m, d) in runs.items()}


def _phases(walls: pd.DataFrame, row: object) -> dict[str, float]:
    """The execution's time per phase; all of it in EXECUTE where its phases are unknown."""
    execution_id = getattr(row, "execution_id")  # noqa: B009 - a namedtuple's field
    whole = float(getattr(row, "wall_clock_seconds") or 0.0)  # noqa: B009
    if execution_id in walls.index:
        found = {p: float(walls.at[execution_id, p]) for p in walls.columns if p in schedule.PHASES}
        clean = {p: v for p, v in found.items() if math.isfinite(v)}
        if clean:
            return {p: clean.get(p, 0.0) for p in schedule.PHASES}
    return {"CHECK": 0.0, "DOWNLOAD": 0.0, "EXECUTE": whole if math.isfinite(whole) else 0.0}
