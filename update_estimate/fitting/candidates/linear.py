"""Linear models of the next run on its estimate-time covariates and the last run, in numpy.

Ridge, refined by Huber-weighted least squares: runs that miss the line by more than about 10%
(a long break, a slow-network day) count by their absolute error rather than its square, so a
few of them do not tilt the line for all the others (`bench/linear_models.py` measures it).

Series with runs that observed nothing (downloads) are a hurdle: the line is the size of a
download, fitted on the runs that downloaded, and whether anything comes at all is left to the
calibration, which replays each past zero as a zero (`forecast.ZERO_LOG`). One line through
zeros and gigabytes alike sits between both and fits neither. Runs that downloaded are fewer
and further apart, so the size fit weighs recent runs more (`RECENCY`); unweighted, a robust
fit still took the sizes of the runs after a level shift for outliers, and under-covered.
Where the sizes moved for good (`changes.change`), only those since count, and the
calibration reads the errors of fits that know it (`hindsight`): weighed by recency alone,
the sizes dozens of runs after a level shift still leant low, and the errors of the fits
that had not yet seen it widened every interval after it (`bench/RESULTS.md`).
A size is never below the smallest that came after breaks as short (`LinearModel.at`).
Where a covariate foresees the zeros (a pre-run report of nothing to download), one line
through all runs fits them and is kept. numpy only: `train` refits the winner at every
backtest origin, and a darts wrapper costs far more per fit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from update_estimate.fitting.candidates.base import (
    Backtest,
    Candidate,
    Fitted,
    arrays,
    model_inputs,
)
from update_estimate.fitting.changes import SINCE_RUNS, change

PENALTY = 1.0  # ridge, on the raw log1p columns; the intercept is free
# A hurdle's size fit: its recent runs that downloaded are few, and fewer still came after a
# long break (see `_sample`).
HURDLE_PENALTY = 0.1
HUBER = 0.1  # log1p units: residuals beyond it are weighted as absolute errors
ITERATIONS = 30
TOLERANCE = 1e-6
RECENCY = 0.97  # hurdle sizes: a run's weight per run of age
FORESEEN = 0.9  # zero on every empty run, non-zero on this share of the rest: foresees
MIN_SIZES = 3  # runs that downloaded, fewest for a size fit; else one line through all
LEAN_WINDOW = 12  # the fit's last in-sample residuals a lean is judged on
LEAN_T = 2.5  # their mean, in standard errors, beyond which the fit is behind a change
LEAN_RECENCY = 0.9  # a leaning fit's refit: a run's weight per run of age
EXACT = 1e-6  # log1p units: a line this close to every run fits exactly, whatever the sign
# a hurdle's size floor (`LinearModel.at`): the sizes fetched after the shortest breaks,
# fewest it is taken from
FLOOR_RUNS = 4


@dataclass(frozen=True)
class LinearModel:
    """Intercept and coefficients over centred columns [last run's value, covariates...]; a
    hurdle's hours before its sizes and the smallest size so far (`_Fit.floored`), None
    elsewhere."""

    mean: np.ndarray
    coef: np.ndarray
    last: float
    fetched: np.ndarray | None = None

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """The next run for each row of covariates, after the last run seen in the fit."""
        rows = np.atleast_2d(np.asarray(rows, dtype=float))
        return self.at(np.column_stack([np.full(len(rows), self.last), rows]))

    def line(self, design: np.ndarray) -> np.ndarray:
        """The line at rows of [previous run's value, covariates...]."""
        return self.coef[0] + (design - self.mean) @ self.coef[1:]

    def at(self, design: np.ndarray) -> np.ndarray:
        """The line, and a hurdle's size never below the smallest fetched after breaks at
        most as long as the row's (the first covariate, `grid.names`), or after the
        FLOOR_RUNS shortest where fewer were: what comes after a break is at least what came
        after shorter ones. The line in the log of the hours reached below any size fetched:
        after hours away, a plugin whose smallest download is one 80 MB package was sized
        35 MB. Their lower quartile, or median, a noisy floor on a few runs, lifted the line
        where it was right: packages of very different sizes (`bench/heldout.py`) were
        answered wider (`bench/RESULTS.md`)."""
        line = self.line(design)
        if self.fetched is None:
            return line
        hours, smallest = self.fetched
        counts = np.maximum(np.searchsorted(hours, design[:, 1], side="right"), FLOOR_RUNS)
        floor = smallest[np.minimum(counts, len(smallest)) - 1]
        return np.maximum(line, np.where(counts <= len(smallest), floor, -np.inf))


def fit(y: np.ndarray, x: np.ndarray) -> LinearModel:
    """Fit y[1:] on [y[t-1], x[t]] (what was known before run t); needs two runs."""
    y, x = arrays(y, x)
    return _fit(y, x)[0]


def _fit(y: np.ndarray, x: np.ndarray) -> tuple[LinearModel, np.ndarray]:
    """The model and its rows' prior weights.

    A hurdle's sizes that moved for good (`_Fit.moved`) are fitted on the runs since. Where the
    fit's last LEAN_WINDOW residuals lean to one side (`_leans`), the line is behind a change,
    such as a backlog that grew for good, and it is refitted with recent runs weighing more.
    Always weighting them cost the steady scenarios 5-15% in median error.
    """
    fit = _Fit.of(y, x)
    model = fit.line(fit.rows, fit.weights)
    moved = fit.moved(model)
    rows, weights = fit.rows[moved:], fit.weights[moved:]
    if moved:
        model = fit.line(rows, weights)
    recent = rows[-LEAN_WINDOW:]
    if len(rows) >= 2 * LEAN_WINDOW and _leans(fit.target[recent] - model.line(fit.design[recent])):
        weights = weights * LEAN_RECENCY ** (rows[-1] - rows).astype(float)
        model = fit.line(rows, weights)
    return fit.floored(model, rows), weights


@dataclass(frozen=True)
class _Fit:
    """A series' rows as the line reads them: run t's target on [run t-1's value, x[t]]; the
    rows a fit uses and their prior weights (`_sample`)."""

    design: np.ndarray
    target: np.ndarray
    rows: np.ndarray
    weights: np.ndarray
    robust: bool
    penalties: np.ndarray
    last: float

    @classmethod
    def of(cls, y: np.ndarray, x: np.ndarray) -> _Fit:
        rows, weights, robust, penalty = _sample(y[1:], x[1:])
        design = np.column_stack([y[:-1], x[1:]])
        penalties = np.full(design.shape[1], penalty)
        return cls(design, y[1:], rows, weights, robust, penalties, float(y[-1]))

    def line(self, rows: np.ndarray, weights: np.ndarray) -> LinearModel:
        fitted = huber(self.design[rows], self.target[rows], weights, self.robust, self.penalties)
        return LinearModel(*fitted, self.last)

    @property
    def hurdle(self) -> bool:
        """The fit reads only the runs that observed something (`_sample`)."""
        return len(self.rows) < len(self.target)

    def floored(self, model: LinearModel, rows: np.ndarray) -> LinearModel:
        """A hurdle's line with the hours before its sizes at `rows`, shortest first, and
        the smallest size after each break at most as long (`LinearModel.at`); the line alone
        where every run counts."""
        if not self.hurdle:
            return model
        order = np.argsort(self.design[rows, 1], kind="stable")
        smallest = np.minimum.accumulate(self.target[rows][order])
        return replace(model, fetched=np.vstack([self.design[rows, 1][order], smallest]))

    def moved(self, model: LinearModel) -> int:
        """How many of the rows lie before a lasting change of a hurdle's sizes, 0 where
        none shows: the fit's errors on the rows, in order, shifted (`changes.change`)."""
        if not self.hurdle:
            return 0
        errors = self.target[self.rows] - model.line(self.design[self.rows])
        return change(errors) or 0


def _leans(residuals: np.ndarray) -> bool:
    """Their mean is over LEAN_T standard errors from zero.

    A t-test rather than a sign test: after a level shift the Huber line absorbs part of the
    jump, and a sign test on a dozen runs, most to one side, missed many fits that were still
    far too low (`bench/RESULTS.md`).
    """
    sd = max(float(np.std(residuals, ddof=1)), EXACT)
    return abs(float(np.mean(residuals))) > LEAN_T * sd / np.sqrt(len(residuals))


def _sample(target: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool, float]:
    """The rows a fit uses, their prior weights, whether Huber refines it, and its ridge
    penalty: a hurdle fits the runs that observed something, recent ones weighing more.

    Those are a few dozen runs, few of them after a long break, so the penalty that suits a
    fit of every run held the break's knees (`features.KNEES`) near flat: a download after
    weeks away was sized at the slope of a few days, and one after hours at more than a
    package (`tests/test_linear.py`; `bench/RESULTS.md`)."""
    sizes = np.flatnonzero(target > 0)
    if len(sizes) >= MIN_SIZES and hurdle(target, x):
        return sizes, RECENCY ** (sizes[-1] - sizes).astype(float), True, HURDLE_PENALTY
    return np.arange(len(target)), np.ones(len(target)), len(sizes) == len(target), PENALTY


def hurdle(target: np.ndarray, x: np.ndarray) -> bool:
    """Some runs observed nothing, others something, and no covariate foresees which
    (`foreseen`): what comes is a size, and whether anything comes is the calibration's
    (its zeros replayed). The baselines read such a series so too (`baselines`)."""
    zero = target == 0
    return bool(zero.any() and not zero.all()) and not foreseen(x, target)


def foreseen(x: np.ndarray, target: np.ndarray) -> bool:
    """Some covariate is zero whenever nothing came and almost never otherwise: a report of
    nothing to download. Then one line through the zeros fits them, and better than a hurdle
    (`bench/linear_models.py`). Where nothing ever came, there is nothing to foresee."""
    zero = target == 0
    if zero.all():
        return False
    silent = np.all(x[zero] == 0, axis=0) & (np.mean(x[~zero] != 0, axis=0) >= FORESEEN)
    return bool(silent.any())


def huber(
    design: np.ndarray,
    target: np.ndarray,
    prior: np.ndarray,
    robust: bool,
    penalties: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Centring and coefficients of a weighted ridge, reweighted as Huber when `robust`;
    `penalties`: a ridge penalty per column (else PENALTY for each)."""
    mean = np.average(design, axis=0, weights=prior)
    a = np.column_stack([np.ones(len(target)), design - mean])
    per_column = np.full(design.shape[1], PENALTY) if penalties is None else penalties
    penalty = np.diag(np.concatenate([[0.0], per_column]))
    weights = prior
    coef = np.zeros(a.shape[1])
    for _ in range(ITERATIONS if robust else 1):
        weighted = a * weights[:, None]
        new = np.linalg.solve(a.T @ weighted + penalty, weighted.T @ target)
        converged = np.max(np.abs(new - coef)) < TOLERANCE
        coef = new
        if converged:
            break
        weights = prior * np.minimum(1.0, HUBER / np.maximum(np.abs(target - a @ coef), 1e-12))
    return mean, coef


def walk(y: np.ndarray, x: np.ndarray, start: int) -> tuple[np.ndarray, np.ndarray]:
    """Forecasts of y[start:], each from a fit on the runs before it, and the error inflation of
    those fits and of the final fit on all runs (last), from one fit per origin.

    A fit costs well under a millisecond, so there is no stale-fit shortcut to offer. The
    inflation is the variance of a fit's one-step error over the noise's: a least-squares fit of
    p parameters on m runs errs by about 1 + p/(m - p - 1) times the noise (random design).
    Calibration residuals come from fits on fewer runs than the final fit, so they are wider
    than its errors, and intervals read from them over-covered, the more so the shorter the
    history (`bench/linear_models.py`). Weighted rows count by their
    effective number; the inflation is capped at 2, where the ridge penalty bounds a fit on too
    few runs.
    """
    y, x = arrays(y, x)
    p = x.shape[1] + 2
    forecasts, inflation = [], []
    for t in range(start, len(y) + 1):
        model, weights = _fit(y[:t], x[:t])
        if t < len(y):
            forecasts.append(model.predict(x[t])[0])
        m = weights.sum() ** 2 / (weights**2).sum()
        inflation.append(1.0 + p / max(m - p - 1.0, p))
    return np.array(forecasts), np.array(inflation)


def since(y: np.ndarray, x: np.ndarray) -> int:
    """The first run of a hurdle's sizes since their last lasting change (`_Fit.moved`); 0
    where none shows."""
    fit, moved = _changed(y, x)
    return int(fit.rows[moved]) + 1 if moved else 0


def _changed(y: np.ndarray, x: np.ndarray) -> tuple[_Fit, int]:
    """The rows and how many lie before a lasting change; no line is fitted on rows too few
    to show one (and none can be on a series of one run)."""
    fit = _Fit.of(*arrays(y, x))
    if len(fit.rows) < 2 * SINCE_RUNS:
        return fit, 0
    return fit, fit.moved(fit.line(fit.rows, fit.weights))


def hindsight(y: np.ndarray, x: np.ndarray, start: int, raced: Backtest) -> Backtest:
    """The walk's forecasts of y[start:] (`raced`), each run from a hurdle's lasting change on
    forecast by the fit on every other size since (leave one out), as the final fit, which
    knows the change, errs on a run of its own regime. The walk's fits could call it only
    SINCE_RUNS sizes after it: their errors in between, the old sizes read for the new,
    widened the interval of every run after it."""
    fit, moved = _changed(y, x)
    if not moved:
        return raced
    after, weights = fit.rows[moved:], fit.weights[moved:]
    forecasts = np.array(raced.forecasts, dtype=float)
    inflation = None if raced.inflation is None else np.array(raced.inflation, dtype=float)
    for t in range(max(start, int(after[0]) + 1), len(fit.target) + 1):
        others = after != t - 1
        model = fit.floored(fit.line(after[others], weights[others]), after[others])
        forecasts[t - start] = model.at(fit.design[t - 1 : t])[0]
        if inflation is not None:
            inflation[t - start] = inflation[-1]
    return Backtest(forecasts, inflation)


def candidate(name: str, min_points: int, calendar: bool) -> Candidate:
    """Huber-weighted ridge on the last run and the covariates."""

    def rolling(y: np.ndarray, x: np.ndarray, start: int, every: int) -> Backtest:
        return Backtest(*walk(y, model_inputs(x, calendar), start))  # every origin

    def final(y: np.ndarray, x: np.ndarray) -> Fitted:
        model = fit(y, model_inputs(x, calendar))
        return Fitted(name, model, lambda rows: model.predict(model_inputs(rows, calendar)))

    def knowing(y: np.ndarray, x: np.ndarray, start: int, raced: Backtest) -> Backtest:
        return hindsight(y, model_inputs(x, calendar), start, raced)

    return Candidate(
        name, min_points, True, rolling, final, calendar=calendar, retrain=1, hindsight=knowing
    )
