"""Real OpenTelemetry SDK metrics (cumulative, the SDK default), encoded as OTLP requests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource

from tests.aws.spans import ECS_RESOURCE


class App:
    """A meter with a counter, a histogram and a gauge; ``collect()`` is one OTLP export."""

    def __init__(self) -> None:
        self.reader = InMemoryMetricReader()
        self.provider = MeterProvider(resource=Resource.create(ECS_RESOURCE), metric_readers=[self.reader])
        meter = self.provider.get_meter("tests.aws")
        self.requests = meter.create_counter("http.server.requests", unit="{request}")
        self.duration = meter.create_histogram("http.server.duration", unit="ms")
        self.queue = meter.create_up_down_counter("jobs.queued", unit="{job}")

    def collect(self) -> ExportMetricsServiceRequest:
        data = self.reader.get_metrics_data()
        assert data is not None
        return encode_metrics(data)


@contextmanager
def app() -> Iterator[App]:
    a = App()
    try:
        yield a
    finally:
        a.provider.shutdown()
