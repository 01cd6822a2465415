"""The one interface that carries data between stages.

Receivers and scrapers hold a consumer; every processor sits in a stage that is a consumer
holding the next one; the fan-out is a consumer that hands a batch to each exporter's bounded queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from google.protobuf.message import Message

from sidecar.otlp.signals import Signal


class BackPressure(Exception):
    """Raised by a consumer that refuses a batch rather than grow past a limit.

    Receivers turn it into HTTP 429/503 with ``Retry-After`` or gRPC ``RESOURCE_EXHAUSTED``.
    Nothing of the refused batch has been counted as received.
    """

    def __init__(self, reason: str, retry_after_s: float = 1.0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s


class Consumer(Protocol):
    async def consume(self, signal: Signal, batch: Message) -> None:
        """Take ownership of ``batch`` or raise :class:`BackPressure`."""
        ...


@runtime_checkable
class EncodedConsumer(Protocol):
    """A consumer that also takes the batch's encoding when the stage before it already has one."""

    async def consume(self, signal: Signal, batch: Message) -> None: ...

    async def consume_encoded(self, signal: Signal, batch: Message, encoded: bytes | None) -> None: ...


@dataclass(slots=True)
class WireBatch:
    """A batch that travels as its encoding (an ``Export*ServiceRequest``), not as a decoded message.

    The receiver has decoded the request once to validate it; stages that can work on the bytes
    (screening, resource attributes, span renames) hand bytes on, so the fan-out needs no second
    encoding and the spans are never touched one Python object at a time.
    ``message`` is the decoded form of exactly ``body`` when one exists (``None`` once a stage
    changed the bytes); :meth:`decoded` makes one on demand for a stage that needs the message.
    """

    body: bytes
    #: Spans, data points or log records in ``body``: the unit every counter uses.
    items: int
    message: Message | None = None

    def decoded(self, signal: Signal) -> Message:
        if self.message is None:
            self.message = signal.request_type.FromString(self.body)
        return self.message


@runtime_checkable
class WireConsumer(Protocol):
    """A consumer that also takes a :class:`WireBatch` (same contract as ``consume``: own it or refuse it)."""

    async def consume(self, signal: Signal, batch: Message) -> None: ...

    async def consume_wire(self, signal: Signal, batch: WireBatch) -> None: ...
