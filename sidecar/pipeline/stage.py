"""A processor in the chain, timed and counted, so the status page can show what each one costs.

DESIGN.md promises that processors add at most about a second; this is where that is
measured (``ecs_otel_sidecar_processor_duration_seconds``) rather than assumed.
"""

from __future__ import annotations

import time

from google.protobuf.message import Message

from sidecar.otlp.signals import Signal, item_count
from sidecar.pipeline.consumer import Consumer, EncodedConsumer, WireBatch, WireConsumer
from sidecar.pipeline.processor import EncodedProcessor, Processor, WireProcessor
from sidecar.pipeline.telemetry import Registry

DURATION = "ecs_otel_sidecar_processor_duration_seconds"
BATCHES = "ecs_otel_sidecar_processor_batches_total"
DROPPED_BATCHES = "ecs_otel_sidecar_processor_dropped_batches_total"
ITEMS_IN = "ecs_otel_sidecar_processor_items_in_total"
ITEMS_OUT = "ecs_otel_sidecar_processor_items_out_total"
_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class TimedStage:
    """One processor in a chain: runs it, times it, counts it, hands its output to ``next``."""

    def __init__(self, name: str, processor: Processor, signal: Signal, next_consumer: Consumer,
                 telemetry: Registry) -> None:
        self.processor = processor
        self.next = next_consumer
        self._labels = {"signal": signal.value, "processor": name}
        labels = ("signal", "processor")
        self._duration = telemetry.histogram(DURATION, "Time a processor spent on one batch.", labels, _BUCKETS)
        self._batches = telemetry.counter(BATCHES, "Batches a processor handled.", labels)
        self._dropped = telemetry.counter(DROPPED_BATCHES, "Batches a processor dropped whole.", labels)
        # Items, the unit receivers and exporters count in, so the page can show one unit per column and
        # what a processor removed (cardinality folds overflowing points into one overflow point).
        self._items_in = telemetry.counter(ITEMS_IN, "Items (spans, data points, log records) a processor took.",
                                           labels)
        self._items_out = telemetry.counter(ITEMS_OUT, "Items a processor handed on.", labels)
        self._batches.inc(0, **self._labels)
        self._dropped.inc(0, **self._labels)
        self._items_in.inc(0, **self._labels)
        self._items_out.inc(0, **self._labels)
        # Each series bound once: the counters below run per batch, several per request.
        self._c_duration = self._duration.child(**self._labels)
        self._c_batches = self._batches.child(**self._labels)
        self._c_dropped = self._dropped.child(**self._labels)
        self._c_items_in = self._items_in.child(**self._labels)
        self._c_items_out = self._items_out.child(**self._labels)
        # The encoded hand-off: a processor that serialized the batch anyway (redaction screens the
        # bytes) gives them to the fan-out directly behind it, which would otherwise encode again.
        # Only with nothing in between, so no later stage can change the batch under those bytes.
        self._encoder = processor if isinstance(processor, EncodedProcessor) else None
        self._encoded_next = next_consumer if isinstance(next_consumer, EncodedConsumer) else None
        # The wire path: a batch that arrives encoded stays encoded through every processor that can do
        # its work on the bytes; the first one that cannot gets it decoded, and the chain goes on decoded.
        self._wire = processor if isinstance(processor, WireProcessor) else None
        self._wire_next = next_consumer if isinstance(next_consumer, WireConsumer) else None

    async def consume(self, signal: Signal, batch: Message) -> None:
        # Counted before processing: a processor may change the batch in place.
        self._c_items_in.inc(item_count(signal, batch))
        await self._process(signal, batch, time.perf_counter())

    async def consume_wire(self, signal: Signal, batch: WireBatch) -> None:
        """``consume`` for an encoded batch: the processor's ``process_wire`` when it has one."""
        wire = self._wire
        if wire is None:
            await self.consume(signal, batch.decoded(signal))
            return
        self._c_items_in.inc(batch.items)
        started = time.perf_counter()
        body = wire.process_wire(signal, batch.body)
        if body is None:  # something only the decoded path can change: on from here decoded
            await self._process(signal, batch.decoded(signal), started)
            return
        self._c_duration.observe(time.perf_counter() - started)
        self._c_batches.inc()
        self._c_items_out.inc(batch.items)
        if body is not batch.body:
            batch = WireBatch(body, batch.items)
        if self._wire_next is not None:
            await self._wire_next.consume_wire(signal, batch)
        else:
            await self.next.consume(signal, batch.decoded(signal))

    async def _process(self, signal: Signal, batch: Message, started: float) -> None:
        if self._encoder is not None and self._encoded_next is not None:
            out, encoded = self._encoder.process_encoded(signal, batch)
            self._c_duration.observe(time.perf_counter() - started)
            self._c_batches.inc()
            if out is None:
                self._c_dropped.inc()
                return
            self._c_items_out.inc(item_count(signal, out))
            await self._encoded_next.consume_encoded(signal, out, encoded)
            return
        out = self.processor.process(signal, batch)
        self._c_duration.observe(time.perf_counter() - started)
        self._c_batches.inc()
        if out is None:
            self._c_dropped.inc()
            return
        self._c_items_out.inc(item_count(signal, out))
        await self.next.consume(signal, out)
