"""When to try an export again: exponential backoff with full jitter, a backend's hint honoured."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    initial_s: float
    max_interval_s: float

    def delay(self, attempt: int, retry_after_s: float | None = None, rng: random.Random | None = None) -> float:
        """Delay before retry number ``attempt`` (1-based).

        Full jitter spreads a crowd of retries; a ``Retry-After`` from the backend is a floor,
        because retrying sooner than asked only earns another refusal.
        """
        ceiling = min(self.max_interval_s, self.initial_s * (2 ** max(0, attempt - 1)))
        jittered = (rng or random).uniform(ceiling / 2, ceiling)
        if retry_after_s is not None and retry_after_s > 0:
            return max(jittered, retry_after_s)
        return jittered
