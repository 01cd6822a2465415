"""The last consumer of a signal's chain: one batch, handed to every exporter's queue.

The batch is encoded once here and the bytes are shared by the queues, so a second exporter
costs a reference, not a copy. The global memory budget is checked here,
before anything is counted: a refused batch raises :class:`BackPressure` and the client retries.
"""

from __future__ import annotations

from google.protobuf.message import Message

from sidecar.otlp.signals import Signal, item_count
from sidecar.pipeline.consumer import WireBatch
from sidecar.pipeline.memory import MemoryBudget
from sidecar.pipeline.queue import ExporterQueue
from sidecar.pipeline.telemetry import Registry

UNROUTED = "ecs_otel_sidecar_pipeline_unrouted_items_total"
BACKPRESSURE = "ecs_otel_sidecar_pipeline_backpressure_total"


class FanOut:
    def __init__(self, signal: Signal, queues: list[ExporterQueue], budget: MemoryBudget, telemetry: Registry) -> None:
        self.signal = signal
        self.queues = queues
        self.budget = budget
        self._unrouted = telemetry.counter(
            UNROUTED, "Items of a signal that has no exporter configured (discarded).", ("signal",)
        )
        self._backpressure = telemetry.counter(
            BACKPRESSURE, "Batches refused because the memory limit was reached.", ("signal", "reason")
        )

    async def consume(self, signal: Signal, batch: Message) -> None:
        await self.consume_encoded(signal, batch, None)

    async def consume_wire(self, signal: Signal, batch: WireBatch) -> None:
        """``consume`` for a batch that is already encoded: its bytes go to the queues as they are."""
        self._offer(signal, batch.items, batch.body)

    async def consume_encoded(self, signal: Signal, batch: Message, encoded: bytes | None) -> None:
        """``consume`` for a caller that may already hold ``batch``'s exact serialization."""
        items = item_count(signal, batch)
        if items and self.queues and encoded is None:
            encoded = batch.SerializeToString()  # once, shared by every queue
        self._offer(signal, items, encoded)

    def _offer(self, signal: Signal, items: int, encoded: bytes | None) -> None:
        if items == 0:
            return
        if not self.queues:
            self._unrouted.inc(items, signal=signal.value)
            return
        assert encoded is not None
        size = len(encoded)
        try:
            self.budget.check(size * len(self.queues))
        except Exception as exc:
            self._backpressure.inc(signal=signal.value, reason=getattr(exc, "reason", "memory_limit"))
            raise
        for queue in self.queues:
            queue.offer(None, items, size, encoded)
