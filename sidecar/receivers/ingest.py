"""What both OTLP receivers do with a decoded request: count it and hand it to the pipeline.

Kept apart from the transports so that HTTP and gRPC answer the same things for the same
reasons, and their counters carry the same names.
"""

from __future__ import annotations

import asyncio
import logging

from google.protobuf.message import DecodeError, Message

from sidecar.otlp import ids, json_codec, shallow, wire
from sidecar.otlp.signals import Signal, item_count
from sidecar.pipeline.consumer import BackPressure, Consumer, WireBatch, WireConsumer
from sidecar.pipeline.memory import MemoryBudget
from sidecar.pipeline.telemetry import Child, Registry

REQUESTS = "ecs_otel_sidecar_receiver_requests_total"
ACCEPTED = "ecs_otel_sidecar_receiver_accepted_items_total"
REFUSED = "ecs_otel_sidecar_receiver_refused_items_total"
REQUEST_BYTES = "ecs_otel_sidecar_receiver_request_bytes_total"
REJECTED = "ecs_otel_sidecar_receiver_rejected_items_total"
REPAIRED = "ecs_otel_sidecar_receiver_repaired_items_total"

#: The partial_success field that counts rejected items, per signal.
_REJECTED_FIELD = {Signal.TRACES: "rejected_spans", Signal.METRICS: "rejected_data_points",
                   Signal.LOGS: "rejected_log_records"}


log = logging.getLogger("ecs_otel.sidecar.receivers")


class PipelineError(Exception):
    """A stage failed unexpectedly on a batch (answered as HTTP 500 / gRPC INTERNAL)."""


class Refused(Exception):
    """A request refused for good before decoding (the client should not send it again as it is).

    ``outcome`` is the counter label: ``bad_request`` (HTTP 400 / INVALID_ARGUMENT),
    ``too_many_items`` or ``too_large`` (HTTP 413 / RESOURCE_EXHAUSTED without a retry hint).
    """

    def __init__(self, outcome: str, message: str) -> None:
        super().__init__(message)
        self.outcome = outcome


#: The tag byte that introduces each item inside its parent: ``spans`` / ``log_records`` are field 2,
#: ``data_points`` field 1, all length-delimited. Every item has one, so counting that byte over the
#: whole body (C speed) bounds the item count from above; only bodies over the limit are walked.
_ITEM_TAG = {Signal.TRACES: b"\x12", Signal.LOGS: b"\x12", Signal.METRICS: b"\x0a"}
#: What one decoded item costs at least (an empty span measured ~190 bytes in the protobuf runtime).
DECODED_BYTES_PER_ITEM = 256
#: An empty sub-message is two bytes on the wire (its tag, then a zero length) and tens of bytes
#: decoded: zero bytes are counted (C speed) and each is charged this much, so a body of millions
#: of empty attributes is priced like what it becomes. Zeros inside values only over-estimate.
DECODED_BYTES_PER_ZERO = 64
#: Decoded protobuf takes a few times its wire size; OTLP/JSON, parsed into dicts first, more.
PROTOBUF_GROWTH = 3
JSON_GROWTH = 8
#: The decoded size of a protobuf body per byte at most: growth, an item per two bytes, a zero per byte.
_PROTOBUF_BOUND_PER_BYTE = PROTOBUF_GROWTH + DECODED_BYTES_PER_ITEM // 2 + DECODED_BYTES_PER_ZERO
#: Decoding costs more than a scheduler slice above this size: run it on a worker thread, so the
#: event loop (health checks, other requests) keeps running between the decoder's bytecodes.
THREAD_DECODE_BYTES = 256 * 1024


