"""The `linear` candidate's fit: robust to a few wild runs, a hurdle for zeros nothing foresees,
plain ridge for zeros a report foresees."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import Ridge

from tests.scenarios import make_series, next_estimate
from update_estimate.fitting import changes, race
from update_estimate.fitting.candidates import linear
from update_estimate.fitting.candidates.base import Backtest
from update_estimate.fitting.features import expand, log_gap
from update_estimate.serving import conformal

ROWS = np.array([[0.0], [5.0]])


def _history(seed: int, n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """log1p wall = 3 + 0.5 * log gap + small noise: the truth is known."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 5, n)
    return 3.0 + 0.5 * x + rng.normal(0, 0.05, n), x[:, None]


def _ridge(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """An independent one-lag ridge (sklearn), predicting ROWS after the last run."""
    model = Ridge(alpha=linear.PENALTY).fit(np.column_stack([y[:-1], x[1:]]), y[1:])
    return model.predict(np.column_stack([np.full(len(ROWS), y[-1]), ROWS]))


def test_a_few_wild_runs_do_not_tilt_the_line() -> None:
    """Five slow-network runs, the longer the backlog the slower: ridge follows them, the
    Huber reweighting does not (fails if the fit stops after its ridge start)."""
    y, x = _history(0)
    wild = np.array([10, 20, 30, 40, 50])
    y[wild] += np.log(8) * x[wild, 0] / 5
    truth = 3.0 + 0.5 * ROWS[:, 0]
    robust_error = np.abs(linear.fit(y, x).predict(ROWS) - truth).max()
    ridge_error = np.abs(_ridge(y, x) - truth).max()
    assert robust_error < 0.1
    assert ridge_error > 3 * robust_error


def _downloads(seed: int, shift_at: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Sizes as in `_history`, +1 from `shift_at` on; every fourth run downloads nothing."""
    y, x = _history(seed)
    if shift_at is not None:
        y[shift_at:] += 1.0
    y[::4] = 0.0
    return y, x


def test_unforeseen_zeros_make_a_hurdle_the_line_is_the_size() -> None:
    """Nothing in the covariates says when nothing comes: the line is the size of a download
    (the calibration replays the zeros), where one line through all runs sits between both."""
    y, x = _downloads(1)
    truth = 3.0 + 0.5 * ROWS[:, 0]
    assert np.abs(linear.fit(y, x).predict(ROWS) - truth).max() < 0.1
    assert np.abs(_ridge(y, x) - truth).max() > 0.5


def _release_sizes(
    rng: np.random.Generator, days: np.ndarray | float, n: int, rate: float = 3, size: float = 2e7
) -> np.ndarray:
    """The bytes of the packages released while away: `rate` a day, `size` bytes each."""
    return rng.poisson(rate * np.asarray(days), n) * size * rng.lognormal(0, 0.3, n)


def _releases(seed: int, n: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Downloads of the packages released while away (`_release_sizes`): breaks of hours
    (30%), one to three days (55%) and one to four weeks, as `simulate` spaces runs; the
    break's columns as `train` expands them."""
    rng = np.random.default_rng(seed)
    u = rng.random(n)
    days = np.where(
        u < 0.3,
        rng.uniform(0.05, 1, n),
        np.where(u < 0.85, rng.uniform(1, 3, n), rng.uniform(7, 30, n)),
    )
    return np.log1p(_release_sizes(rng, days, n)), expand(
        log_gap(days * 24)[:, None], ["gap_hours"]
    )


def _release_size(days: float, rate: float = 3, size: float = 2e7) -> float:
    """The truth's median size of a download after `days` away, when one comes."""
    sizes = _release_sizes(np.random.default_rng(0), days, 200000, rate, size)
    return float(np.log1p(np.median(sizes[sizes > 0])))


def test_a_download_after_weeks_away_is_sized_as_its_break(monkeypatch: pytest.MonkeyPatch) -> None:
    """Over 20 histories the size after 25 days and after half a day lies within 0.1 (log)
    of the truth's median; with the plain fits' penalty on the hurdle, the size after weeks
    away came out 0.15 short and the one after hours 0.18 over."""

    def errors() -> tuple[float, float]:
        long, short = [], []
        for seed in range(20):
            model = linear.fit(*_releases(seed))
            for days, out in ((25.0, long), (0.5, short)):
                row = expand(log_gap(np.array([days * 24]))[:, None], ["gap_hours"])
                out.append(model.predict(row)[0] - _release_size(days))
        return float(np.median(long)), float(np.median(short))

    long, short = errors()
    assert abs(long) < 0.1 and abs(short) < 0.1
    monkeypatch.setattr(linear, "HURDLE_PENALTY", linear.PENALTY)
    long, short = errors()
    assert long < -0.1 and short > 0.1


def test_a_download_hours_after_the_last_is_at_least_what_short_breaks_brought() -> None:
    """A plugin whose 80 MB packages come 0.6 a day, run mostly days apart and hours apart on
    15% of its runs: what comes two hours after the last is one package. Over 20 histories
    the line in the log of the hours reads it about a log unit short (a third of its size);
    floored by the smallest size fetched after the shortest breaks, within 0.3 (a package
    a quarter below the typical one). Two weeks away the floor leaves the line as it is."""

    def sizes_after(hours: float) -> tuple[float, float]:
        floored, lines = [], []
        for seed in range(20):
            rng = np.random.default_rng(seed)
            u = rng.random(80)
            days = np.where(
                u < 0.15,
                rng.uniform(0.05, 0.3, 80),
                np.where(u < 0.8, rng.uniform(1, 4, 80), rng.uniform(7, 30, 80)),
            )
            y = np.log1p(_release_sizes(rng, days, 80, 0.6, 8e7))
            model = linear.fit(y, expand(log_gap(days * 24)[:, None], ["gap_hours"]))
            row = expand(log_gap(np.array([hours]))[:, None], ["gap_hours"])
            design = np.column_stack([[model.last], row])
            floored.append(model.at(design)[0])
            lines.append(model.line(design)[0])
        truth = _release_size(hours / 24, 0.6, 8e7)
        return float(np.median(floored)) - truth, float(np.median(lines)) - truth

    floored, line = sizes_after(2.0)
    assert abs(floored) < 0.3 and line < -0.6
    assert sizes_after(14 * 24.0)[0] == sizes_after(14 * 24.0)[1]


def test_hurdle_sizes_follow_a_level_shift_faster_than_an_unweighted_fit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """25 runs after a shift, the recent sizes outweigh the old ones; unweighted, the robust fit
    still takes them for outliers."""
    y, x = _downloads(2, shift_at=35)
    truth = 4.0 + 0.5 * ROWS[:, 0]
    monkeypatch.setattr(linear, "LEAN_T", np.inf)  # the sizes' own weights, without the lean's
    monkeypatch.setattr(changes, "SINCE_T", np.inf)  # nor the fit since the change
    recent = np.abs(linear.fit(y, x).predict(ROWS) - truth).max()
    monkeypatch.setattr(linear, "RECENCY", 1.0)
    unweighted = np.abs(linear.fit(y, x).predict(ROWS) - truth).max()
    assert unweighted > 0.5
    assert recent < 0.25


def _noisy_shift(seed: int, n: int = 90, at: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Download sizes of log noise 0.4, x2.5 (+0.9) from run `at` on; a quarter fetch nothing."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 5, n)
    y = 3.0 + 0.5 * x + rng.normal(0, 0.4, n) + np.where(np.arange(n) >= at, 0.9, 0.0)
    y[rng.random(n) < 0.25] = 0.0
    return y, x[:, None]


def test_hurdle_sizes_after_a_lasting_change_are_fitted_on_the_runs_since(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """40 runs after the sizes grew 2.5-fold, in noise that hides it from the lean's dozen
    runs: fitted on the sizes since, the line sits within 0.1 of the new level on average
    over 12 histories (-0.05 measured); weighed by recency alone it stayed 0.19 short."""
    truth = 3.9 + 0.5 * ROWS[:, 0]

    def lean() -> float:
        return float(
            np.mean(
                [(linear.fit(*_noisy_shift(s)).predict(ROWS) - truth).mean() for s in range(12)]
            )
        )

    assert abs(lean()) < 0.1
    monkeypatch.setattr(changes, "SINCE_T", np.inf)
    assert lean() < -0.15


def test_a_hurdles_calibration_after_a_change_reads_the_runs_since() -> None:
    """The walk's fits call a change only a dozen sizes after it: their forecasts of those
    runs read the old sizes for the new (0.6-0.8 short), and their errors widened every
    interval after it. In hindsight each run since is forecast by the fit on the others
    since: within 0.1 on average; the runs before keep the walk's forecasts."""
    for seed in range(5):
        y, x = _downloads(seed, shift_at=40)
        raced = Backtest(*linear.walk(y, x, 20))
        known = linear.hindsight(y, x, 20, raced)
        first = linear.since(y, x)
        assert first in range(40, 44)
        sizes = np.flatnonzero(y[40:52] > 0) + 40
        assert np.mean(y[sizes] - raced.forecasts[sizes - 20]) > 0.5
        assert abs(np.mean(y[sizes] - known.forecasts[sizes - 20])) < 0.1
        before = slice(0, first - 20)
        assert np.array_equal(known.forecasts[before], raced.forecasts[before])
        assert known.inflation is not None and raced.inflation is not None
        assert np.all(known.inflation[first - 20 :] == raced.inflation[-1])
    steady = Backtest(*linear.walk(*_downloads(0), 20))
    assert linear.hindsight(*_downloads(0), 20, steady) is steady


def test_a_line_behind_a_level_shift_refits_on_recent_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """15 runs after the level rose by 1 (e^1: the backlog grew for good), the Huber line takes
    them for outliers and stays a whole unit low; the line refitted where its last residuals
    lean is within a third of the new level (fails without the refit, or with a gate that
    misses the lean)."""
    truth = 4.0 + 0.5 * ROWS[:, 0]
    gated, plain = [], []
    for seed in range(5):
        y, x = _history(seed)
        y[45:] += 1.0
        gated.append(np.abs(linear.fit(y, x).predict(ROWS) - truth).max())
        with monkeypatch.context() as m:
            m.setattr(linear, "LEAN_T", np.inf)
            plain.append(np.abs(linear.fit(y, x).predict(ROWS) - truth).max())
    assert min(plain) > 0.85
    assert np.mean(gated) < 0.3 and max(gated) < 0.45


def test_a_steady_line_is_rarely_refitted() -> None:
    """Without a change, the refit costs precision and fires by chance alone: on 100 steady
    histories, at four cuts each, under 3% of the fits (0.75% measured; a t-test at one
    standard error fires on 25%)."""
    fired = 0
    for seed in range(100):
        y, x = _history(seed)
        for t in (30, 40, 50, 60):
            _, weights = linear._fit(y[:t], x[:t])
            fired += weights[0] < 1.0
    assert fired < 12


def test_the_inflation_sees_the_refit_weights() -> None:
    """The refitted line counts recent runs more, so it rests on fewer effective runs and errs
    more: the final fit's inflation grows, and the calibration residuals widen with it."""
    y, x = _history(0)
    steady = linear.walk(y, x, 60)[1][0]
    y[45:] += 1.0
    assert steady == pytest.approx(1 + 3 / (59 - 3 - 1))
    weights = linear.LEAN_RECENCY ** np.arange(58.0, -1.0, -1.0)
    m = weights.sum() ** 2 / np.square(weights).sum()
    assert linear.walk(y, x, 60)[1][0] == pytest.approx(1 + 3 / (m - 3 - 1))


def test_zeros_a_report_foresees_keep_the_plain_ridge() -> None:
    """A report of nothing to download is zero exactly when nothing comes: one line fits both."""
    y, gap = _downloads(1)
    x = np.column_stack([gap[:, 0], np.where(y > 0, y - 1.0, 0.0)])
    rows = np.array([[1.0, 0.0], [2.0, 4.0]])
    model = Ridge(alpha=linear.PENALTY).fit(np.column_stack([y[:-1], x[1:]]), y[1:])
    expected = model.predict(np.column_stack([np.full(len(rows), y[-1]), rows]))
    assert np.allclose(linear.fit(y, x).predict(rows), expected)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(0, 25, allow_nan=False), min_size=4, max_size=40),
    st.integers(0, 2**32 - 1),
)
def test_one_step_forecasts_only_see_the_past(values: list[float], seed: int) -> None:
    y = np.array(values)
    x = np.random.default_rng(seed).uniform(0, 8, (len(y), 2))
    start = 2
    out, inflation = linear.walk(y, x, start)
    assert out.shape == (len(y) - start,) and np.isfinite(out).all()
    assert inflation.shape == (len(y) - start + 1,) and (inflation >= 1).all()
    for t in (start, len(y) - 1):
        expected = linear.fit(y[:t], x[:t]).predict(x[t])[0]
        assert np.isclose(out[t - start], expected)
        changed = y.copy()
        changed[t:] += 100.0  # the future changes, the forecast for t does not
        assert np.isclose(linear.walk(changed, x, start)[0][t - start], out[t - start])


def test_the_race_scores_sizes_not_zeros() -> None:
    """A model of the size loses to one line through zeros and sizes when the zeros count as
    its errors; the zeros are the calibration's to replay, so the size model wins."""
    y, _ = _downloads(1)
    censored = np.zeros(len(y), dtype=bool)
    forecasts = {"size": np.where(y > 0, y, 6.0), "between": np.where(y > 0, y - 1.2, 1.5)}
    backtests = {name: Backtest(f) for name, f in forecasts.items()}
    best, scores = race.choose(y, censored, 0, backtests)
    assert best.name == "size"
    assert scores["size"] == 0.0
    assert race.mae(y, forecasts["between"], censored) == pytest.approx(1.2)
    everything = np.mean(np.abs(y - forecasts["size"])) > np.mean(np.abs(y - forecasts["between"]))
    assert everything  # over all runs, zeros included, the line between would have won


def test_calibration_scaled_to_the_final_fit_covers_as_asked() -> None:
    """Three covariates, Gaussian noise: 39 one-step residuals from fits on 10-48 runs are wider
    than the errors of the fit on all 49, and their 90% interval covers the next runs about 0.92.
    Scaled by `walk`'s error inflation they cover 0.90 (fails unscaled, or the ratio inverted)."""
    rng = np.random.default_rng(0)
    n, start, fresh = 49, 10, 20
    raw, scaled = [], []
    for _ in range(250):
        x = 3 * rng.normal(size=(n + fresh, 3))
        y = 3 + x @ rng.normal(size=3) * 0.1 + rng.normal(scale=0.1, size=n + fresh)
        forecasts, inflation = linear.walk(y[:n], x[:n], start)
        residuals = y[start:n] - forecasts
        errors = y[n:] - linear.fit(y[:n], x[:n]).predict(x[n:])
        for hits, values in (
            (raw, residuals),
            (scaled, residuals * np.sqrt(inflation[-1] / inflation[:-1])),
        ):
            b = conformal.bounds(list(values), 0.9)
            hits.extend((b.lower <= errors) & (errors <= b.upper))
    assert np.mean(raw) > 0.915
    assert 0.885 < np.mean(scaled) < 0.912


def test_the_inflation_counts_the_runs_a_fit_really_uses() -> None:
    """1 + p / (m - p - 1), p = 5 (intercept, last run, three covariates), capped at 2. A hurdle
    fits only the runs that downloaded, recent ones weighing more: m is their effective number."""
    rng = np.random.default_rng(1)
    x = rng.uniform(1, 5, size=(41, 3))
    y = 3 + x.sum(axis=1)
    assert linear.walk(y, x, 21)[1][0] == pytest.approx(1 + 5 / (20 - 5 - 1))
    assert linear.walk(y, x, 9)[1][0] == 2.0
    y[::2] = 0.0
    weights = linear.RECENCY ** np.arange(0.0, 40.0, 2.0)  # the odd runs, every other one
    m = weights.sum() ** 2 / np.square(weights).sum()
    assert linear.walk(y, x, 41)[1][0] == pytest.approx(1 + 5 / max(m - 6, 5))


def test_a_baseline_of_a_download_with_zeros_is_the_size_of_what_comes() -> None:
    """A new user's flatpak: 300 MB, nothing, 4.5 GB after three weeks away, nothing, 80 MB,
    nothing, 46 MB. The median across zeros and sizes forecast 17 KB before the 80 MB run
    and its error read 8.4 in the log (2.7 from the sizes); an hour after the last run it read
    9.5 GB [0 B, 15.8 GB]. The baselines read the sizes (the calibration replays the zeros),
    unless a report foresees the zeros, where they read every run."""
    from update_estimate.fitting.candidates.baselines import baselines
    from update_estimate.fitting.features import CALENDAR_COLUMNS

    sizes = np.log1p(np.array([300e6, 0, 4.5e9, 0, 80e6, 0, 46e6]))
    hours = np.array([35.0, 42, 526, 31, 39, 6, 1])
    calendar = np.zeros((len(sizes), CALENDAR_COLUMNS))
    gaps = np.column_stack([log_gap(hours), calendar])
    naive, median = baselines()
    forecasts = median.backtest(sizes, gaps, 3, 1).forecasts
    assert forecasts[1] == pytest.approx(np.median(sizes[[0, 2]]))
    assert np.abs(sizes[4] - forecasts[1]) < 3.0
    assert naive.fit(sizes, gaps).model == pytest.approx(sizes[6])
    assert naive.fit(sizes[:6], gaps[:6]).model == pytest.approx(sizes[4])
    reported = np.column_stack([log_gap(hours), np.where(sizes > 0, sizes, 0.0), calendar])
    assert median.backtest(sizes, reported, 3, 1).forecasts[1] == pytest.approx(
        np.median(sizes[:4])
    )
    s = make_series(np.expm1(sizes), hours, metric="download_bytes")
    answer = next_estimate(s, after_hours=1.0, only=("rolling_median",))
    assert answer.point < 4.5e9 / 10
