"""The daemon listener's counters add up on shutdown: nothing received leaves without an outcome."""

from __future__ import annotations

import asyncio
import logging

from sidecar.exporters.xray._internal.daemon import DaemonListener
from sidecar.exporters.xray._internal.sender import SendResult
from sidecar.pipeline.telemetry import Registry

DATAGRAM = b'{"format": "json", "version": 1}\n{"id": "0123456789abcdef"}'
OUTCOMES = ("sent", "rejected", "dropped_invalid", "dropped_buffer_full", "dropped_send_failed")


class HangingSender:
    """A PutTraceSegments that never answers (an unreachable endpoint)."""

    def __init__(self) -> None:
        self.calls = 0

    async def send(self, documents: list[bytes]) -> SendResult:
        self.calls += 1
        await asyncio.sleep(3600)
        return SendResult(sent=len(documents))


def _outcomes(registry: Registry) -> dict[str, float]:
    counter = registry.find("ecs_otel_sidecar_xray_daemon_segments_total")
    assert counter is not None
    return {o: counter.get(outcome=o) for o in ("received", *OUTCOMES)}  # type: ignore[union-attr]


async def test_documents_in_flight_or_buffered_at_stop_are_counted() -> None:
    async def main() -> dict[str, float]:
        registry = Registry()
        sender = HangingSender()
        listener = DaemonListener(sender, registry, logging.getLogger("test"))  # type: ignore[arg-type]
        await listener.start("127.0.0.1", 0)
        for _ in range(120):  # two full calls' worth wake the flusher, which hangs on the first call
            listener.receive(DATAGRAM)
        for _ in range(50):
            if sender.calls:
                break
            await asyncio.sleep(0.01)
        assert sender.calls == 1
        loop = asyncio.get_running_loop()
        await listener.stop(loop.time() + 0.05)  # the final flush hangs too and is cut short
        return _outcomes(registry)

    counts = await main()
    assert counts["received"] == 120
    assert counts["dropped_send_failed"] == 120
    assert sum(counts[o] for o in OUTCOMES) == counts["received"]


async def test_buffer_left_when_the_deadline_has_passed_is_counted() -> None:
    async def main() -> dict[str, float]:
        registry = Registry()
        listener = DaemonListener(HangingSender(), registry, logging.getLogger("test"))  # type: ignore[arg-type]
        for _ in range(3):
            listener.receive(DATAGRAM)
        await listener.stop(asyncio.get_running_loop().time() - 1)
        return _outcomes(registry)

    counts = await main()
    assert counts["received"] == 3
    assert counts["dropped_send_failed"] == 3
