"""The past runs most like the run under way, judged by what it has shown so far.

A slow mirror or a slow network shows in the first plugins' times; the same past runs'
residuals then replay for the plugins still to come. Each past run gets a score: how slow its
done plugins were (for the running plugin's later phases: its own last finished phase), each
residual in units of that series' own spread, averaged. A plugin still to come is drawn from
the past runs whose score is nearest today's, but only where its own residuals have followed
that score (a clear correlation over the past runs): where plugins share nothing, choosing
runs by another plugin's luck only throws runs away.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

from update_estimate.serving import conformal
from update_estimate.serving.predictive import Predictive

NEIGHBOUR_SHARE = 0.5  # of a plugin's past runs, the nearest kept
MIN_NEIGHBOURS = 30
# where a running plugin's own last finished phase judges its later ones: its download says
# more of its install than other plugins' luck says of the run, and a 60-run history's phases
# name about 30 runs, no more than MIN_NEIGHBOURS keeps
OWN_NEIGHBOURS = 15
MIN_CORRELATION = 0.3


class Neighbourhood(NamedTuple):
    today: float  # today's score
    scores: dict[int, float]  # each past run's
    fewest: int = MIN_NEIGHBOURS  # past runs kept, and more than that to choose from


def _standardised(p: Predictive) -> tuple[dict[int, float], float, float]:
    own = p.by_run()
    values = sorted(own.values())
    centre = conformal.median(values)
    scale = max(conformal.median([abs(e - centre) for e in values]), 1e-6)
    return own, centre, scale


def neighbourhood(
    evidence: Sequence[tuple[Predictive, float]], fewest: int = MIN_NEIGHBOURS
) -> Neighbourhood | None:
    """Scores from (predictive, what it really took today) pairs, each predictive with at
    least `fewest` past runs; None without evidence."""
    sums: dict[int, list[float]] = {}
    today: list[float] = []
    for p, actual in evidence:
        own, centre, scale = _standardised(p)
        if len(own) < fewest:
            continue
        today.append((math.log1p(actual) - p.centre - centre) / scale)
        for run, e in own.items():
            sums.setdefault(run, []).append((e - centre) / scale)
    if not today:
        return None
    scores = {r: sum(v) / len(v) for r, v in sums.items()}
    return Neighbourhood(sum(today) / len(today), scores, fewest)


def _correlation(xs: Sequence[float], ys: Sequence[float]) -> float:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    return sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else 0.0


def restrict(p: Predictive, hood: Neighbourhood | None) -> Predictive:
    """The predictive calibrated on its past runs nearest today's score, where its residuals
    have followed the score; otherwise unchanged."""
    if hood is None:
        return p
    shared = [
        (i, hood.scores[r]) for i, r in enumerate(p.runs) if r is not None and r in hood.scores
    ]
    if len(shared) <= hood.fewest:  # nothing to choose from
        return p
    mine = [p.residuals[i] for i, _ in shared]
    if _correlation([s for _, s in shared], mine) < MIN_CORRELATION:
        return p
    keep = max(hood.fewest, math.ceil(len(shared) * NEIGHBOUR_SHARE))
    nearest = sorted(shared, key=lambda t: (abs(t[1] - hood.today), t[0]))[:keep]
    chosen = sorted(i for i, _ in nearest)
    return p._replace(
        residuals=[p.residuals[i] for i in chosen],
        censored=[p.censored[i] for i in chosen],
        runs=[p.runs[i] for i in chosen],
        quiet=tuple(p.quiet[i] for i in chosen) if p.quiet else (),
    )
