"""What repeated answers share, kept by one `Estimator` between calls.

update-all asks again and again during a run: the same records at the same start time give
the same predictives, the same predictives the same joint draws, and the remaining time's
conditional medians at the checkpoints already passed do not change. A `Memo` keeps those,
keyed by the identity of the objects they came from (kept alive with them, so an identity is
never reused) and by the plain values that complete the question. Answers are the same with
or without it. Bounded, so a long-lived caller never grows it without limit.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")
LIMIT = 4096


class Memo:
    def __init__(self) -> None:
        self._items: dict[Hashable, tuple[tuple[object, ...], Any]] = {}

    def get(
        self, name: str, owners: tuple[object, ...], extra: Hashable, make: Callable[[], T]
    ) -> T:
        """`make()`, computed once for these objects (by identity) and `extra`."""
        hit = self.peek(name, owners, extra)
        if hit is not None:
            value: T = hit
            return value
        return self.store(name, owners, extra, make())

    def peek(self, name: str, owners: tuple[object, ...], extra: Hashable) -> Any | None:
        hit = self._items.get((name, tuple(id(o) for o in owners), extra))
        if hit is not None and all(a is b for a, b in zip(hit[0], owners, strict=True)):
            return hit[1]
        return None

    def store(self, name: str, owners: tuple[object, ...], extra: Hashable, value: T) -> T:
        if len(self._items) >= LIMIT:
            self._items.clear()
        self._items[(name, tuple(id(o) for o in owners), extra)] = (owners, value)
        return value
