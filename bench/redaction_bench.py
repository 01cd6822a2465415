"""Redaction: what the rules cost on the common batch (no secret) and on a log record.

Batches are the sidecar benchmark's request bodies (``bench.sidecar_vs_rotel.build_bodies``: 100 spans of
an instrumented web service, about 35 KB of protobuf each). Rows, in microseconds per batch or record:

- ``screen``: the byte screen alone on a clean batch (``ByteScreen.may_match``);
- ``processor, clean batch``: ``RedactionProcessor.process_encoded`` on it (serialisation + screen: what
  the sidecar pays per batch);
- ``processor, one secret``: the same batch with a password on one span (screen, per-span screens, one walk);
- ``full walk``: every attribute of the clean batch walked without the screen, the peer the screen is
  measured against (ratio column);
- ``JsonFormatter``: one record as the logging benchmark logs it, masking on and off.

Run: ``python -m bench.redaction_bench [--quick]``.
"""

from __future__ import annotations

import gc
import logging
import statistics
import time
from collections.abc import Callable
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from bench import report
from bench.sidecar_vs_rotel import build_bodies
from ecs_otel.logging import JsonFormatter
from ecs_otel.redaction import ByteScreen
from sidecar.context import SidecarContext
from sidecar.otlp.signals import Signal
from sidecar.processors.redaction import RedactionProcessor


def _us(fn: Callable[[], Any], rounds: int, per_round: int) -> float:
    """Median over ``rounds`` of the mean time of ``per_round`` calls, in microseconds."""
    times = []
    for _ in range(rounds):
        gc.collect()
        start = time.perf_counter()
        for _ in range(per_round):
            fn()
        times.append((time.perf_counter() - start) / per_round)
    return statistics.median(times) * 1e6


def _batches(bodies: list[bytes]) -> list[ExportTraceServiceRequest]:
    out = []
    for body in bodies:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        out.append(request)
    return out


def run(quick: bool = False) -> list[dict[str, Any]]:
    rounds, per_round = (5, 20) if quick else (15, 100)
    bodies = build_bodies(8)
    clean = _batches(bodies)
    proc = RedactionProcessor(RedactionProcessor.Settings(), SidecarContext())
    walker = RedactionProcessor(RedactionProcessor.Settings(), SidecarContext())
    walker._screen = ByteScreen(b"", b"", None)  # flags everything: the walk without the screen
    assert not any(proc._screen.may_match(b) for b in bodies), "the bench's batches must be clean"
    dirty = _batches(bodies[:1])[0]
    secret = dirty.resource_spans[0].scope_spans[0].spans[50].attributes.add()
    secret.CopyFrom(KeyValue(key="db.password", value=AnyValue(string_value="hunter2")))

    def dirty_batch() -> None:  # a fresh copy each time: the first redaction would make the rest clean
        batch = ExportTraceServiceRequest()
        batch.CopyFrom(dirty)
        proc.process_encoded(Signal.TRACES, batch)

    def copy_only() -> None:
        ExportTraceServiceRequest().CopyFrom(dirty)

    i = iter(range(1 << 62))
    rows = [
        {"case": "screen, clean batch", "us": _us(lambda: proc._screen.may_match(bodies[next(i) % 8]), rounds, per_round)},
        {"case": "processor, clean batch", "us": _us(lambda: proc.process_encoded(Signal.TRACES, clean[next(i) % 8]),
                                                     rounds, per_round)},
        {"case": "processor, one secret in one of 100 spans",
         "us": _us(dirty_batch, rounds, per_round) - _us(copy_only, rounds, per_round)},
        {"case": "full walk, clean batch (no screen)", "us": _us(lambda: walker._walk(Signal.TRACES, clean[next(i) % 8]),
                                                                 rounds, max(1, per_round // 10))},
    ]
    walk = rows[-1]["us"]
    for row in rows:
        row["vs_walk"] = row["us"] / walk
        row["bytes"] = len(bodies[0])
    record = logging.LogRecord("checkout", logging.INFO, __file__, 1, "user %s checked out basket %d", ("alice", 1234), None)
    record.__dict__.update({"order_id": "o-981", "amount": 12.5})
    for name, formatter in (("JsonFormatter record, masking on", JsonFormatter(service="checkout")),
                            ("JsonFormatter record, masking off", JsonFormatter(service="checkout", redact=False))):
        rows.append({"case": name, "us": _us(lambda f=formatter: f.format(record), rounds, per_round * 10)})
    return rows


def to_markdown(rows: list[dict[str, Any]]) -> str:
    return report.markdown_table(
        ("case", "µs", "× full walk"),
        ((r["case"], f"{r['us']:.1f}", f"{r['vs_walk']:.3f}" if "vs_walk" in r else "") for r in rows),
    )


def main(argv: list[str] | None = None) -> None:
    report.main(__doc__, run, to_markdown, argv)


if __name__ == "__main__":
    main()
