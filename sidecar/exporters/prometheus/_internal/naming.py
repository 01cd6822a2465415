"""Prometheus metric and label names for OTLP metrics.

The rules are the compatibility specification's: invalid characters become ``_`` and runs
of ``_`` collapse into one; the unit becomes a suffix unless the name already ends with it;
monotonic sums end in ``_total``. The family name (what OpenMetrics' ``# TYPE`` line carries)
is the name without ``_total``; the Prometheus 0.0.4 format names counters' families with it.
"""

from __future__ import annotations

import enum
import functools
import re
from dataclasses import dataclass

from sidecar.exporters.prometheus._internal.units import BASE_UNITS, unit_suffix

_INVALID_METRIC = re.compile(r"[^a-zA-Z0-9_:]")
_INVALID_LABEL = re.compile(r"[^a-zA-Z0-9_]")
_UNDERSCORES = re.compile(r"__+")


class Kind(enum.StrEnum):
    """A Prometheus metric type, by its OpenMetrics name."""

    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"
    SUMMARY = "summary"
    INFO = "info"
    UNKNOWN = "unknown"


def sanitize_metric_name(name: str) -> str:
    """``http.server.request.duration`` → ``http_server_request_duration``."""
    out = _UNDERSCORES.sub("_", _INVALID_METRIC.sub("_", name))
    if not out:
        return "_"
    if out[0].isdigit():
        out = "_" + out
    return out


@functools.lru_cache(maxsize=4096)  # the same few keys arrive on every point
def sanitize_label_name(name: str) -> str:
    """``http.response.status_code`` → ``http_response_status_code``; a leading digit gets ``_``.

    Runs of ``_`` collapse, which also keeps user labels out of Prometheus' reserved ``__`` space.
    """
    out = _UNDERSCORES.sub("_", _INVALID_LABEL.sub("_", name))
    if not out:
        return "_"
    if out[0].isdigit():
        out = "_" + out
    return out


@dataclass(frozen=True, slots=True)
class MetricName:
    """How one OTLP metric is named on the endpoint."""

    #: The family name: ``# TYPE``/``# HELP``/``# UNIT`` lines in OpenMetrics; ``_bucket`` etc. hang off it.
    family: str
    #: The Prometheus unit word written as ``# UNIT`` ("" when none).
    unit: str
    kind: Kind
    #: Multiplier from the OTLP unit to the exposed one (``base_units``); 1 when values pass unchanged.
    scale: float = 1.0

    @property
    def sample(self) -> str:
        """The name of the value sample: counters carry ``_total``."""
        return self.family + "_total" if self.kind is Kind.COUNTER else self.family


def metric_name(
    name: str,
    unit: str,
    kind: Kind,
    *,
    add_unit_suffix: bool = True,
    add_total_suffix: bool = True,
    base_units: bool = False,
) -> MetricName:
    scale = 1.0
    if base_units and unit.strip() in BASE_UNITS:
        unit, scale = BASE_UNITS[unit.strip()]
    base = sanitize_metric_name(name)
    counter = kind is Kind.COUNTER and add_total_suffix
    if counter and base.endswith("_total"):
        base = base[: -len("_total")] or "_"
    word = unit_suffix(unit, gauge=kind is Kind.GAUGE) if add_unit_suffix else ""
    if word and not (base == word or base.endswith("_" + word)):
        base = f"{base}_{word}"
    if kind is Kind.COUNTER and not add_total_suffix:
        # Without ``_total`` a monotonic sum cannot be an OpenMetrics counter: it is exposed as unknown.
        return MetricName(base, word, Kind.UNKNOWN, scale)
    return MetricName(base, word, kind, scale)
