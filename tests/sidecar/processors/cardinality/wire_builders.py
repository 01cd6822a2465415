"""Building large OTLP metric requests from bytes, so tests with a million points stay fast."""

from __future__ import annotations

import struct

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.metrics.v1.metrics_pb2 import AGGREGATION_TEMPORALITY_DELTA

from ecs_otel.otlp.wire import varint as vb


def kv(key: str, value: str) -> bytes:
    k, v = key.encode(), value.encode()
    anyv = b"\x0a" + vb(len(v)) + v
    return b"\x0a" + vb(len(k)) + k + b"\x12" + vb(len(anyv)) + anyv


def number_point(attrs: list[bytes], value: int, start_ns: int = 1, time_ns: int = 2) -> bytes:
    body = b"\x11" + struct.pack("<Q", start_ns) + b"\x19" + struct.pack("<Q", time_ns)
    body += b"\x31" + struct.pack("<q", value)
    return body + b"".join(b"\x3a" + vb(len(a)) + a for a in attrs)


def points_field(points: list[bytes]) -> bytes:
    """``data_points`` entries of a Sum/Gauge (field 1)."""
    return b"".join(b"\x0a" + vb(len(p)) + p for p in points)


def sum_request(name: str, points: list[bytes], temporality: int = AGGREGATION_TEMPORALITY_DELTA,
                monotonic: bool = True, service: str = "svc") -> ExportMetricsServiceRequest:
    return sum_request_from_field(name, points_field(points), temporality, monotonic, service)


def sum_request_from_field(name: str, field: bytes, temporality: int = AGGREGATION_TEMPORALITY_DELTA,
                           monotonic: bool = True, service: str = "svc") -> ExportMetricsServiceRequest:
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    rm.resource.attributes.add(key="service.name").value.string_value = service
    m = rm.scope_metrics.add().metrics.add(name=name)
    m.sum.aggregation_temporality = temporality
    m.sum.is_monotonic = monotonic
    m.sum.MergeFromString(field)
    return req


def distinct_id_points(key: str, first: int, count: int, values: list[int], extra: bytes = b"") -> tuple[bytes, int]:
    """``count`` delta points with ``key`` = u<first>…, value cycling through ``values``; (field bytes, sum).

    Built from precomputed fragments: the only per-point work is formatting the id.
    """
    heads = [number_point([], v) for v in values]
    k = key.encode()
    kprefix = b"\x0a" + vb(len(k)) + k + b"\x12"
    tail = (b"\x3a" + vb(len(extra)) + extra) if extra else b""
    parts = []
    total = 0
    nvals = len(values)
    for i in range(first, first + count):
        s = b"u%d" % i
        anyv = b"\x0a" + bytes((len(s),)) + s
        kvb = kprefix + bytes((len(anyv),)) + anyv
        dp = heads[i % nvals] + b"\x3a" + bytes((len(kvb),)) + kvb + tail
        parts.append(b"\x0a" + bytes((len(dp),)) + dp)
        total += values[i % nvals]
    return b"".join(parts), total


def data_points(req: ExportMetricsServiceRequest, name: str | None = None) -> list:
    out = []
    for rm in req.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                if name is None or m.name == name:
                    kind = m.WhichOneof("data")
                    out.extend(getattr(m, kind).data_points)
    return out


def attrs_of(dp) -> tuple:
    return tuple((kv.key, kv.value.WhichOneof("value") and getattr(kv.value, kv.value.WhichOneof("value")))
                 for kv in dp.attributes)
