"""Close names for a mistyped plugin: shared by the history reader's errors and `estimate`'s
warnings, with the standard library only."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence


def did_you_mean(name: str, known: Sequence[str]) -> str:
    """` (did you mean apt?)` for a name close to a known one, else nothing."""
    if name in known:
        return ""
    close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.65)
    return f" (did you mean {' or '.join(close)}?)" if close else ""


def unknown_plugins(
    asked: Sequence[str], plugins_by_host: Mapping[str, Sequence[str]]
) -> list[str]:
    """A sentence for each asked plugin that no host of the history has ever run."""
    known = every_plugin(plugins_by_host)
    return [f"no history for {p}{did_you_mean(p, known)}" for p in asked if p not in known]


def every_plugin(plugins_by_host: Mapping[str, Sequence[str]]) -> list[str]:
    return sorted({p for names in plugins_by_host.values() for p in names})
