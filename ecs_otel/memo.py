"""Bounded memo tables: remembered answers that empty themselves when full and count what they let go.

Why one mechanism: both halves keep small tables of computed answers on hot paths (encoded resources and
attribute values, normalised span names, parsed resource keys, metric series keys). Every one of them must
be bounded and say how much it dropped, the project's rule for any cache. Emptying a table when it is full
is the cheapest bound there is (no bookkeeping on a hit, one ``len`` on a miss): the working set of a
service refills on its next requests, and a table that keeps emptying shows it in its eviction count.

Counts are kept per table name for the process (:func:`evictions`); the sidecar publishes them as
``ecs_otel_sidecar_cache_evictions_total{cache="…"}``. Reads go straight to :attr:`Memo.data` (a plain
dict, never replaced, so a local alias stays valid); writes go through :meth:`Memo.put`.
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

__all__ = ["Memo", "evictions"]

K = TypeVar("K")
V = TypeVar("V")

_lock = threading.Lock()
_evicted: dict[str, int] = {}


class Memo(Generic[K, V]):
    """A dict of at most ``limit`` entries, emptied when full; the entries it empties are counted under ``name``."""

    __slots__ = ("data", "evicted", "limit", "name")

    def __init__(self, name: str, limit: int) -> None:
        self.name = name
        self.limit = max(int(limit), 1)
        #: The entries; read them directly (``memo.data.get(key)``), write through :meth:`put`.
        self.data: dict[K, V] = {}
        #: Entries this table has dropped (the process-wide count per name is :func:`evictions`).
        self.evicted = 0
        with _lock:
            _evicted.setdefault(name, 0)

    def put(self, key: K, value: V) -> V:
        """Remember ``value`` under ``key`` (emptying the table first when it is full); returns ``value``."""
        data = self.data
        if len(data) >= self.limit and key not in data:
            dropped = len(data)
            data.clear()
            with _lock:  # both counts under the lock: tables in the app are written from several threads
                self.evicted += dropped
                _evicted[self.name] = _evicted.get(self.name, 0) + dropped
        data[key] = value
        return value

    def get(self, key: K) -> V | None:
        return self.data.get(key)

    def __len__(self) -> int:
        return len(self.data)

    def __contains__(self, key: object) -> bool:
        return key in self.data

    def clear(self) -> None:
        """Forget everything without counting it (the answers went stale, e.g. after a settings change)."""
        self.data.clear()


def evictions() -> dict[str, int]:
    """Entries dropped so far by every memo table of the process, by table name (names with none included)."""
    with _lock:
        return dict(_evicted)
