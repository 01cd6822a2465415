"""What the Prometheus tests send: the OTel SDK as an app uses it, over real OTLP/HTTP."""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import Counter, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

APP = {"service.name": "shop-api", "service.namespace": "shop", "service.instance.id": "pod-1"}


def send_app_metrics(otlp_http_url: str) -> None:
    """The OTel SDK as an app uses it: a delta counter flushed twice (3 + 4) and a histogram."""
    exporter = OTLPMetricExporter(
        endpoint=f"{otlp_http_url}/v1/metrics",
        timeout=10,
        preferred_temporality={Counter: AggregationTemporality.DELTA},
    )
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(resource=Resource.create(APP), metric_readers=[reader])
    try:
        meter = provider.get_meter("shop.checkout", "2.1.0")
        orders = meter.create_counter("orders.placed", unit="{order}", description="Orders placed")
        duration = meter.create_histogram(
            "checkout.duration",
            unit="s",
            description="Checkout time",
            explicit_bucket_boundaries_advisory=[0.5, 1, 5],
        )
        orders.add(3, {"payment.method": "card"})
        assert provider.force_flush(10_000)
        orders.add(4, {"payment.method": "card"})
        for v in (0.2, 0.7, 3.0):
            duration.record(v, {"http.route": "/checkout"})
        assert provider.force_flush(10_000)
    finally:
        provider.shutdown()
