"""Switchable failure modes, so tests can make the endpoint misbehave (or vanish) mid-run."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

FAULTS = ("slow", "hang", "500", "404", "malformed")

#: Delay used by ``slow`` when none is given: longer than the library's default 1 s budget.
DEFAULT_SLOW_DELAY_S = 2.0
#: A hanging request is released after this long at the latest, so no thread lives forever.
MAX_HANG_S = 3600.0
#: Distinct routes counted; unknown paths beyond this share one bucket.
MAX_COUNTED_ROUTES = 64


@dataclass(frozen=True, slots=True)
class Fault:
    name: str | None = None
    delay_s: float = 0.0


class FaultState:
    """The current fault plus request counters; shared by all handler threads."""

    def __init__(self, name: str | None = None, delay_s: float | None = None) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._fault = _make(name, delay_s)
        self._requests: Counter[str] = Counter()
        self._stopping = False

    @property
    def current(self) -> Fault:
        with self._lock:
            return self._fault

    def set(self, name: str | None, delay_s: float | None = None) -> Fault:
        fault = _make(name, delay_s)
        with self._changed:
            self._fault = fault
            self._changed.notify_all()
        return fault

    def count(self, route: str) -> None:
        with self._lock:
            if route not in self._requests and len(self._requests) >= MAX_COUNTED_ROUTES:
                route = "other"
            self._requests[route] += 1

    def requests(self) -> dict[str, int]:
        with self._lock:
            return dict(self._requests)

    def reset_counts(self) -> None:
        with self._lock:
            self._requests.clear()

    def hang(self) -> None:
        """Block while the fault stays ``hang`` (bounded), as a wedged agent would."""
        with self._changed:
            self._changed.wait_for(lambda: self._fault.name != "hang" or self._stopping, timeout=MAX_HANG_S)

    def stop(self) -> None:
        with self._changed:
            self._stopping = True
            self._changed.notify_all()

    def snapshot(self) -> dict[str, Any]:
        fault = self.current
        return {"fault": fault.name, "delay_s": fault.delay_s, "requests": self.requests()}


def _make(name: str | None, delay_s: float | None) -> Fault:
    if name is not None and name not in FAULTS:
        raise ValueError(f"unknown fault {name!r}; choose one of {', '.join(FAULTS)} or null")
    if delay_s is None:
        delay_s = DEFAULT_SLOW_DELAY_S if name == "slow" else 0.0
    if delay_s < 0:
        raise ValueError("delay_s must be >= 0")
    return Fault(name, float(delay_s))
