"""Connection-level limits for the OTLP/HTTP receiver: a cap on open connections and a header read timeout.

aiohttp has neither: a client that opens a connection and sends one header byte a second holds it (and
a file descriptor) for as long as it likes, and a thousand such clients exhaust the descriptors, so good
requests cannot even be accepted. :class:`ConnectionGuard` wraps each aiohttp protocol instance:

- Over ``max_connections`` open connections, a new one is answered ``503`` with ``Retry-After`` and
  closed before aiohttp sees it (counted).
- A connection must deliver a request's headers within ``header_timeout_s`` of opening, and of the end
  of its previous request (an idle keep-alive connection counts as one that has not sent headers yet);
  otherwise it is closed (counted). The handler says when headers are complete (``request_started``)
  and when a request is done (``request_finished``): aiohttp calls the handler only once it has parsed
  the headers, so no second HTTP parser is needed here.

The body read timeout is the receiver's (``asyncio.timeout`` around reading the body), where the outcome
can be answered and counted per signal.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sidecar.pipeline.telemetry import Registry

log = logging.getLogger("ecs_otel.sidecar.receivers.connections")

OPEN = "ecs_otel_sidecar_receiver_open_connections"
REFUSED_CONNECTIONS = "ecs_otel_sidecar_receiver_refused_connections_total"
HEADER_TIMEOUTS = "ecs_otel_sidecar_receiver_header_timeouts_total"

_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: text/plain\r\n"
         b"Content-Length: 34\r\nConnection: close\r\n\r\ntoo many open connections; retry\r\n")


class ConnectionGuard:
    """Counts open connections of one receiver and enforces the cap and the header read timeout."""

    def __init__(self, receiver: str, telemetry: Registry, *, max_connections: int, header_timeout_s: float) -> None:
        self.receiver = receiver
        self.max_connections = max_connections
        self.header_timeout_s = header_timeout_s
        self._open: dict[asyncio.BaseTransport, _Guarded] = {}
        self._gauge = telemetry.gauge(OPEN, "Connections open on the receiver.", ("receiver",))
        self._refused = telemetry.counter(
            REFUSED_CONNECTIONS, "Connections answered 503 and closed because the receiver already had "
            "ECS_OTEL_RECEIVER_MAX_CONNECTIONS open.", ("receiver",))
        self._timeouts = telemetry.counter(
            HEADER_TIMEOUTS, "Connections closed because a request's headers did not arrive within "
            "ECS_OTEL_HEADER_READ_TIMEOUT.", ("receiver",))
        self._gauge.set(0, receiver=receiver)

    def protocol_factory(self, make: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        """Wraps the aiohttp server's protocol factory."""
        return lambda: _Guarded(self, make)

    @property
    def open_connections(self) -> int:
        return len(self._open)

    def request_started(self, transport: asyncio.BaseTransport | None) -> None:
        """The handler runs: the headers are in, the header timer stops."""
        conn = self._open.get(transport) if transport is not None else None
        if conn is not None:
            conn.disarm()

    def request_finished(self, transport: asyncio.BaseTransport | None) -> None:
        """The handler is done: the next request's headers must come within the timeout again."""
        conn = self._open.get(transport) if transport is not None else None
        if conn is not None:
            conn.arm()

    def _admit(self, conn: _Guarded, transport: asyncio.BaseTransport) -> bool:
        if len(self._open) >= self.max_connections:
            self._refused.inc(receiver=self.receiver)
            log.warning("refused a connection: %d connections already open (ECS_OTEL_RECEIVER_MAX_CONNECTIONS)",
                        self.max_connections)
            return False
        self._open[transport] = conn
        self._gauge.set(len(self._open), receiver=self.receiver)
        return True

    def _closed(self, transport: asyncio.BaseTransport) -> None:
        if self._open.pop(transport, None) is not None:
            self._gauge.set(len(self._open), receiver=self.receiver)

    def _timed_out(self) -> None:
        self._timeouts.inc(receiver=self.receiver)
        log.warning("closed a connection that sent no complete request headers within %s s "
                    "(ECS_OTEL_HEADER_READ_TIMEOUT)", self.header_timeout_s)


class _Guarded(asyncio.Protocol):
    """One connection: delegates to aiohttp's protocol once admitted, closes it when headers are late."""

    def __init__(self, guard: ConnectionGuard, make: Callable[[], asyncio.Protocol]) -> None:
        self.guard = guard
        self._make = make
        self.inner: asyncio.Protocol | None = None
        self.transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        #: When the next request's headers must be in (loop time), or ``None`` while a request is handled.
        self._deadline: float | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if not self.guard._admit(self, transport):
            transport.write(_BUSY)
            transport.close()
            return
        self.inner = self._make()
        self.inner.connection_made(transport)
        self.arm()

    def arm(self) -> None:
        """Start the header deadline. Lazily: one timer per connection stays pending and, when it fires, looks
        at the current deadline, so a busy keep-alive connection costs no timer (heap push, cancel) per request."""
        transport = self.transport
        if transport is None or transport.is_closing():
            self._deadline = None
            return
        loop = asyncio.get_running_loop()
        self._deadline = loop.time() + self.guard.header_timeout_s
        if self._timer is None:
            self._timer = loop.call_at(self._deadline, self._expire)

    def disarm(self) -> None:
        """Stop the header deadline (a pending timer finds none and does nothing)."""
        self._deadline = None

    def _cancel(self) -> None:
        self._deadline = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._timer = None
        deadline = self._deadline
        if deadline is None:
            return  # headers came in time (the handler disarmed): the next request arms again
        loop = asyncio.get_running_loop()
        if loop.time() < deadline:  # re-armed since this timer was set: wait for the newer deadline
            self._timer = loop.call_at(deadline, self._expire)
            return
        self._deadline = None
        if self.transport is not None and not self.transport.is_closing():
            self.guard._timed_out()
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        if self.inner is not None:
            self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.inner is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        if self.transport is not None:
            self.guard._closed(self.transport)
        if self.inner is not None:
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()
