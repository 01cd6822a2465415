"""X-Ray ids from OTLP ids.

An X-Ray trace id is ``1-<8 hex epoch seconds>-<24 hex>``, the 128 bits of an OTLP trace id
split after 32 bits. X-Ray rejects traces whose first 32 bits are not a recent epoch, which
is the case for random W3C ids (the OpenTelemetry SDKs' default id generator). Those ids are
either dropped or re-mapped: the random 96 bits are kept and the epoch replaced by the time
the trace was first seen, remembered in a bounded table so every span of a trace gets the
same id.
"""

from __future__ import annotations

from collections import OrderedDict

#: OTLP's id sizes; an id of another length has no X-Ray form.
TRACE_ID_BYTES = 16
SPAN_ID_BYTES = 8
#: X-Ray accepts traces up to 30 days old; allow a little clock skew into the future.
MAX_AGE_S = 30 * 24 * 3600
MAX_FUTURE_S = 5 * 60


def plausible_epoch(trace_id: bytes, now_s: float) -> bool:
    epoch = int.from_bytes(trace_id[:4], "big")
    return now_s - MAX_AGE_S <= epoch <= now_s + MAX_FUTURE_S


def format_trace_id(trace_id: bytes) -> str:
    h = trace_id.hex()
    return f"1-{h[:8]}-{h[8:]}"


class TraceIdRemapper:
    """Gives non-epoch trace ids a stable epoch prefix; remembers at most ``capacity`` traces."""

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._epochs: OrderedDict[bytes, int] = OrderedDict()
        #: Traces forgotten to stay within ``capacity``; a late span of such a trace gets a new epoch.
        self.evicted = 0

    def remap(self, trace_id: bytes, first_seen_s: float) -> str:
        epoch = self._epochs.get(trace_id)
        if epoch is None:
            epoch = int(first_seen_s)
            self._epochs[trace_id] = epoch
            if len(self._epochs) > self.capacity:
                self._epochs.popitem(last=False)
                self.evicted += 1
        else:
            self._epochs.move_to_end(trace_id)
        return f"1-{epoch:08x}-{trace_id[4:].hex()}"
