"""The stored grid of a forecast record, read at today's covariates: multilinear inside the
grid on the log1p scale, and beyond it along each axis from its edge."""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from update_estimate.record import Variant

# Beyond the grid a forecast moves with its edge's slope on the log1p scale, held within
# [0, 1]: more backlog never takes less, and at most in proportion (a fixed cost plus a cost
# per unit of work). Its residuals widen by 1 + the distance past the edge over the axis' span.
EXTRAPOLATION_SLOPE = (0.0, 1.0)


def _bracket(axis: Sequence[float], value: float) -> tuple[int, int, float]:
    """Indices and weight of `value` between two nodes, on log1p scale, clamped at the edges."""
    logs = [math.log1p(v) for v in axis]
    x = math.log1p(max(value, 0.0))
    if x <= logs[0]:
        return 0, 0, 0.0
    if x >= logs[-1]:
        return len(logs) - 1, len(logs) - 1, 0.0
    hi = bisect.bisect_right(logs, x)
    lo = hi - 1
    return lo, hi, (x - logs[lo]) / (logs[hi] - logs[lo])


def interpolate(variant: Variant, values: Mapping[str, float]) -> float:
    """Multilinear interpolation of the record's node forecasts at the given covariates."""
    axes = variant.axes
    points = variant.points
    if not axes:
        return float(points[0])
    brackets = [_bracket(nodes, values[name]) for name, nodes in axes]
    sizes = [len(nodes) for _, nodes in axes]
    total = 0.0
    for corner in range(2 ** len(axes)):
        weight, flat = 1.0, 0
        for dim, (lo, hi, w) in enumerate(brackets):
            upper = (corner >> dim) & 1
            weight *= w if upper else 1 - w
            flat = flat * sizes[dim] + (hi if upper else lo)
        if weight:
            total += weight * points[flat]
    return total


class Located(NamedTuple):
    """A forecast at covariates that may lie beyond the grid."""

    centre: float
    shift: float  # how far extrapolation moved it from the grid's edge (log1p units)
    distance: float  # how far beyond the grid, in spans of each axis, summed over axes
    beyond: tuple[str, ...]  # the axes whose value lies beyond the grid


def locate(variant: Variant, values: Mapping[str, float]) -> Located:
    """Interpolate inside the grid; beyond it, extrapolate from the edge along each axis."""
    axes = variant.axes
    held = {name: min(max(values[name], nodes[0]), nodes[-1]) for name, nodes in axes}
    edge = interpolate(variant, held)
    shift, distance, beyond = 0.0, 0.0, []
    for name, nodes in axes:
        if len(nodes) < 2 or held[name] == values[name]:
            continue
        inner = nodes[1] if values[name] < nodes[0] else nodes[-2]
        x_edge, x_inner = math.log1p(held[name]), math.log1p(inner)
        rate = (edge - interpolate(variant, {**held, name: inner})) / (x_edge - x_inner)
        low, high = EXTRAPOLATION_SLOPE
        past = math.log1p(max(values[name], 0.0)) - x_edge
        shift += min(max(rate, low), high) * past
        distance += abs(past) / (math.log1p(nodes[-1]) - math.log1p(nodes[0]))
        beyond.append(name)
    return Located(edge + shift, shift, distance, tuple(beyond))
