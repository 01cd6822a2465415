"""OTLP metrics → Prometheus exposition, per the OpenTelemetry ↔ Prometheus compatibility spec.

:class:`~sidecar.exporters.prometheus._internal.store.SeriesStore` holds the current value of every series
(delta input accumulated, stale series expired, bounded); :class:`~sidecar.exporters.prometheus._internal.exposition.Renderer`
writes it as Prometheus text 0.0.4 or OpenMetrics 1.0 with per-family caching.
"""

from sidecar.exporters.prometheus._internal.exposition import (
    CONTENT_TYPES,
    OPENMETRICS,
    TEXT,
    Renderer,
    negotiate,
)
from sidecar.exporters.prometheus._internal.naming import (
    Kind,
    MetricName,
    metric_name,
    sanitize_label_name,
    sanitize_metric_name,
)
from sidecar.exporters.prometheus._internal.store import MergeResult, SeriesStore, TranslationOptions

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
