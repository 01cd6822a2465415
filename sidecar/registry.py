"""Wiring as data: component names (as used in configuration) → ``module:Class``.

Adding a component is one new file and one line here. Imports are lazy so that the
sidecar only loads what the configuration uses.
"""

from __future__ import annotations

import importlib
from typing import Any

EXPORTERS: dict[str, str] = {
    "otlp": "sidecar.exporters.otlp:OtlpExporter",
    "debug": "sidecar.exporters.debug:DebugExporter",
    "file": "sidecar.exporters.file:FileExporter",
    "xray": "sidecar.exporters.xray.exporter:XRayExporter",
    "cloudwatch": "sidecar.exporters.cloudwatch.exporter:CloudWatchExporter",
    "prometheus": "sidecar.exporters.prometheus.exporter:PrometheusExporter",
}

PROCESSORS: dict[str, str] = {
    "enrich": "sidecar.processors.enrich:EnrichProcessor",
    "redaction": "sidecar.processors.redaction:RedactionProcessor",
    "cardinality": "sidecar.processors.cardinality.processor:CardinalityProcessor",
}

SCRAPERS: dict[str, str] = {
    "ecs_stats": "sidecar.scrapers.ecs_stats.scraper:EcsStatsScraper",
}


def resolve(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)
