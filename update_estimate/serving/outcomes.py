"""A plugin still to come, as a run will meet it: mostly an execution like its series (which
holds those that succeeded or timed out), sometimes a failed or a skipped one, that ends
early (`record.Outcomes`). Left out, a skipped plugin to come put the run's remaining time
below its interval: in simulated runs, a quarter of the moments during a run had a failed or
skipped plugin still ahead."""

from __future__ import annotations

import math
import random
import zlib

from update_estimate.record import Outcomes
from update_estimate.serving.predictive import Predictive


def mixed(p: Predictive, outcomes: Outcomes | None, name: str) -> Predictive:
    """`p` with the share of its residuals that the plugin's other outcomes take replaced by
    theirs: evenly spread over its past runs (so a joint draw meets them at their rate), from
    a seed of the plugin's name (so answers repeat)."""
    if outcomes is None or not outcomes.values or outcomes.share <= 0 or p.basis == "default":
        return p
    rng = random.Random(zlib.crc32(name.encode()))
    offset = rng.random()
    residuals, censored = list(p.residuals), list(p.censored)
    replaced = False
    for i in range(len(residuals)):
        if math.floor((i + 1) * outcomes.share + offset) > math.floor(i * outcomes.share + offset):
            residuals[i] = math.log1p(rng.choice(outcomes.values)) - p.centre
            censored[i], replaced = False, True
    # a failed or skipped run is of neither kind: the kinds no longer answer apart
    quiet = () if replaced else p.quiet
    return p._replace(residuals=residuals, censored=censored, quiet=quiet)
