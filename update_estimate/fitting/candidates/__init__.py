"""The competing models, one file per family, and which optional extras are installed here.

`base` is the interface they share; `baselines` always race; `statistical` (Darts' univariate
models), `regression` (LightGBM on the covariates), `linear` (Huber ridge on the covariates),
`additive` (costs summed on the raw scale) and `neighbours` (the runs after similar breaks)
are the families.
"""

from __future__ import annotations

import importlib

from update_estimate.fitting.candidates import additive, linear, neighbours
from update_estimate.fitting.candidates.base import Candidate
from update_estimate.fitting.candidates.baselines import NAMES as BASELINES
from update_estimate.fitting.candidates.baselines import baselines
from update_estimate.fitting.candidates.regression import lightgbm, regression
from update_estimate.fitting.candidates.statistical import (
    auto_arima,
    auto_ets,
    auto_theta,
    local,
    nlinear,
    prophet_candidate,
)

__all__ = ["BASELINES", "available", "candidates"]


def available(module: str, cls: str) -> bool:
    """Darts swaps a missing extra's class for a placeholder that fails only when used."""
    try:
        obj = getattr(importlib.import_module(module), cls)
    except Exception:
        return False
    return isinstance(obj, type)


def candidates(include_extras: bool = True) -> tuple[list[Candidate], list[str]]:
    """The candidates that can run here, and the names of extras that are not installed."""
    chosen = [
        *baselines(),
        local("auto_ets", auto_ets, retrain=10, min_points=10),
        local("auto_theta", auto_theta, retrain=10, min_points=10),
        local("auto_arima", auto_arima, retrain=30, min_points=10),
        linear.candidate("linear", min_points=8, calendar=False),
        linear.candidate("linear_calendar", min_points=16, calendar=True),
        neighbours.candidate(),
        additive.candidate(),
        additive.recent_candidate(),
        additive.since_candidate(),
    ]
    missing = []
    if available("lightgbm", "LGBMRegressor"):
        chosen.append(regression("lightgbm", lightgbm, retrain=6, min_points=24, calendar=True))
    else:
        missing.append("lightgbm")
    if not include_extras:
        return chosen, missing
    if available("darts.models", "Prophet"):
        chosen.append(prophet_candidate())
    else:
        missing.append("prophet")
    if available("darts.models", "NLinearModel"):
        chosen.append(local("nlinear", nlinear, retrain=20, min_points=30))
    else:
        missing.append("nlinear (torch)")
    return chosen, missing
