"""The ``cloudwatch`` exporter: metrics as EMF or OTLP, logs through PutLogEvents or OTLP.

EMF building, cumulative-to-delta, log-stream batching and Container Insights are this
component's internals (``_internal/``).
"""

from sidecar.exporters.cloudwatch.exporter import CloudWatchExporter

__all__ = ["CloudWatchExporter"]
