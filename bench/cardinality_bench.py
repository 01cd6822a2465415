"""Cardinality processor: data points per second at 1,000,000 distinct attribute sets, and peak memory.

Rows (all through ``sidecar.processors.cardinality.processor.CardinalityProcessor`` with default settings,
limit 2000, on delta sums with two attributes, requests of 50,000 points parsed beforehand):

- ``distinct``: every point a new ``user.id`` (1,000,000 distinct sets): 2000 admitted, the rest folded;
- ``steady``: 1,000,000 points over 1,000 known series (the usual case);
- ``urls``: points whose ``url.path`` carries ids, normalised to one route;
- ``baseline-distinct``: the same stream through the obvious implementation (series key built
  from the protobuf API as a tuple of (key, value) pairs, same limit and folding), to show what
  reading attributes as bytes buys. No Python OpenTelemetry component limits series on OTLP
  batches, so there is no third-party peer to run.

Peak memory is tracemalloc's peak while the stream is processed (a second pass), which covers
the series tables and the transient batch objects; ``rss_delta_mib`` is the resident-set growth
of the first pass (each batch released once processed). Throughput is given per CPU second (robust on a shared machine) and per wall second. Run: ``python -m bench.cardinality_bench [--quick]``.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import psutil
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.metrics.v1.metrics_pb2 import AGGREGATION_TEMPORALITY_DELTA

from bench import report
from ecs_otel.otlp.wire import varint as vb
from sidecar.context import SidecarContext
from sidecar.otlp.signals import Signal, item_count
from sidecar.processors.cardinality._internal.overflow import fold_delta
from sidecar.processors.cardinality.processor import CardinalityProcessor

PER_REQUEST = 50_000


def _kv(key: str, value: bytes) -> bytes:
    k = key.encode()
    anyv = b"\x0a" + vb(len(value)) + value
    return b"\x0a" + vb(len(k)) + k + b"\x12" + vb(len(anyv)) + anyv


def _request(points: list[bytes]) -> bytes:
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    rm.resource.attributes.add(key="service.name").value.string_value = "bench"
    m = rm.scope_metrics.add().metrics.add(name="app.requests")
    m.sum.aggregation_temporality = AGGREGATION_TEMPORALITY_DELTA
    m.sum.is_monotonic = True
    m.sum.MergeFromString(b"".join(b"\x0a" + vb(len(p)) + p for p in points))
    return req.SerializeToString()


def _stream(total: int, attrs: Callable[[int], list[bytes]]) -> list[bytes]:
    head = b"\x11" + (1).to_bytes(8, "little") + b"\x19" + (2).to_bytes(8, "little") + b"\x31" + (1).to_bytes(8, "little")
    out = []
    for start in range(0, total, PER_REQUEST):
        points = []
        for i in range(start, min(total, start + PER_REQUEST)):
            points.append(head + b"".join(b"\x3a" + vb(len(a)) + a for a in attrs(i)))
        out.append(_request(points))
    return out


ROUTE = _kv("http.route", b"/cart")


def distinct(i: int) -> list[bytes]:
    return [_kv("user.id", b"u%d" % i), ROUTE]


def steady(i: int) -> list[bytes]:
    return [_kv("user.id", b"u%d" % (i % 1000)), ROUTE]


def urls(i: int) -> list[bytes]:
    return [_kv("url.path", b"/users/%d/orders/%d" % (i, i * 7))]


class Baseline:
    """The obvious implementation: series keys as tuples read through the protobuf API."""

    def __init__(self, limit: int = 2000) -> None:
        self.limit = limit
        self.seen: dict[Any, float] = {}

    def process(self, batch: Any) -> None:
        now = time.monotonic()
        for rm in batch.resource_metrics:
            rkey = tuple((kv.key, kv.value.SerializeToString()) for kv in rm.resource.attributes)
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    dps = m.sum.data_points
                    kept, over = [], []
                    for dp in dps:
                        key = (rkey, tuple((kv.key, kv.value.SerializeToString()) for kv in dp.attributes))
                        if key in self.seen or len(self.seen) < self.limit:
                            self.seen[key] = now
                            kept.append(dp)
                        else:
                            over.append(dp)
                    if over:
                        holder = type(m.sum)()
                        holder.data_points.extend(kept)
                        fold_delta("sum", over, holder.data_points.add())
                        del dps[:]
                        dps.extend(holder.data_points)


def _measure(make: Callable[[], Any], stream: list[bytes], baseline: bool) -> dict[str, Any]:
    batches = [ExportMetricsServiceRequest.FromString(b) for b in stream]
    points = sum(item_count(Signal.METRICS, b) for b in batches)
    proc = make()
    gc.collect()
    rss0 = psutil.Process().memory_info().rss
    cpu0, t0 = time.process_time(), time.perf_counter()
    out_points = 0
    for k, b in enumerate(batches):
        if baseline:
            proc.process(b)
        else:
            proc.process(Signal.METRICS, b)
        out_points += item_count(Signal.METRICS, b)
        batches[k] = None  # a processed batch leaves, as it would after export
        del b
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    rss = psutil.Process().memory_info().rss - rss0
    del batches
    # second pass for the memory peak (tracemalloc slows everything, so it is not timed)
    batches = [ExportMetricsServiceRequest.FromString(b) for b in stream]
    proc = make()
    gc.collect()
    tracemalloc.start()
    for b in batches:
        if baseline:
            proc.process(b)
        else:
            proc.process(Signal.METRICS, b)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "points": points,
        "points_out": out_points,
        "points_per_s": int(points / wall),
        "points_per_cpu_s": int(points / cpu) if cpu else 0,
        "cpu_s": round(cpu, 2),
        "peak_mib": round(peak / 2**20, 1),
        "rss_delta_mib": round(rss / 2**20, 1),
    }


def run(quick: bool = False) -> list[dict[str, Any]]:
    total = 100_000 if quick else 1_000_000
    new = lambda: CardinalityProcessor(CardinalityProcessor.Settings(), SidecarContext())  # noqa: E731
    rows = []
    for case, attrs in (("distinct", distinct), ("steady", steady), ("urls", urls)):
        stream = _stream(total, attrs)
        rows.append({"case": case, **_measure(new, stream, baseline=False)})
        if case == "distinct":
            base = {"case": "baseline-distinct", **_measure(Baseline, stream, baseline=True)}
            rows.append(base)
    ours = rows[0]["points_per_cpu_s"]
    for r in rows:
        if r["case"] == "baseline-distinct":
            r["vs_baseline"] = "1.00"
            rows[0]["vs_baseline"] = f"{ours / r['points_per_cpu_s']:.2f}"
    return rows


def to_markdown(rows: list[dict[str, Any]]) -> str:
    return report.markdown_table(
        ("case", "points in", "points out", "points per CPU s", "× baseline", "points/s (wall)", "CPU s",
         "peak MiB (tracemalloc)", "RSS Δ MiB"),
        ((r["case"], f"{r['points']:,}", f"{r['points_out']:,}", f"{r['points_per_cpu_s']:,}", r.get("vs_baseline", ""),
          f"{r['points_per_s']:,}", r["cpu_s"], r["peak_mib"], r["rss_delta_mib"]) for r in rows),
    )


def main(argv: list[str] | None = None) -> None:
    report.main(__doc__, run, to_markdown, argv, quick_help="100,000 points instead of 1,000,000")


if __name__ == "__main__":
    main()