class Ingest:
    """Counts requests and items per receiver and signal, and forwards batches to ``consumer``."""

    def __init__(self, receiver: str, consumers: dict[Signal, Consumer], telemetry: Registry, *,
                 max_items: int = 0, budget: MemoryBudget | None = None) -> None:
        self.receiver = receiver
        self.consumers = consumers
        self.telemetry = telemetry
        #: Items one request may carry (0: no limit): more could never fit an exporter's queue.
        self.max_items = max_items
        self.budget = budget
        #: Signals whose chain takes encoded batches (see :meth:`wire_batch`).
        self._wire = frozenset(sig for sig, c in consumers.items() if isinstance(c, WireConsumer))
        if Signal.TRACES in self._wire:
            shallow.span_ids_valid(b"")  # builds the view's schema now, not on the first request
        self.requests = telemetry.counter(
            REQUESTS, "Requests received, by receiver, signal and outcome (ok, bad_request, too_large, "
            "too_many_items, unsupported, unauthenticated, backpressure, error, aborted: the client hung up mid-body, timeout: the body was not complete in time).", ("receiver", "signal", "outcome")
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
        self.rejected = telemetry.counter(
            REJECTED, "Items dropped from an accepted request and reported to the client as OTLP partial "
            "success (reason invalid_id: a span whose trace or span id the OTLP specification calls invalid).",
            ("receiver", "signal", "reason"),
        )
        #: Counter series bound on first use (request outcomes; bytes and accepted items per signal).
        self._outcomes: dict[tuple[Signal | str, str], Child] = {}
        self._per_signal: dict[Signal, tuple[Child, Child]] = {}
        self.repaired = telemetry.counter(
            REPAIRED, "Items kept after clearing a field the specification says to treat as absent (reason "
            "invalid_id: a log record's invalid trace or span id, a span's invalid parent id).",
            ("receiver", "signal", "reason"),
        )

    async def decode(self, signal: Signal, body: bytes, as_json: bool) -> Message:
        """Decode a request body, bounding what it may cost *before* building it.

        In order: the item count from the wire (protobuf; refused above ``max_items`` without
        decoding), the decoded size estimated and reserved in the memory budget (refused when
        it cannot fit: :class:`BackPressure` when it may later, :class:`Refused` when never),
        then the decode itself, off the event loop for large bodies. Raises :class:`Refused`
        for what the client must change (malformed, too many items, too large).
        """
        limit = self.max_items or (1 << 62)
        if as_json:
            # Every JSON object costs a dict, whatever it holds: count them (an upper bound, C speed).
            cost = JSON_GROWTH * len(body) + DECODED_BYTES_PER_ITEM * body.count(b"{")
            items = 0
        elif len(body) < THREAD_DECODE_BYTES and len(body) // 2 <= limit and self._bound_fits(len(body)):
            # Every item takes at least two bytes and every byte could be a zero: this upper bound on
            # the decoded size is reserved as it is, which saves two passes over the body. Only for a
            # body decoded on the event loop: its reservation ends before another request's begins.
            cost = _PROTOBUF_BOUND_PER_BYTE * len(body)
        else:
            items = body.count(_ITEM_TAG[signal])
            if items > limit:
                items = await self._exact_count(signal, body, limit)
                if items > limit:
                    self.outcome(signal, "too_many_items")
                    raise Refused("too_many_items", f"{signal.value} request holds more than {limit} items, the "
                                  "most one request may carry (ECS_OTEL_QUEUE_MAX_ITEMS); send smaller batches")
            cost = PROTOBUF_GROWTH * len(body) + DECODED_BYTES_PER_ITEM * items + DECODED_BYTES_PER_ZERO * body.count(0)
        budget = self.budget
        if budget is not None:
            if cost > budget.limit_bytes:
                self.outcome(signal, "too_large")
                raise Refused("too_large", f"{signal.value} request would take ~{cost >> 20} MiB once decoded, more "
                              f"than the sidecar's memory limit ({budget.limit_bytes >> 20} MiB); send smaller batches")
            try:
                budget.reserve_decode(cost)
            except BackPressure as exc:
                if not as_json:
                    n = await self._exact_count(signal, body, limit)
                    self.refused.inc(n, receiver=self.receiver, signal=signal.value, reason=exc.reason)
                self.outcome(signal, "backpressure")
                raise
        try:
            if len(body) >= THREAD_DECODE_BYTES:
                batch = await asyncio.to_thread(_decode, signal, body, as_json)
            else:
                batch = _decode(signal, body, as_json)
        except (DecodeError, json_codec.OtlpJsonError, RecursionError) as exc:
            self.outcome(signal, "bad_request")
            hint = "" if as_json else f" (malformed, or nested deeper than {json_codec.MAX_MESSAGE_DEPTH} messages)"
            raise Refused("bad_request", f"cannot decode {signal.value} request: {exc}{hint}") from None
        finally:
            if budget is not None:
                budget.release_decode(cost)
        if as_json and self.max_items and item_count(signal, batch) > limit:
            self.outcome(signal, "too_many_items")
            raise Refused("too_many_items", f"{signal.value} request holds more than {limit} items, the most one "
                          "request may carry (ECS_OTEL_QUEUE_MAX_ITEMS); send smaller batches")
        return batch

    def _bound_fits(self, size: int) -> bool:
        budget = self.budget
        return budget is None or budget.can_reserve_decode(_PROTOBUF_BOUND_PER_BYTE * size)

    def screen(self, signal: Signal, batch: Message) -> Message:
        """Drops or repairs items with invalid ids (see :mod:`sidecar.otlp.ids`), in place; returns the response.

        The response carries an OTLP ``partial_success`` naming what was dropped, so the client
        learns of it (the SDKs log it) while the rest of its request is delivered.
        """
        dropped, repaired = ids.screen(signal, batch)
        if repaired:
            self.repaired.inc(repaired, receiver=self.receiver, signal=signal.value, reason="invalid_id")
        response = signal.response_type()
        if dropped:
            self.rejected.inc(dropped, receiver=self.receiver, signal=signal.value, reason="invalid_id")
            partial = response.partial_success  # type: ignore[attr-defined]
            setattr(partial, _REJECTED_FIELD[signal], dropped)
            partial.error_message = (f"{dropped} span(s) dropped: trace_id must be 16 bytes and span_id 8 bytes, "
                                     "neither all zero")
        return response

    def wire_batch(self, signal: Signal, body: bytes, batch: Message) -> WireBatch | None:
        """The encoded path for a protobuf request that :meth:`screen` would leave as it is.

        ``batch`` is ``body`` decoded (the validation every request gets). When the chain takes
        encoded batches and every span's ids are valid (checked on the bytes, see
        :func:`sidecar.otlp.shallow.span_ids_valid`), the request goes on as its own bytes: no
        Python object per span, no second encoding. ``None``: take :meth:`screen` and :meth:`deliver`.
        """
        if signal is not Signal.TRACES or signal not in self._wire:
            return None
        items = shallow.span_ids_valid(body)
        if items is None:
            return None
        return WireBatch(body, items, batch)

    async def accept(self, signal: Signal, body: bytes, batch: Message) -> Message:
        """Hand a decoded protobuf request on (its own bytes when :meth:`wire_batch` allows, else screened
        and decoded); returns the response to send. Raises what :meth:`deliver` raises."""
        wire = self.wire_batch(signal, body, batch)
        if wire is not None:  # nothing to screen out: on as the request's own bytes
            await self.deliver(signal, wire, len(body))
            return signal.response_type()
        response = self.screen(signal, batch)
        await self.deliver(signal, batch, len(body))
        return response

    async def _exact_count(self, signal: Signal, body: bytes, limit: int) -> int:
        """The wire walk of :func:`wire.count_items` (a malformed body is a bad request)."""
        try:
            if len(body) >= THREAD_DECODE_BYTES:
                return await asyncio.to_thread(wire.count_items, signal, body, limit)
            return wire.count_items(signal, body, limit)
        except wire.WireError as exc:
            self.outcome(signal, "bad_request")
            raise Refused("bad_request", f"cannot decode {signal.value} request: {exc}") from None

    def outcome(self, signal: Signal | str, outcome: str) -> None:
        child = self._outcomes.get((signal, outcome))
        if child is None:  # each series bound once: this runs on every request
            child = self._outcomes[signal, outcome] = self.requests.child(receiver=self.receiver, signal=str(signal),
                                                                          outcome=outcome)
        child.inc()

    async def deliver(self, signal: Signal, batch: Message | WireBatch, size: int) -> int:
        """Hand ``batch`` on; returns its item count. Raises :class:`BackPressure` (counted here)."""
        n = batch.items if isinstance(batch, WireBatch) else item_count(signal, batch)
        counted = self._per_signal.get(signal)
        if counted is None:
            counted = self._per_signal[signal] = (self.bytes.child(receiver=self.receiver, signal=signal.value),
                                                  self.accepted.child(receiver=self.receiver, signal=signal.value))
        received_bytes, accepted = counted
        received_bytes.inc(size)
        consumer = self.consumers.get(signal)
        if n == 0 or consumer is None:
            self.outcome(signal, "ok")
            return n
        try:
            if isinstance(batch, WireBatch):
                await consumer.consume_wire(signal, batch)  # type: ignore[attr-defined]  # see wire_batch
            else:
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
        accepted.inc(n)
        self.outcome(signal, "ok")
        return n


def _decode(signal: Signal, body: bytes, as_json: bool) -> Message:
    if as_json:
        return json_codec.decode(signal.request_type, body)
    return signal.request_type.FromString(body)
