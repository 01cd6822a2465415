"""``otlp``: OTLP/HTTP protobuf to any backend (an OpenTelemetry Collector, a vendor, AWS's OTLP endpoints).

The component is the shared :class:`~sidecar.exporters.otlp_http.OtlpHttpSender` registered under
the name ``otlp``, configured by ``[exporters.otlp]`` and the ``ECS_OTEL_OTLP_*`` variables.
"""

from __future__ import annotations

from sidecar.exporters.otlp_http import RETRYABLE_STATUSES, OtlpHttpSender, parse_retry_after

__all__ = ["RETRYABLE_STATUSES", "OtlpExporter", "parse_retry_after"]


class OtlpExporter(OtlpHttpSender):
    """The ``otlp`` exporter: every batch to ``<endpoint>/v1/<signal>``, gzip by default, SigV4 when asked."""

    name = "otlp"
