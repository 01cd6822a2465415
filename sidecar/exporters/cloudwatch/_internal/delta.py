"""Cumulative → delta, as DESIGN.md decides it.

A series first seen with a start time later than the sidecar's own start began after we did,
so its first point is emitted in full (its delta from zero). Only a series first seen with an
earlier (or unknown) start time keeps its first point as a baseline, because we cannot know
how much of it was already reported. A reset (a new start time, or a value going down) starts
again from zero, so the point is emitted in full; an unchanged series emits zeros; nothing is
ever negative. The same point seen again (the pipeline retrying a batch) yields the same
answer, so a retry never turns a delta into zero. The table is bounded (least recently seen series are forgotten first, counted).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass


@dataclass(slots=True)
class _Series:
    start_ns: int
    values: tuple[float, ...]
    time_ns: int = 0
    emitted: tuple[float, ...] | None = None


class CumulativeToDelta:
    def __init__(self, process_start_ns: int, max_series: int = 20_000) -> None:
        self.process_start_ns = process_start_ns
        self.max_series = max_series
        self._series: OrderedDict[Hashable, _Series] = OrderedDict()
        #: Series forgotten to stay within ``max_series`` (their next point becomes a baseline).
        self.evicted = 0
        #: First points withheld as baselines.
        self.baselines = 0

    def __len__(self) -> int:
        return len(self._series)

    def delta(
        self, key: Hashable, start_ns: int, values: Sequence[float], time_ns: int = 0
    ) -> tuple[float, ...] | None:
        """The increase since the previous point of ``key``; ``None`` when this point is a baseline.

        ``values[0]`` must be monotonic (a counter's value, a histogram's count); other entries
        (sums, bucket counts) follow it.
        """
        current = tuple(values)
        previous = self._series.get(key)
        if previous is None:
            emitted = current if start_ns and start_ns > self.process_start_ns else None
            self._series[key] = _Series(start_ns, current, time_ns, emitted)
            if len(self._series) > self.max_series:
                self._series.popitem(last=False)
                self.evicted += 1
            if emitted is None:
                self.baselines += 1
            return emitted
        self._series.move_to_end(key)
        if time_ns and time_ns == previous.time_ns and current == previous.values:
            return previous.emitted
        reset = (start_ns and start_ns > previous.start_ns) or current[0] < previous.values[0]
        old = previous.values
        if reset or len(old) != len(current):
            emitted = current
        else:
            emitted = tuple(max(0.0, c - o) for c, o in zip(current, old, strict=True))
        previous.start_ns = start_ns or previous.start_ns
        previous.values, previous.time_ns, previous.emitted = current, time_ns, emitted
        return emitted
