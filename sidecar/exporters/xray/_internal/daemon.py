"""The X-Ray daemon's UDP side: SDK segments in, PutTraceSegments out.

Each datagram is a header line ``{"format": "json", "version": 1}`` followed by one segment
(or streamed subsegment) document, which is forwarded as it is. Documents wait in a bounded
buffer and leave in calls of up to 50, at least once a second.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging

import orjson

from sidecar.exporters.xray._internal.sender import MAX_DOCUMENTS_PER_CALL, SegmentSender
from sidecar.exporters.xray._internal.trim import MAX_DOCUMENT_BYTES
from sidecar.pipeline.telemetry import Registry

FLUSH_INTERVAL_S = 1.0


class DaemonProtocol(asyncio.DatagramProtocol):
    def __init__(self, listener: DaemonListener) -> None:
        self.listener = listener

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.listener.receive(data)


class DaemonListener:
    def __init__(
        self, sender: SegmentSender, telemetry: Registry, logger: logging.Logger, max_buffered: int = 1000
    ) -> None:
        self.sender = sender
        self.logger = logger
        self.max_buffered = max_buffered
        self._buffer: collections.deque[bytes] = collections.deque()
        self._segments = telemetry.counter(
            "ecs_otel_sidecar_xray_daemon_segments_total",
            "Daemon-protocol documents by outcome: received, sent, rejected, dropped_invalid, "
            "dropped_buffer_full, dropped_send_failed.",
            ("outcome",),
        )
        self._transport: asyncio.DatagramTransport | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    async def start(self, host: str, port: int) -> None:
        """Bind the UDP port; raises ``OSError`` when it is taken."""
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: DaemonProtocol(self), local_addr=(host, port)
        )
        self._transport = transport
        self._flusher = asyncio.create_task(self._flush_loop(), name="xray-daemon-flush")

    def receive(self, data: bytes) -> None:
        header, sep, document = data.partition(b"\n")
        try:
            meta = orjson.loads(header)
            valid = sep and meta.get("format") == "json" and meta.get("version") == 1
        except (orjson.JSONDecodeError, AttributeError):
            valid = False
        document = document.strip()
        if not valid or not document or len(document) > MAX_DOCUMENT_BYTES:
            self._segments.inc(outcome="dropped_invalid")
            return
        self._segments.inc(outcome="received")
        if len(self._buffer) >= self.max_buffered:
            self._segments.inc(outcome="dropped_buffer_full")
            return
        self._buffer.append(document)
        if len(self._buffer) >= MAX_DOCUMENTS_PER_CALL:
            self._wake.set()

    async def _flush_loop(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), FLUSH_INTERVAL_S)
            except TimeoutError:
                pass
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        while self._buffer:
            docs = [self._buffer.popleft() for _ in range(min(len(self._buffer), MAX_DOCUMENTS_PER_CALL))]
            try:
                result = await self.sender.send(docs)
            except asyncio.CancelledError:
                # Stopped mid-call: these left the buffer without a confirmed outcome.
                self._segments.inc(len(docs), outcome="dropped_send_failed")
                raise
            self._segments.inc(result.sent, outcome="sent")
            self._segments.inc(result.rejected, outcome="rejected")
            if result.failed:
                self._segments.inc(result.failed, outcome="dropped_send_failed")
                self.logger.warning(
                    "X-Ray daemon relay: %d documents not sent: %s", result.failed, result.last_error
                )

    async def stop(self, deadline: float) -> None:
        if self._transport is not None:
            self._transport.close()
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        remaining = deadline - asyncio.get_running_loop().time()
        if self._buffer and remaining > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.flush(), remaining)
        # Whatever is still buffered (no time left, or the deadline cut the flush short) is lost: count it.
        if self._buffer:
            self._segments.inc(len(self._buffer), outcome="dropped_send_failed")
            self._buffer.clear()
