"""What an exporter is: ``async export(signal, batch) -> ExportOutcome`` and ``shutdown``.

Queues, batching, retries and accounting live in the pipeline, not here, so an exporter
only translates a batch and sends it once.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import ClassVar, Protocol, runtime_checkable

from google.protobuf.message import Message

from sidecar.otlp.signals import Signal


@dataclass(frozen=True, slots=True)
class ExportOutcome:
    """The result of one send attempt.

    ``retryable`` tells the queue whether to try again (5xx, 429, throttling, timeouts);
    ``retry_after_s`` is the backend's hint, when it gave one. ``rejected`` counts items the
    backend refused for good inside an otherwise accepted batch (OTLP partial success).
    """

    ok: bool
    retryable: bool = False
    retry_after_s: float | None = None
    reason: str = ""
    rejected: int = 0

    @classmethod
    def success(cls, rejected: int = 0, reason: str = "") -> ExportOutcome:
        return cls(ok=True, rejected=rejected, reason=reason)

    @classmethod
    def retry(cls, reason: str, retry_after_s: float | None = None) -> ExportOutcome:
        return cls(ok=False, retryable=True, retry_after_s=retry_after_s, reason=reason)

    @classmethod
    def fail(cls, reason: str) -> ExportOutcome:
        return cls(ok=False, retryable=False, reason=reason)


class Exporter(abc.ABC):
    """Base class for exporters. Subclasses set ``signals`` and implement ``export``."""

    #: The signals this exporter accepts.
    signals: ClassVar[frozenset[Signal]] = frozenset(Signal)

    #: Instance name used in counters and the status page (e.g. ``otlp``, ``xray``).
    name: str = "exporter"

    @abc.abstractmethod
    async def export(self, signal: Signal, batch: Message) -> ExportOutcome: ...

    def destination(self, signal: Signal) -> str:
        """Where this exporter sends ``signal``, for people (the status page): a URL, a log group, a path."""
        return ""

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Open listeners or sessions; called once before the first export."""

    async def shutdown(self, deadline: float) -> None:  # noqa: B027 - optional hook
        """Release resources; ``deadline`` is a ``loop.time()`` value not to pass."""


@runtime_checkable
class EncodedExporter(Protocol):
    """Optional fast path: an exporter that can send an already encoded ``Export*ServiceRequest``.

    Queues hold encoded requests and merge them by concatenation (a valid encoding of the
    merged message); an exporter with this method gets those bytes as they are, skipping the
    decode that ``export`` needs and the encode it then does.
    """

    async def export_encoded(self, signal: Signal, body: bytes) -> ExportOutcome: ...


@runtime_checkable
class ListeningExporter(Protocol):
    """An exporter that serves a port (a scrape endpoint): the wiring reports the port it bound.

    Lets a launcher ask for port 0 and learn the real one from ``--ports-file``, instead of picking a
    "free" port first and racing whatever else takes it before the sidecar binds.
    """

    port: int | None
