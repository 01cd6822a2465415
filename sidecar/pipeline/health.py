"""Whether an exporter has "failed persistently": every attempt of the last 60 s failed, at least 5."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

WINDOW_S = 60.0
MIN_ATTEMPTS = 5


class ExporterHealth:
    def __init__(self, name: str, clock: Callable[[], float] = time.monotonic, max_records: int = 4096) -> None:
        self.name = name
        self._clock = clock
        # (time, ok) of recent attempts; bounded, and a full window of failures needs only MIN_ATTEMPTS.
        self._attempts: deque[tuple[float, bool]] = deque(maxlen=max_records)
        self.last_error = ""
        #: Wall-clock time of the last failed attempt (``time.time()``), 0 when none failed yet.
        self.last_error_at = 0.0

    def record(self, ok: bool, reason: str = "") -> None:
        self._attempts.append((self._clock(), ok))
        if not ok:
            self.last_error = reason
            self.last_error_at = time.time()

    def failed_persistently(self) -> bool:
        cutoff = self._clock() - WINDOW_S
        while self._attempts and self._attempts[0][0] < cutoff:
            self._attempts.popleft()
        return len(self._attempts) >= MIN_ATTEMPTS and not any(ok for _, ok in self._attempts)

    def recent(self) -> tuple[int, int]:
        """(attempts, failures) within the window."""
        self.failed_persistently()
        failures = sum(1 for _, ok in self._attempts if not ok)
        return len(self._attempts), failures
