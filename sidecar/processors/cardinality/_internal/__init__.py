"""Cardinality control for metrics: series limits with an overflow series, attribute rules,
URL and span-name normalisation, and a report of what drives the series count.

The processor in :mod:`sidecar.processors.cardinality.processor` wires these parts together.
"""

from sidecar.processors.cardinality._internal.normalize import (
    URL_KEYS,
    Normalizer,
    normalize_path,
    normalize_segment,
    normalize_span_name,
    normalize_url,
)
from sidecar.processors.cardinality._internal.overflow import OVERFLOW_KEY
from sidecar.processors.cardinality._internal.rules import MetricRules, RuleSet
from sidecar.processors.cardinality._internal.table import SeriesTable

__all__ = [
    "OVERFLOW_KEY",
    "URL_KEYS",
    "MetricRules",
    "Normalizer",
    "RuleSet",
    "SeriesTable",
    "normalize_path",
    "normalize_segment",
    "normalize_span_name",
    "normalize_url",
]
