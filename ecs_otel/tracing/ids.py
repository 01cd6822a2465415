"""Trace ids X-Ray accepts: the first 32 bits are the start time in epoch seconds."""

from __future__ import annotations

import random
import time

from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import INVALID_SPAN_ID


class XRayIdGenerator(IdGenerator):
    """Epoch-prefixed trace ids; X-Ray rejects segment trace ids older than 30 days, so the prefix matters.

    ``random.getrandbits`` is re-seeded by CPython in every forked child, so workers never repeat ids.
    """

    def generate_span_id(self) -> int:
        span_id = random.getrandbits(64)
        while span_id == INVALID_SPAN_ID:
            span_id = random.getrandbits(64)
        return span_id

    def generate_trace_id(self) -> int:
        return (int(time.time()) << 96) | random.getrandbits(96)
