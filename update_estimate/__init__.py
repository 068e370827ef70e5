"""update-estimate: calibrated forecasts of update-all runs from their DuckDB history.

In-process use (update-all is a Python program)::

    from update_estimate import Estimator

    estimator = Estimator("history.duckdb", "cache")    # reads the trained cache once
    before = estimator.estimate(["apt", "snap"])         # before the run
    after_check = estimator.estimate(["apt", "snap"], covariates={"apt": {"package_count": 12}})
    during = estimator.estimate(["apt", "snap"], done=["apt"], running="snap", elapsed=40)
    print(during.remaining.wall_clock_seconds.point)

    tracker = estimator.track(["apt", "snap"])          # live: one event at a time
    tracker.plugin_start("apt")
    progress = tracker.phase_start("apt", "DOWNLOAD")   # remaining time, finish, flags

Everything public is listed in `__all__`; the modules below are the implementation.
"""

__version__ = "0.54.0"

from update_estimate.api import (
    Estimator,
    backtest,
    estimate,
    estimate_hosts,
    simulate,
    to_json,
    train,
    validate,
)
from update_estimate.errors import (
    DatabaseLocked,
    EstimateError,
    HistoryMissing,
    NoData,
    NotDuckDB,
    NothingUsable,
    SchemaInvalid,
    SchemaNewer,
    TrainLocked,
    UsageError,
)
from update_estimate.events import Event, EventError
from update_estimate.requests import (
    BacktestRequest,
    EstimateRequest,
    SimulateRequest,
    TrainRequest,
    ValidateRequest,
)
from update_estimate.serving.batch import BatchResult
from update_estimate.serving.estimate import EstimateResult, Finish, PluginEstimate
from update_estimate.serving.predictive import MetricEstimate
from update_estimate.serving.remaining import Remaining
from update_estimate.serving.tracker import Flag, PluginProgress, Progress, RunTracker

__all__ = [
    "BacktestRequest",
    "BatchResult",
    "DatabaseLocked",
    "EstimateError",
    "EstimateRequest",
    "EstimateResult",
    "Estimator",
    "Event",
    "EventError",
    "Finish",
    "Flag",
    "HistoryMissing",
    "MetricEstimate",
    "NoData",
    "NotDuckDB",
    "NothingUsable",
    "PluginEstimate",
    "PluginProgress",
    "Progress",
    "Remaining",
    "RunTracker",
    "SchemaInvalid",
    "SchemaNewer",
    "SimulateRequest",
    "TrainLocked",
    "TrainRequest",
    "UsageError",
    "ValidateRequest",
    "__version__",
    "backtest",
    "estimate",
    "estimate_hosts",
    "simulate",
    "to_json",
    "train",
    "validate",
]
