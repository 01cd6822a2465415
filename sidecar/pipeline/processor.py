"""What a processor is: a pure transform of one batch, ``process(signal, batch) -> batch | None``.

A processor never sees the next stage: the pipeline's :class:`~sidecar.pipeline.stage.TimedStage`
does the chaining, the timing and the counting, so a processor is testable as a plain function
and one instance can serve every signal it handles.
"""

from __future__ import annotations

import abc
from typing import ClassVar, Protocol, runtime_checkable

from google.protobuf.message import Message

from sidecar.otlp.signals import Signal


class Processor(abc.ABC):
    """Subclasses implement :meth:`process`; returning ``None`` drops the batch (the stage counts it).

    A processor class also declares ``Settings`` (a dataclass of :func:`~sidecar.config.setting`
    fields) and is built as ``cls(settings, context)`` by the wiring.
    """

    #: Name used in configuration, counters and the status page.
    name: ClassVar[str] = "processor"
    #: The signals this processor handles; the wiring leaves it out of the other chains.
    signals: ClassVar[frozenset[Signal]] = frozenset(Signal)

    @abc.abstractmethod
    def process(self, signal: Signal, batch: Message) -> Message | None: ...

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Start background work (expiry timers and the like)."""

    async def shutdown(self, deadline: float) -> None:  # noqa: B027 - optional hook
        """Stop background work before ``deadline`` (a ``loop.time()`` value)."""


@runtime_checkable
class EncodedProcessor(Protocol):
    """Optional fast path: a processor that serializes the batch anyway (redaction screens its bytes).

    It returns the encoding of the batch it hands on (or ``None`` when it has none), so the
    fan-out right behind it does not encode the same message a second time.
    """

    def process_encoded(self, signal: Signal, batch: Message) -> tuple[Message | None, bytes | None]: ...


@runtime_checkable
class WireProcessor(Protocol):
    """Optional fast path: a processor that can do its work on the encoded batch.

    ``process_wire`` returns the encoding of the batch it hands on (``body`` itself, the same object,
    when nothing changed), or ``None`` when these bytes need the decoded path (something to change
    that only ``process`` can). It never drops items: a batch whose item count would change goes
    through ``process``. Whatever it returns must decode to what ``process`` would have made of the
    decoded batch.
    """

    def process_wire(self, signal: Signal, body: bytes) -> bytes | None: ...
