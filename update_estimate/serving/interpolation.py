"""The stored grid of a forecast record, read at today's covariates: multilinear inside the
grid on the log1p scale (on the raw scale for a sum of costs), and beyond it along each axis
from its edge."""

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
FLAT = 1e-9  # an edge's slope below this: the forecast does not move along the axis


def _bracket(axis: Sequence[float], value: float, summed: bool) -> tuple[int, int, float]:
    """Indices and weight of `value` between two nodes, clamped at the edges: on the log1p
    scale, or on the raw one for a sum of costs (`Variant.summed`)."""
    scale = (lambda v: max(v, 0.0)) if summed else (lambda v: math.log1p(max(v, 0.0)))
    xs = [scale(v) for v in axis]
    x = scale(value)
    if x <= xs[0]:
        return 0, 0, 0.0
    if x >= xs[-1]:
        return len(xs) - 1, len(xs) - 1, 0.0
    hi = bisect.bisect_right(xs, x)
    lo = hi - 1
    return lo, hi, (x - xs[lo]) / (xs[hi] - xs[lo])


def interpolate(variant: Variant, values: Mapping[str, float]) -> float:
    """Multilinear interpolation of the record's node forecasts at the given covariates.

    A sum of costs (`Variant.summed`) is read on the raw scale, of its covariates and of its
    values, where it is linear along each axis and multilinear interpolation is exact. On
    the log1p scale its logarithm is convex, and every line between two nodes lay above it:
    a report between two quantiles of the plugin's reports was answered high."""
    axes = variant.axes
    points = variant.points
    if not axes:
        return float(points[0])
    summed = variant.summed
    brackets = [_bracket(nodes, values[name], summed) for name, nodes in axes]
    sizes = [len(nodes) for _, nodes in axes]
    total = 0.0
    for corner in range(2 ** len(axes)):
        weight, flat = 1.0, 0
        for dim, (lo, hi, w) in enumerate(brackets):
            upper = (corner >> dim) & 1
            weight *= w if upper else 1 - w
            flat = flat * sizes[dim] + (hi if upper else lo)
        if weight:
            total += weight * (math.expm1(points[flat]) if summed else points[flat])
    return math.log1p(max(total, 0.0)) if summed else total


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
        if abs(rate) > FLAT:
            distance += abs(past) / (math.log1p(nodes[-1]) - math.log1p(nodes[0]))
        beyond.append(name)
    return Located(edge + shift, shift, distance, tuple(beyond))
