"""The slow path of `estimate`: ask a stored model when covariates lie outside the stored grid.

Loading a pickle imports darts and executes code, so it happens only for such requests, only
from a trusted cache (owned by this user, not writable by others, sha256 as in the manifest),
written by this version (a model class may have changed since; the next `train` rewrites them),
and only while the time budget allows. Any refusal is warned about once; the grid's edge value
then answers. `estimate` creates one for every answer from a cache: numpy, joblib and darts are
imported only when a model is really asked.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from update_estimate import __version__
from update_estimate.record import SeriesRecord
from update_estimate.serving import cache

if TYPE_CHECKING:
    import numpy as np

IMPORT_SECONDS = 3.0  # darts and a model need about this long to load on this class of machine


@dataclass
class SlowPath:
    generation: cache.Generation
    deadline: float
    warnings: list[str]
    refused: set[str] = field(default_factory=set)

    def _refuse(self, why: str) -> None:
        if why not in self.refused:
            self.refused.add(why)
            self.warnings.append(why)

    def __call__(
        self, record: SeriesRecord, variant: str, values: Mapping[str, float]
    ) -> float | None:
        try:
            manifest = self.generation.manifest
        except cache.CacheUnusable as exc:
            self._refuse(f"{exc}; answering from forecast records")
            return None
        entry = manifest.get("series", {}).get(record.key, {})
        name = entry.get("variants", {}).get(variant, {}).get("pickle")
        if name is None:
            return None
        trained_by = manifest.get("tool_version")
        if trained_by != __version__:
            self._refuse(
                f"models were stored by update-estimate {trained_by}, not {__version__}; "
                "answering from forecast records until `update-estimate train` runs"
            )
            return None
        if time.monotonic() + IMPORT_SECONDS > self.deadline:
            self._refuse("covariates outside the trained range; no time left to load models")
            return None
        try:
            obj = load_pickle(self.generation, name)
        except (cache.CacheUnusable, OSError) as exc:
            self._refuse(f"{exc}; answering from forecast records")
            return None
        axes = [axis.name for axis in record.variants[variant].axes]
        return predict_at(obj, axes, values)


def predict_at(obj: dict[str, Any], axes: list[str], values: Mapping[str, float]) -> float:
    """Build the next run's design row as `train` did, covariates on log1p scale, at the
    grid's reference hour and weekday: the record's calendar offsets move it as they move
    the grid's nodes, so both answer alike at any hour (`grid.shrunk`)."""
    import numpy as np

    from update_estimate.fitting.features import calendar_features, expand
    from update_estimate.fitting.grid import REF_HOUR, REF_WEEKDAY

    names = axes if obj.get("design") == "reports" else ["gap_hours"]
    covariates = expand(np.array([math.log1p(max(values[name], 0.0)) for name in names]), names)
    calendar = calendar_features(np.array([REF_HOUR]), np.array([REF_WEEKDAY]))[0]
    return predict_pickled(obj, np.concatenate([covariates[0], calendar]))


def load_pickle(generation: cache.Generation, file_name: str) -> Any:
    """Load a pickle only from a trusted folder and only when its sha256 matches the manifest."""
    reason = cache.untrusted_reason(generation.path / "models")
    if reason:
        raise cache.CacheUnusable(f"refusing to load pickles: {reason}")
    expected = generation.manifest.get("pickles", {}).get(file_name)
    data = (generation.path / "models" / file_name).read_bytes()
    if expected is None or cache.sha256(data) != expected:
        raise cache.CacheUnusable(
            f"refusing to load {file_name}: sha256 does not match the manifest"
        )
    import io

    import joblib

    return joblib.load(io.BytesIO(data))


def predict_pickled(obj: dict[str, Any], row: np.ndarray) -> float:
    """The slow path: a stored model's forecast for covariates outside the stored grid."""
    from update_estimate.fitting.candidates import additive, linear, neighbours
    from update_estimate.fitting.candidates.base import model_inputs, quiet_libraries
    from update_estimate.fitting.candidates.regression import predict_next
    from update_estimate.fitting.candidates.statistical import to_series

    model = obj["model"]
    calendar = bool(obj.get("calendar"))
    rows = model_inputs(row[None, :], calendar)
    if isinstance(model, linear.LinearModel | neighbours.GapNeighbours | additive.AdditiveModel):
        return float(model.predict(rows)[0])
    quiet_libraries()
    if not obj.get("covariates"):
        return float(model.predict(1).values()[0, 0])
    past = model_inputs(obj["x"], calendar)
    return float(predict_next(model, to_series(obj["y"]), past, rows)[0])
