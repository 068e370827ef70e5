"""The past runs most like the run under way, judged by the plugins already done in it.

A slow mirror or a slow network shows in the first plugins' times; the same past runs'
residuals then replay for the plugins still to come. Each past run is ranked by how far its
residuals of the done plugins lie from today's (in units of each plugin's own spread); the
nearest share is kept. Where the plugins share nothing, the kept runs are a random subset and
the intervals stay calibrated, only read from fewer runs; so never fewer than MIN_NEIGHBOURS.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from update_estimate.serving import conformal
from update_estimate.serving.predictive import Predictive

NEIGHBOUR_SHARE = 0.5
MIN_NEIGHBOURS = 30


def nearest(evidence: Sequence[tuple[Predictive, float]]) -> frozenset[int] | None:
    """Past runs nearest today's, from (done plugin's predictive, its actual value) pairs;
    None where the evidence is too thin to choose."""
    distance: dict[int, list[float]] = {}
    for p, actual in evidence:
        own = p.by_run()
        if len(own) < MIN_NEIGHBOURS:
            continue
        values = sorted(own.values())
        scale = max(conformal.median([abs(e - conformal.median(values)) for e in values]), 1e-6)
        today = math.log1p(actual) - p.centre
        for run, e in own.items():
            distance.setdefault(run, []).append(abs(e - today) / scale)
    keep = max(MIN_NEIGHBOURS, math.ceil(len(distance) * NEIGHBOUR_SHARE))
    if len(distance) <= keep:
        return None
    ranked = sorted(distance, key=lambda r: (sum(distance[r]) / len(distance[r]), r))
    return frozenset(ranked[:keep])


def restrict(p: Predictive, runs: frozenset[int] | None) -> Predictive:
    """The predictive calibrated on those runs (and its untagged residuals) alone."""
    if runs is None:
        return p
    keep = [i for i, r in enumerate(p.runs) if r is None or r in runs]
    if len(keep) < MIN_NEIGHBOURS or len(keep) == len(p.runs):
        return p
    return p._replace(
        residuals=[p.residuals[i] for i in keep],
        censored=[p.censored[i] for i in keep],
        runs=[p.runs[i] for i in keep],
    )
