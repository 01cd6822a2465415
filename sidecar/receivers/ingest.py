"""What both OTLP receivers do with a decoded request: count it and hand it to the pipeline.

Kept apart from the transports so that HTTP and gRPC answer the same things for the same
reasons, and their counters carry the same names.
"""

from __future__ import annotations

import logging

from google.protobuf.message import Message

from sidecar.otlp.signals import Signal, item_count
from sidecar.pipeline.consumer import BackPressure, Consumer
from sidecar.pipeline.telemetry import Registry

REQUESTS = "ecs_otel_sidecar_receiver_requests_total"
ACCEPTED = "ecs_otel_sidecar_receiver_accepted_items_total"
REFUSED = "ecs_otel_sidecar_receiver_refused_items_total"
REQUEST_BYTES = "ecs_otel_sidecar_receiver_request_bytes_total"


log = logging.getLogger("ecs_otel.sidecar.receivers")


class PipelineError(Exception):
    """A stage failed unexpectedly on a batch (answered as HTTP 500 / gRPC INTERNAL)."""


class Ingest:
    """Counts requests and items per receiver and signal, and forwards batches to ``consumer``."""

    def __init__(self, receiver: str, consumers: dict[Signal, Consumer], telemetry: Registry) -> None:
        self.receiver = receiver
        self.consumers = consumers
        self.requests = telemetry.counter(
            REQUESTS, "Requests received, by receiver, signal and outcome (ok, bad_request, too_large, "
            "unsupported, unauthenticated, backpressure, error).", ("receiver", "signal", "outcome")
        )
        self.accepted = telemetry.counter(
            ACCEPTED, "Items (spans, data points, log records) handed to the pipeline.", ("receiver", "signal")
        )
        self.refused = telemetry.counter(
            REFUSED, "Items refused under back-pressure (the client is told to retry).", ("receiver", "signal", "reason")
        )
        self.bytes = telemetry.counter(
            REQUEST_BYTES, "Decoded request body bytes received.", ("receiver", "signal")
        )

    def outcome(self, signal: Signal | str, outcome: str) -> None:
        self.requests.inc(receiver=self.receiver, signal=str(signal), outcome=outcome)

    async def deliver(self, signal: Signal, batch: Message, size: int) -> int:
        """Hand ``batch`` on; returns its item count. Raises :class:`BackPressure` (counted here)."""
        n = item_count(signal, batch)
        self.bytes.inc(size, receiver=self.receiver, signal=signal.value)
        consumer = self.consumers.get(signal)
        if n == 0 or consumer is None:
            self.outcome(signal, "ok")
            return n
        try:
            await consumer.consume(signal, batch)
        except BackPressure as exc:
            self.refused.inc(n, receiver=self.receiver, signal=signal.value, reason=exc.reason)
            self.outcome(signal, "backpressure")
            raise
        except Exception as exc:
            # A processor bug must cost one request, not the receiver: the client sees a server error.
            log.exception("pipeline failed on a batch", extra={"receiver": self.receiver, "signal": signal.value})
            self.refused.inc(n, receiver=self.receiver, signal=signal.value, reason="error")
            self.outcome(signal, "error")
            raise PipelineError(str(exc)) from exc
        self.accepted.inc(n, receiver=self.receiver, signal=signal.value)
        self.outcome(signal, "ok")
        return n
