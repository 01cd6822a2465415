"""The ``prometheus`` exporter: a scrape endpoint for the metrics the sidecar receives.

The series store and the text/OpenMetrics writer are this component's internals (``_internal/``).
"""

from sidecar.exporters.prometheus.exporter import PrometheusExporter

__all__ = ["PrometheusExporter"]
