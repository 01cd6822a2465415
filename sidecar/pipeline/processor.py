"""A processor is a consumer that transforms a batch and hands it to the next consumer."""

from __future__ import annotations

from google.protobuf.message import Message

from sidecar.otlp.signals import Signal
from sidecar.pipeline.consumer import Consumer


class Processor:
    """Subclasses override :meth:`process`; returning ``None`` drops the batch (counted by the caller)."""

    name: str = "processor"

    def __init__(self) -> None:
        self.next: Consumer | None = None

    def process(self, signal: Signal, batch: Message) -> Message | None:
        return batch

    async def consume(self, signal: Signal, batch: Message) -> None:
        out = self.process(signal, batch)
        if out is not None and self.next is not None:
            await self.next.consume(signal, out)

    async def start(self) -> None:
        """Start background work (expiry timers and the like)."""

    async def shutdown(self, deadline: float) -> None:
        """Stop background work before ``deadline`` (a ``loop.time()`` value)."""
