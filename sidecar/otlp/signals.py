"""The three OTLP signals and the protobuf messages that carry them.

OTLP protobuf is the sidecar's internal model: a batch is always one
``Export*ServiceRequest`` message, so every stage speaks the same types as the wire.
"""

from __future__ import annotations

import enum

from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


class Signal(enum.StrEnum):
    TRACES = "traces"
    METRICS = "metrics"
    LOGS = "logs"

    @property
    def request_type(self) -> type[Message]:
        return _REQUEST[self]

    @property
    def response_type(self) -> type[Message]:
        return _RESPONSE[self]

    @property
    def path(self) -> str:
        """The OTLP/HTTP path, as appended to a base endpoint."""
        return f"/v1/{self.value}"

    def new_batch(self) -> Message:
        return _REQUEST[self]()


_REQUEST: dict[Signal, type[Message]] = {
    Signal.TRACES: ExportTraceServiceRequest,
    Signal.METRICS: ExportMetricsServiceRequest,
    Signal.LOGS: ExportLogsServiceRequest,
}
_RESPONSE: dict[Signal, type[Message]] = {
    Signal.TRACES: ExportTraceServiceResponse,
    Signal.METRICS: ExportMetricsServiceResponse,
    Signal.LOGS: ExportLogsServiceResponse,
}


def item_count(signal: Signal, batch: Message) -> int:
    """Spans, metric data points or log records in a batch: the unit of accounting."""
    n = 0
    if signal is Signal.TRACES:
        for rs in batch.resource_spans:  # type: ignore[attr-defined]
            for ss in rs.scope_spans:
                n += len(ss.spans)
    elif signal is Signal.LOGS:
        for rl in batch.resource_logs:  # type: ignore[attr-defined]
            for sl in rl.scope_logs:
                n += len(sl.log_records)
    else:
        for rm in batch.resource_metrics:  # type: ignore[attr-defined]
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    kind = m.WhichOneof("data")
                    if kind is not None:
                        n += len(getattr(m, kind).data_points)
    return n


def resource_entries(signal: Signal, batch: Message):  # type: ignore[no-untyped-def]
    """The repeated ``resource_*`` field of a batch (ResourceSpans, ResourceMetrics or ResourceLogs)."""
    if signal is Signal.TRACES:
        return batch.resource_spans  # type: ignore[attr-defined]
    if signal is Signal.METRICS:
        return batch.resource_metrics  # type: ignore[attr-defined]
    return batch.resource_logs  # type: ignore[attr-defined]
