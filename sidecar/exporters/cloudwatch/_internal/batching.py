"""Splitting log events into valid PutLogEvents calls.

The API's limits: at most 10,000 events and 1,048,576 bytes per call, where each event counts
its UTF-8 message plus 26 bytes; events in chronological order; one call spanning at most
24 hours; no event older than 14 days or more than 2 hours ahead; one event at most
256 KiB including the 26 bytes. Events the API would refuse are filtered here and counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

MAX_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD = 26
MAX_EVENT_BYTES = 256 * 1024
MAX_SPAN_MS = 24 * 3600 * 1000
MAX_AGE_MS = 14 * 24 * 3600 * 1000
MAX_AHEAD_MS = 2 * 3600 * 1000
_TRUNCATION_MARK = "…[truncated]"


@dataclass(slots=True)
class LogEvent:
    timestamp_ms: int
    message: str
    size: int = 0

    def __post_init__(self) -> None:
        if not self.size:
            self.size = len(self.message.encode()) + EVENT_OVERHEAD


@dataclass
class Filtered:
    too_old: int = 0
    too_new: int = 0
    too_large: int = 0
    truncated: int = 0


def truncate(event: LogEvent) -> LogEvent:
    """Cut a log message to the largest size the API accepts, marking the cut."""
    budget = MAX_EVENT_BYTES - EVENT_OVERHEAD - len(_TRUNCATION_MARK.encode())
    text = event.message.encode()[:budget].decode(errors="ignore") + _TRUNCATION_MARK
    return LogEvent(event.timestamp_ms, text)


def acceptable(
    events: Iterable[LogEvent], now_ms: int, filtered: Filtered, truncate_large: bool
) -> list[LogEvent]:
    """Events the API would accept, in chronological order (truncated or dropped when too large)."""
    out: list[LogEvent] = []
    for e in events:
        if e.timestamp_ms < now_ms - MAX_AGE_MS + 60_000:
            filtered.too_old += 1
        elif e.timestamp_ms > now_ms + MAX_AHEAD_MS - 60_000:
            filtered.too_new += 1
        elif e.size > MAX_EVENT_BYTES:
            if truncate_large:
                filtered.truncated += 1
                out.append(truncate(e))
            else:
                filtered.too_large += 1
        else:
            out.append(e)
    out.sort(key=lambda e: e.timestamp_ms)
    return out


def batches(events: list[LogEvent]) -> Iterator[list[LogEvent]]:
    """Consecutive slices of chronologically sorted events, each one valid PutLogEvents call."""
    current: list[LogEvent] = []
    size = 0
    for e in events:
        if current and (
            len(current) >= MAX_EVENTS
            or size + e.size > MAX_BATCH_BYTES
            or e.timestamp_ms - current[0].timestamp_ms > MAX_SPAN_MS
        ):
            yield current
            current, size = [], 0
        current.append(e)
        size += e.size
    if current:
        yield current
