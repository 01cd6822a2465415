"""Who is sending: one row per ``service.name`` + ``service.instance.id``, with items and last-seen time.

"Is my app's data arriving?" is the first question on the status page; the pipeline counters say
that *something* arrives, this table says *who*. It is bounded like everything else in the
sidecar: past :data:`MAX_SENDERS` rows the one seen longest ago is evicted and counted
(``ecs_otel_sidecar_status_senders_evicted_total``), so a fleet of short-lived workers cannot
grow it without limit.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import Message
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from ecs_otel.memo import Memo
from sidecar.otlp import shallow
from sidecar.otlp.signals import Signal, item_count, resource_entries
from sidecar.pipeline.consumer import Consumer, WireBatch, WireConsumer
from sidecar.pipeline.telemetry import Registry

MAX_SENDERS = 200
#: Distinct encoded resources whose identity the table remembers, each of at most this many bytes.
IDENTITY_CACHE = 256
IDENTITY_CACHE_MAX_BYTES = 4096
_log = logging.getLogger("ecs_otel.sidecar.status")


@dataclass
class Sender:
    service: str
    instance: str
    first_seen: float
    last_seen: float
    items: dict[str, int] = field(default_factory=dict)


def _identity(resource: Any) -> tuple[str, str]:
    """(service, instance) of a resource; data without a service (task stats) is named by its task."""
    found: dict[str, str] = {}
    for kv in resource.attributes:
        if kv.key in ("service.name", "service.instance.id", "aws.ecs.task.family", "aws.ecs.task.revision"):
            found[kv.key] = kv.value.string_value or str(kv.value.int_value or "")
    service = found.get("service.name", "")
    if not service and found.get("aws.ecs.task.family"):
        revision = found.get("aws.ecs.task.revision")
        service = f"task:{found['aws.ecs.task.family']}" + (f":{revision}" if revision else "")
    return service or "?", found.get("service.instance.id", "")


class SenderTable:
    """The last :data:`MAX_SENDERS` senders, most recently seen last."""

    def __init__(self, telemetry: Registry, max_senders: int = MAX_SENDERS,
                 clock: Callable[[], float] = time.time) -> None:
        self.max_senders = max_senders
        self._clock = clock
        self._rows: OrderedDict[tuple[str, str], Sender] = OrderedDict()
        self._evicted = telemetry.counter(
            "ecs_otel_sidecar_status_senders_evicted_total",
            "Senders (service + instance) forgotten by the status page's bounded table, oldest first.",
        )
        self._evicted.inc(0)
        #: Encoded resource → (service, instance), for :meth:`observe_wire` (an app sends one resource).
        #: Each encoded resource's sender identity (``status.sender_identities`` in the cache-evictions counter).
        self._identities: Memo[bytes, tuple[str, str]] = Memo("status.sender_identities", IDENTITY_CACHE)

    @property
    def evicted(self) -> int:
        return int(self._evicted.get())

    def observe(self, signal: Signal, batch: Message) -> None:
        now = self._clock()
        for entry in resource_entries(signal, batch):
            self._record(signal, _identity(entry.resource), item_count(signal, _single(signal, entry)), now)

    def observe_wire(self, signal: Signal, body: bytes, items: int) -> bool:
        """:meth:`observe` for an encoded batch of one resource entry (what an SDK sends), read from the
        resource's bytes: no decoded batch needed. ``False`` (nothing recorded) for another shape."""
        entries = resource_entries(signal, shallow.resource_view(signal, body))
        if len(entries) != 1:
            return False
        # Every occurrence of the resource field, in order: their concatenation encodes their merge.
        raw = b"".join(entries[0].resource)
        key = self._identities.data.get(raw)
        if key is None:
            key = _identity(Resource.FromString(raw))
            if len(raw) <= IDENTITY_CACHE_MAX_BYTES:  # a huge resource is not worth its memory here
                self._identities.put(raw, key)  # bounded; the senders in use come back on their next batch
        self._record(signal, key, items, self._clock())
        return True

    def _record(self, signal: Signal, key: tuple[str, str], n: int, now: float) -> None:
        row = self._rows.get(key)
        if row is None:
            row = self._rows[key] = Sender(key[0], key[1], now, now)
            while len(self._rows) > self.max_senders:
                self._rows.popitem(last=False)
                self._evicted.inc()
        else:
            self._rows.move_to_end(key)
            row.last_seen = now
        row.items[signal.value] = row.items.get(signal.value, 0) + n

    def snapshot(self) -> dict[str, Any]:
        now = self._clock()
        rows = [{"service": r.service, "instance": r.instance, "items": dict(r.items),
                 "first_seen_age_s": round(now - r.first_seen, 3), "last_seen_age_s": round(now - r.last_seen, 3)}
                for r in reversed(self._rows.values())]
        return {"senders": rows, "max_senders": self.max_senders, "evicted": self.evicted}


class _One:
    """A batch view over one resource entry, so :func:`item_count` can count it without a copy."""

    def __init__(self, signal: Signal, entry: Any) -> None:
        setattr(self, {Signal.TRACES: "resource_spans", Signal.METRICS: "resource_metrics",
                       Signal.LOGS: "resource_logs"}[signal], (entry,))


def _single(signal: Signal, entry: Any) -> Any:
    return _One(signal, entry)


class SendersTap:
    """A consumer that records who sent a batch, then passes it on unchanged (receivers' data only)."""

    def __init__(self, consumer: Consumer, table: SenderTable) -> None:
        self.consumer = consumer
        self.table = table
        self._wire_next = consumer if isinstance(consumer, WireConsumer) else None

    async def consume(self, signal: Signal, batch: Message) -> None:
        self._observe(signal, batch)
        await self.consumer.consume(signal, batch)

    async def consume_wire(self, signal: Signal, batch: WireBatch) -> None:
        """Reads the senders from the resources' bytes (the decoded form for several resources), and passes
        the bytes on."""
        try:
            observed = self.table.observe_wire(signal, batch.body, batch.items)
        except Exception:  # the table is a nicety: never let it cost a batch
            _log.exception("status senders table could not read a batch")
            observed = True
        if not observed:
            self._observe(signal, batch.decoded(signal))
        if self._wire_next is not None:
            await self._wire_next.consume_wire(signal, batch)
        else:
            await self.consumer.consume(signal, batch.decoded(signal))

    def _observe(self, signal: Signal, batch: Message) -> None:
        try:
            self.table.observe(signal, batch)
        except Exception:  # the table is a nicety: never let it cost a batch
            _log.exception("status senders table could not read a batch")
