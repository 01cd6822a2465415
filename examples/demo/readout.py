"""Reading the sidecar's ``file`` exporter output back: spans, metric points and log records.

Each line of ``traces.jsonl`` / ``metrics.jsonl`` / ``logs.jsonl`` is one OTLP/JSON export request
(rotated files ``*.jsonl.N`` are read too, oldest first), decoded with the sidecar's own codec.
The functions here reduce them to the few facts the summary prints.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from sidecar.otlp import json_codec

SERVER, CLIENT = 2, 3
KINDS = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
OVERFLOW_KEY = "otel.metric.overflow"


def value(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: value(kv.value) for kv in v.kvlist_value.values}
    return None if kind is None else getattr(v, kind)


def attributes(kvs: Any) -> dict[str, Any]:
    return {kv.key: value(kv.value) for kv in kvs}


def _files(out_dir: Path, signal: str) -> list[Path]:
    rotated = sorted(out_dir.glob(f"{signal}.jsonl.*"), key=lambda p: -int(p.suffix[1:]) if p.suffix[1:].isdigit()
                     else 0)
    current = out_dir / f"{signal}.jsonl"
    return [*rotated, *([current] if current.exists() else [])]


def batches(out_dir: Path, signal: str) -> Iterator[Any]:
    message = {"traces": ExportTraceServiceRequest, "metrics": ExportMetricsServiceRequest,
               "logs": ExportLogsServiceRequest}[signal]
    for path in _files(out_dir, signal):
        with path.open("rb") as f:
            for line in f:
                if line.strip():
                    yield json_codec.decode(message, line)


# -- traces ---------------------------------------------------------------------------------------


@dataclass
class Span:
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    kind: int
    start_ns: int
    end_ns: int
    service: str
    attributes: dict[str, Any]
    error: bool

    @property
    def ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6


def spans(out_dir: Path) -> list[Span]:
    out = []
    for batch in batches(out_dir, "traces"):
        for rs in batch.resource_spans:
            service = str(attributes(rs.resource.attributes).get("service.name", "?"))
            for ss in rs.scope_spans:
                for s in ss.spans:
                    out.append(Span(s.trace_id.hex(), s.span_id.hex(), s.parent_span_id.hex(), s.name, s.kind,
                                    s.start_time_unix_nano, s.end_time_unix_nano, service,
                                    attributes(s.attributes), s.status.code == 2))
    return out


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (what a person computes by hand); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass
class RouteStats:
    route: str
    count: int
    errors: int
    p50_ms: float
    p95_ms: float
    max_ms: float


def http_status(span: Span) -> int:
    code = span.attributes.get("http.response.status_code", span.attributes.get("http.status_code", 0))
    return int(code) if isinstance(code, int) else 0


def route_stats(all_spans: list[Span]) -> list[RouteStats]:
    """SERVER spans grouped by route (the span name, ``METHOD /route``), slowest p95 first."""
    by_route: dict[str, list[Span]] = defaultdict(list)
    for s in all_spans:
        if s.kind == SERVER:
            by_route[s.name].append(s)
    rows = []
    for route, group in by_route.items():
        ms = [s.ms for s in group]
        rows.append(RouteStats(route, len(group), sum(1 for s in group if s.error or http_status(s) >= 500),
                               percentile(ms, 0.5), percentile(ms, 0.95), max(ms)))
    return sorted(rows, key=lambda r: -r.count)


@dataclass
class TreeNode:
    span: Span
    children: list[TreeNode] = field(default_factory=list)


def sample_trace(all_spans: list[Span], prefer: str = "POST /orders") -> TreeNode | None:
    """The complete trace with the most spans whose root is ``prefer`` (else any complete trace)."""
    by_trace: dict[str, list[Span]] = defaultdict(list)
    for s in all_spans:
        by_trace[s.trace_id].append(s)
    best: tuple[int, int, str] | None = None
    for trace_id, group in by_trace.items():
        roots = [s for s in group if not s.parent_id]
        if len(roots) != 1:
            continue
        score = (1 if roots[0].name == prefer else 0, len(group), trace_id)
        if best is None or score > best:
            best = score
    if best is None:
        return None
    group = by_trace[best[2]]
    nodes = {s.span_id: TreeNode(s) for s in group}
    root = None
    for node in sorted(nodes.values(), key=lambda n: n.span.start_ns):
        parent = nodes.get(node.span.parent_id)
        if parent is None:
            root = node if root is None else root
        else:
            parent.children.append(node)
    return root


# -- metrics --------------------------------------------------------------------------------------


@dataclass
class MetricSeries:
    """Distinct attribute sets of one metric across the output, and whether an overflow series showed up."""

    name: str
    service: str
    series: set[str] = field(default_factory=set)
    overflow: bool = False


def _points(metric: Any) -> Any:
    kind = metric.WhichOneof("data")
    return [] if kind is None else getattr(metric, kind).data_points


def metric_series(out_dir: Path, service: str) -> dict[str, MetricSeries]:
    """Per metric of ``service``: the attribute sets that reached the file exporter."""
    out: dict[str, MetricSeries] = {}
    for batch in batches(out_dir, "metrics"):
        for rm in batch.resource_metrics:
            if attributes(rm.resource.attributes).get("service.name") != service:
                continue
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    entry = out.setdefault(m.name, MetricSeries(m.name, service))
                    for dp in _points(m):
                        attrs = attributes(dp.attributes)
                        entry.overflow = entry.overflow or attrs.get(OVERFLOW_KEY) is True
                        entry.series.add(json.dumps(attrs, sort_keys=True, default=str))
    return out


def _point_value(dp: Any) -> float | None:
    kind = dp.WhichOneof("value") if hasattr(dp, "as_double") else None
    return None if kind is None else float(getattr(dp, kind))


@dataclass
class StatsSample:
    time_ns: int
    value: float


def ecs_stats(out_dir: Path) -> dict[tuple[str, str], list[StatsSample]]:
    """``(container name or "task", metric) -> samples`` for the ECS stats the scraper produced."""
    out: dict[tuple[str, str], list[StatsSample]] = defaultdict(list)
    for batch in batches(out_dir, "metrics"):
        for rm in batch.resource_metrics:
            res = attributes(rm.resource.attributes)
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    if not m.name.startswith(("ecs.task.", "container.")):
                        continue
                    if m.name.startswith("container.") and "container.name" not in res:
                        continue
                    # The app's own container.* would be from a library; the scraper's resources carry
                    # no service of their own, which is how they are told apart here.
                    if "telemetry.sdk.language" in res:
                        continue
                    who = "task" if m.name.startswith("ecs.task.") else str(res["container.name"])
                    for dp in _points(m):
                        v = _point_value(dp)
                        if v is not None:
                            out[(who, m.name)].append(StatsSample(dp.time_unix_nano, v))
    for samples in out.values():
        samples.sort(key=lambda s: s.time_ns)
    return out


# -- logs -----------------------------------------------------------------------------------------


def log_record_count(out_dir: Path) -> int:
    return sum(len(sl.log_records) for b in batches(out_dir, "logs") for rl in b.resource_logs
               for sl in rl.scope_logs)


def newest_json_lines(path: Path, n: int = 3) -> list[dict[str, Any]]:
    """The last ``n`` lines of ``path`` that are JSON objects (a crash message would not be)."""
    found: list[dict[str, Any]] = []
    if not path.exists():
        return found
    for line in reversed(path.read_text(errors="replace").splitlines()):
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            found.append(obj)
            if len(found) == n:
                break
    return list(reversed(found))


# -- Application Signals --------------------------------------------------------------------------

#: ``aws.span.kind`` values of a service entry (a request the service served); the rest are dependency calls.
SERVICE_ENTRY_KINDS = frozenset({"SERVER", "LOCAL_ROOT"})
_RED = {"latency": "latency", "error": "error", "fault": "fault"}


@dataclass
class RedRow:
    """One operation (service entry) or one dependency call, as Application Signals publishes it."""

    service: str
    version: str
    operation: str
    remote_service: str = ""
    remote_operation: str = ""
    remote_target: str = ""
    calls: int = 0
    latency_sum_ms: float = 0.0
    #: Latency bucket counts (summed over series) and their upper bounds, for an approximate p95.
    bounds: tuple[float, ...] = ()
    buckets: list[float] = field(default_factory=list)
    errors: int = 0
    faults: int = 0

    @property
    def is_entry(self) -> bool:
        return not self.remote_service

    @property
    def avg_ms(self) -> float:
        return self.latency_sum_ms / self.calls if self.calls else math.nan

    def p95_bound_ms(self) -> float:
        """The upper bound of the bucket holding the 95th percentile (what a histogram can tell)."""
        total = sum(self.buckets)
        if not total or not self.bounds:
            return math.nan
        running = 0.0
        for i, n in enumerate(self.buckets):
            running += n
            if running >= 0.95 * total:
                return self.bounds[i] if i < len(self.bounds) else math.inf
        return math.inf


def app_signals(out_dir: Path) -> list[RedRow]:
    """The ``Latency``/``Error``/``Fault`` histograms the app recorded, per operation and dependency.

    Cumulative series (the SDK's default) count from their start: the newest point of each series
    (resource + attributes) holds its total. Delta points add up. Either way every call is counted
    once, whatever the trace sampler decided: the metrics are recorded from every span.
    """
    latest: dict[tuple[str, str, str], tuple[int, Any, dict[str, Any], dict[str, Any]]] = {}
    deltas: list[tuple[str, Any, dict[str, Any], dict[str, Any]]] = []
    for batch in batches(out_dir, "metrics"):
        for rm in batch.resource_metrics:
            res = attributes(rm.resource.attributes)
            rkey = json.dumps(res, sort_keys=True, default=str)
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    name = _RED.get(m.name.lower())
                    if name is None or m.WhichOneof("data") != "histogram":
                        continue
                    cumulative = m.histogram.aggregation_temporality == 2
                    for dp in m.histogram.data_points:
                        attrs = attributes(dp.attributes)
                        if "aws.span.kind" not in attrs:
                            continue
                        if not cumulative:
                            deltas.append((name, dp, res, attrs))
                            continue
                        key = (name, rkey, json.dumps(attrs, sort_keys=True, default=str))
                        if key not in latest or dp.time_unix_nano >= latest[key][0]:
                            latest[key] = (dp.time_unix_nano, dp, res, attrs)
    points = [(k[0], dp, res, attrs) for k, (_, dp, res, attrs) in latest.items()] + deltas
    rows: dict[tuple[str, ...], RedRow] = {}
    for name, dp, res, attrs in points:
        entry = attrs.get("aws.span.kind") in SERVICE_ENTRY_KINDS
        ident = (
            str(attrs.get("aws.local.service") or res.get("service.name", "?")),
            str(res.get("service.version", "")),
            str(attrs.get("aws.local.operation", "")),
            "" if entry else str(attrs.get("aws.remote.service", "")),
            "" if entry else str(attrs.get("aws.remote.operation", "")),
            "" if entry else str(attrs.get("aws.remote.resource.identifier", "")),
        )
        row = rows.setdefault(ident, RedRow(*ident))
        if name == "latency":
            row.calls += int(dp.count)
            row.latency_sum_ms += dp.sum
            bounds = tuple(dp.explicit_bounds)
            counts = [float(c) for c in dp.bucket_counts]
            if not row.buckets:
                row.bounds, row.buckets = bounds, counts
            elif row.bounds == bounds and len(row.buckets) == len(counts):
                row.buckets = [a + b for a, b in zip(row.buckets, counts, strict=True)]
        elif name == "error":
            row.errors += round(dp.sum)
        else:
            row.faults += round(dp.sum)
    return sorted(rows.values(), key=lambda r: (not r.is_entry, r.operation, r.remote_service, r.remote_operation))
