"""Self-telemetry text: the same escaping and number spelling as the prometheus exporter's writer."""

from __future__ import annotations

import math

from sidecar.exporters.prometheus._internal.exposition import render_family  # noqa: F401 - same primitives
from sidecar.pipeline.telemetry import Registry, escape_label_value, format_value


def test_a_non_finite_gauge_does_not_break_metrics() -> None:
    """``int(nan)`` used to raise inside the writer: one NaN gauge made ``/metrics`` fail as a whole."""
    registry = Registry()
    registry.gauge("t_ratio", "a ratio", ("queue",)).set(math.nan, queue="a")
    registry.gauge("t_limit", "a limit").set(math.inf)
    text = registry.render()
    assert 't_ratio{queue="a"} NaN' in text
    assert "t_limit +Inf" in text


def test_numbers_and_label_values_are_spelled_once() -> None:
    assert [format_value(v) for v in (3.0, 2.5, -math.inf, 1e20)] == ["3", "2.5", "-Inf", "1e+20"]
    assert escape_label_value('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
    registry = Registry()
    registry.counter("t_total", "c", ("path",)).inc(2, path='x"y')
    assert 't_total{path="x\\"y"} 2' in registry.render()
