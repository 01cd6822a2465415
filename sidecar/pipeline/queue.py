"""One exporter's bounded queue for one signal: batching, retries and all the accounting.

Every item that reaches a queue is counted ``received`` exactly once, and leaves through
exactly one door: ``exported``, or ``dropped{reason}``. Until then it is ``queued`` (waiting
or in flight), so ``received = exported + dropped + queued`` holds at every instant.

Drop reasons: ``queue_full`` (items or bytes limit), ``expired`` (retried past the max age),
``export_failed`` (a non-retryable refusal), ``rejected`` (the backend accepted the batch
but refused some items: OTLP partial success), ``shutdown`` (still queued at the deadline).
"""

from __future__ import annotations

import asyncio
import collections
import logging
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from sidecar.config.settings import PipelineSettings
from sidecar.otlp.signals import Signal
from sidecar.pipeline.exporter import EncodedExporter, Exporter, ExportOutcome
from sidecar.pipeline.health import ExporterHealth
from sidecar.pipeline.memory import MemoryBudget
from sidecar.pipeline.retry import Backoff
from sidecar.pipeline.telemetry import Registry

RECEIVED = "ecs_otel_sidecar_exporter_received_items_total"
EXPORTED = "ecs_otel_sidecar_exporter_exported_items_total"
DROPPED = "ecs_otel_sidecar_exporter_dropped_items_total"
QUEUED = "ecs_otel_sidecar_exporter_queued_items"
QUEUED_BYTES = "ecs_otel_sidecar_exporter_queued_bytes"
CAPACITY = "ecs_otel_sidecar_exporter_queue_capacity_items"
CAPACITY_BYTES = "ecs_otel_sidecar_exporter_queue_capacity_bytes"
RETRIED = "ecs_otel_sidecar_exporter_retried_items_total"
ATTEMPTS = "ecs_otel_sidecar_exporter_send_attempts_total"
BATCHES = "ecs_otel_sidecar_exporter_batches_total"
LATENCY = "ecs_otel_sidecar_exporter_latency_seconds"

log = logging.getLogger("ecs_otel.sidecar.pipeline")


#: Exceptions that say the call itself is wrong (a bad header value, a type mix-up), not that the
#: world is: the same batch would raise them again on every attempt.
_DETERMINISTIC = (ValueError, TypeError, LookupError, AttributeError, NotImplementedError)


@dataclass(slots=True)
class _Entry:
    #: The batch's encoding (wire bytes are the most compact form, and merge by concatenation).
    body: bytes
    items: int
    size: int
    enqueued: float


@dataclass(slots=True)
class _Batch:
    body: bytes
    items: int
    size: int
    oldest: float


