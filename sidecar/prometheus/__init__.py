"""OTLP metrics → Prometheus exposition, per the OpenTelemetry ↔ Prometheus compatibility spec.

:class:`~sidecar.prometheus.store.SeriesStore` holds the current value of every series
(delta input accumulated, stale series expired, bounded); :class:`~sidecar.prometheus.exposition.Renderer`
writes it as Prometheus text 0.0.4 or OpenMetrics 1.0 with per-family caching.
"""

from sidecar.prometheus.exposition import CONTENT_TYPES, OPENMETRICS, TEXT, Renderer, negotiate
from sidecar.prometheus.naming import Kind, MetricName, metric_name, sanitize_label_name, sanitize_metric_name
from sidecar.prometheus.store import MergeResult, SeriesStore, TranslationOptions

__all__ = [
    "CONTENT_TYPES",
    "OPENMETRICS",
    "TEXT",
    "Kind",
    "MergeResult",
    "MetricName",
    "Renderer",
    "SeriesStore",
    "TranslationOptions",
    "metric_name",
    "negotiate",
    "sanitize_label_name",
    "sanitize_metric_name",
]