class ExporterQueue:
    def __init__(
        self,
        exporter: Exporter,
        exporter_name: str,
        signal: Signal,
        settings: PipelineSettings,
        telemetry: Registry,
        budget: MemoryBudget,
        health: ExporterHealth,
    ) -> None:
        self.exporter = exporter
        self.name = exporter_name
        self.signal = signal
        self.settings = settings
        self.budget = budget
        self.health = health
        self.backoff = Backoff(settings.retry_initial_s, settings.retry_max_interval_s)
        self._encoded = exporter if isinstance(exporter, EncodedExporter) else None
        self._entries: collections.deque[_Entry] = collections.deque()
        self._items = 0
        self._bytes = 0
        self._inflight_items = 0
        self._inflight_bytes = 0
        self._wakeup = asyncio.Event()
        self._closing = False
        self._deadline: float | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._labels = {"signal": signal.value, "exporter": exporter_name}
        t = telemetry
        labels = ("signal", "exporter")
        self._received = t.counter(RECEIVED, "Items handed to an exporter's queue (accepted or dropped).", labels)
        self._exported = t.counter(EXPORTED, "Items the exporter delivered.", labels)
        self._dropped = t.counter(DROPPED, "Items given up, by reason.", (*labels, "reason"))
        self._retried = t.counter(RETRIED, "Items sent again after a retryable failure.", labels)
        self._attempts = t.counter(ATTEMPTS, "Export attempts, by outcome (ok, retryable, failed).",
                                   (*labels, "outcome"))
        self._batches = t.counter(BATCHES, "Batches handed to the exporter (first attempts).", labels)
        self._latency = t.histogram(LATENCY, "Duration of one export attempt.", labels)
        self._queued = t.gauge(QUEUED, "Items waiting in the queue or in flight.", labels)
        self._queued_bytes = t.gauge(QUEUED_BYTES, "Encoded bytes waiting in the queue or in flight.", labels)
        t.gauge(CAPACITY, "Queue capacity in items.", labels).set(settings.queue_max_items, **self._labels)
        t.gauge(CAPACITY_BYTES, "Queue capacity in encoded bytes.", labels).set(settings.queue_max_bytes, **self._labels)
        for name in (RECEIVED, EXPORTED, RETRIED):
            t.counter(name, "", labels).inc(0, **self._labels)
        # The series touched per batch, bound once (see Metric.child).
        self._c_received = self._received.child(**self._labels)
        self._c_queued = self._queued.child(**self._labels)
        self._c_queued_bytes = self._queued_bytes.child(**self._labels)
        self._publish()

    # -- intake ---------------------------------------------------------------------------------

    @property
    def queued_items(self) -> int:
        return self._items + self._inflight_items

    @property
    def queued_bytes(self) -> int:
        return self._bytes + self._inflight_bytes

    def has_room(self, items: int, size: int) -> bool:
        return (
            self._items + self._inflight_items + items <= self.settings.queue_max_items
            and self._bytes + self._inflight_bytes + size <= self.settings.queue_max_bytes
        )

    def offer(self, batch: Message | None, items: int, size: int, encoded: bytes | None = None) -> bool:
        """Enqueue ``batch`` (never blocks). A full or closed queue drops it, counted.

        ``encoded`` is the batch's serialization when the caller already has it (shared by queues).
        """
        self._c_received.inc(items)
        if self._closing:
            self._drop(items, "shutdown")
            return False
        if not self.has_room(items, size):
            self._drop(items, "queue_full")
            return False
        if encoded is None:
            assert batch is not None, "offer needs the batch or its encoding"
            encoded = batch.SerializeToString()
        payload = encoded
        self._entries.append(_Entry(payload, items, size, asyncio.get_running_loop().time()))
        self._items += items
        self._bytes += size
        self.budget.take(size)
        if len(self._entries) == 1 or self._items >= self.settings.batch_max_items:
            self._wakeup.set()
        self._publish()
        return True

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def wants_encoded(self) -> bool:
        """True when the exporter takes the queued bytes as they are (no decode per send)."""
        return self._encoded is not None

    def start(self) -> None:
        for i in range(self.settings.export_concurrency):
            self._workers.append(
                asyncio.create_task(self._work(), name=f"export-{self.name}-{self.signal.value}-{i}")
            )

    async def close(self, deadline: float) -> None:
        """Flush what is queued, ignoring the batch timeout, until ``deadline`` (``loop.time()``)."""
        loop = asyncio.get_running_loop()
        self._closing = True
        self._deadline = deadline
        self._wakeup.set()
        if self._workers:
            _, pending = await asyncio.wait(self._workers, timeout=max(0.0, deadline - loop.time()))
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1.0)
        self._workers.clear()
        while self._entries:
            entry = self._entries.popleft()
            self._release(entry.items, entry.size)
            self._drop(entry.items, "shutdown")
        self._publish()

    # -- workers --------------------------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            batch = await self._next_batch()
            if batch is None:
                return
            try:
                await self._send(batch)
            finally:
                self._inflight_items -= batch.items
                self._inflight_bytes -= batch.size
                self.budget.release(batch.size)
                self._publish()

    async def _next_batch(self) -> _Batch | None:
        loop = asyncio.get_running_loop()
        timeout = self.settings.batch_timeout_s
        while True:
            wait: float | None = None
            if self._entries:
                age = loop.time() - self._entries[0].enqueued
                if self._closing or self._items >= self.settings.batch_max_items or age >= timeout:
                    return self._take()
                wait = timeout - age
            elif self._closing:
                return None
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), wait)
            except TimeoutError:
                pass

    def _take(self) -> _Batch:
        """Pop entries up to the batch limits and merge them at the resource level (no per-span work)."""
        first = self._entries.popleft()
        taken = [first]
        items, size = first.items, first.size
        while self._entries:
            nxt = self._entries[0]
            if items + nxt.items > self.settings.batch_max_items or size + nxt.size > self.settings.batch_max_bytes:
                break
            taken.append(self._entries.popleft())
            items += nxt.items
            size += nxt.size
        self._items -= items
        self._bytes -= size
        self._inflight_items += items
        self._inflight_bytes += size
        # Entries hold encoded requests: concatenating encodings of one message type encodes their merge.
        body = first.body if len(taken) == 1 else b"".join(entry.body for entry in taken)
        return _Batch(body, items, size, first.enqueued)

    async def _send(self, batch: _Batch) -> None:
        loop = asyncio.get_running_loop()
        self._batches.inc(**self._labels)
        attempt = 0
        message: Message | None = None
        if self._encoded is None:
            # One decode per batch, however many requests were merged into it.
            try:
                message = self.signal.request_type.FromString(batch.body)
            except Exception as exc:
                log.error("cannot decode a queued batch", extra={"exporter": self.name, "error": repr(exc)})
                self._drop(batch.items, "export_failed")
                return
        try:
            while True:
                attempt += 1
                started = loop.time()
                try:
                    if message is None:
                        assert self._encoded is not None  # only encoded exporters skip the decode above
                        outcome = await self._encoded.export_encoded(self.signal, batch.body)
                    else:
                        outcome = await self.exporter.export(self.signal, message)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # an exporter bug must not kill the worker
                    if isinstance(exc, _DETERMINISTIC):
                        # A bad value or a bug fails the same way every time: retrying would only hold
                        # the batch (and the queue's room) until it expires. Ours to fix: a traceback.
                        log.exception("exporter failed on a batch; not retried", extra={
                            "exporter": self.name, "signal": self.signal.value, "dropped_items": batch.items})
                        outcome = ExportOutcome.fail(f"exception: {exc!r}")
                    else:
                        log.warning("exporter raised", extra={"exporter": self.name, "error": repr(exc)})
                        outcome = ExportOutcome.retry(f"exception: {exc!r}")
                now = loop.time()
                self._latency.observe(now - started, **self._labels)
                self.health.record(outcome.ok, outcome.reason)
                if outcome.ok:
                    self._attempts.inc(outcome="ok", **self._labels)
                    rejected = min(max(outcome.rejected, 0), batch.items)
                    self._exported.inc(batch.items - rejected, **self._labels)
                    if rejected:
                        self._drop(rejected, "rejected")
                    return
                if not outcome.retryable:
                    self._attempts.inc(outcome="failed", **self._labels)
                    log.warning("export failed, not retryable", extra={
                        "exporter": self.name, "signal": self.signal.value, "reason": outcome.reason,
                        "dropped_items": batch.items})
                    self._drop(batch.items, "export_failed")
                    return
                self._attempts.inc(outcome="retryable", **self._labels)
                delay = self.backoff.delay(attempt, outcome.retry_after_s)
                if now + delay - batch.oldest > self.settings.retry_max_age_s:
                    log.warning("export retries exhausted", extra={
                        "exporter": self.name, "signal": self.signal.value, "reason": outcome.reason,
                        "dropped_items": batch.items})
                    self._drop(batch.items, "expired")
                    return
                if self._deadline is not None and now + delay >= self._deadline:
                    delay = max(0.0, self._deadline - now - 0.05)
                    if delay <= 0:
                        self._drop(batch.items, "shutdown")
                        return
                self._retried.inc(batch.items, **self._labels)
                await asyncio.sleep(delay)
        except asyncio.CancelledError:
            self._drop(batch.items, "shutdown")
            raise

    # -- accounting -----------------------------------------------------------------------------

    def _drop(self, items: int, reason: str) -> None:
        self._dropped.inc(items, reason=reason, **self._labels)

    def _release(self, items: int, size: int) -> None:
        self._items -= items
        self._bytes -= size
        self.budget.release(size)

    def _publish(self) -> None:
        self._c_queued.set(self._items + self._inflight_items)
        self._c_queued_bytes.set(self._bytes + self._inflight_bytes)

    def snapshot(self) -> dict[str, Any]:
        """Live numbers for the status page."""
        labels = self._labels
        attempts, failures = self.health.recent()
        return {
            "exporter": self.name,
            "signal": self.signal.value,
            "received": self._received.get(**labels),
            "exported": self._exported.get(**labels),
            "dropped": {
                key[2]: v for key, v in self._dropped.values.items()
                if key[0] == self.signal.value and key[1] == self.name
            },
            "queued": self.queued_items,
            "queued_bytes": self.queued_bytes,
            "in_flight": self._inflight_items,
            "capacity": self.settings.queue_max_items,
            "capacity_bytes": self.settings.queue_max_bytes,
            "fill": round(max(self.queued_items / self.settings.queue_max_items,
                              self.queued_bytes / self.settings.queue_max_bytes), 4),
            "retried": self._retried.get(**labels),
            "recent_attempts": attempts,
            "recent_failures": failures,
        }
