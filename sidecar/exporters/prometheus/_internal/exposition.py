"""Writing the series table in the Prometheus text format (0.0.4) or OpenMetrics 1.0.

The two differ in small, strict ways: OpenMetrics names a counter's family without
``_total``, has ``info`` and ``unknown`` types, ``# UNIT`` lines, ``_created`` samples and a
mandatory ``# EOF``; the 0.0.4 format names the counter family with ``_total``, calls unknown
``untyped`` and has no info type (``target_info`` is a gauge there). Samples carry no
timestamps: Prometheus stamps them at scrape time, which keeps its staleness handling right
when a series disappears.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterable

from sidecar.exporters.prometheus._internal.naming import Kind
from sidecar.exporters.prometheus._internal.series import (
    ExponentialHistogramSeries,
    HistogramSeries,
    NumberSeries,
    SummarySeries,
)
from sidecar.exporters.prometheus._internal.store import Family, SeriesStore
from sidecar.otlp.attributes import format_double
from sidecar.pipeline.telemetry import format_value

TEXT = "text"
OPENMETRICS = "openmetrics"

CONTENT_TYPES = {
    TEXT: "text/plain; version=0.0.4; charset=utf-8",
    OPENMETRICS: "application/openmetrics-text; version=1.0.0; charset=utf-8",
}

_TEXT_TYPES = {
    Kind.COUNTER: "counter",
    Kind.GAUGE: "gauge",
    Kind.HISTOGRAM: "histogram",
    Kind.SUMMARY: "summary",
    Kind.INFO: "gauge",
    Kind.UNKNOWN: "untyped",
}


def negotiate(accept: str | None) -> str:
    """The format for an ``Accept`` header: OpenMetrics when it is preferred (by q-value), else text."""
    if not accept:
        return TEXT
    best, best_q = TEXT, -1.0
    for entry in accept.split(","):
        parts = [p.strip() for p in entry.split(";")]
        media = parts[0].lower()
        params = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        try:
            q = float(params.get("q", "1"))
        except ValueError:
            q = 0.0
        if media == "application/openmetrics-text" and params.get("version", "1.0.0") in ("1.0.0", "1.0"):
            fmt = OPENMETRICS
        elif media in ("text/plain", "*/*", "text/*"):
            fmt = TEXT
        else:
            continue
        if q > best_q:
            best, best_q = fmt, q
    return best


def _escape_help(text: str, fmt: str) -> str:
    text = text.replace("\\", "\\\\").replace("\n", "\\n")
    if fmt == OPENMETRICS:
        text = text.replace('"', '\\"')
    return text


def _braces(text: str) -> str:
    return "{" + text + "}" if text else ""


def _with(text: str, extra: str) -> str:
    return "{" + (text + "," + extra if text else extra) + "}"


def _created(lines: list[str], family: str, text: str, start_ns: int) -> None:
    if start_ns:
        lines.append(f"{family}_created{_braces(text)} {format_double(start_ns / 1e9)}")


def render_family(family: Family, fmt: str, *, created: bool = True) -> str:
    """One family's text, header included (cached by the caller until the family changes)."""
    name = family.name
    om = fmt == OPENMETRICS
    head = name.family if om or name.kind is not Kind.COUNTER else name.sample
    if name.kind is Kind.INFO and not om:
        head = name.family + "_info"
    lines: list[str] = []
    if om:
        lines.append(f"# TYPE {head} {name.kind.value}")
        if name.unit and head.endswith("_" + name.unit):
            lines.append(f"# UNIT {head} {name.unit}")
        if family.help:
            lines.append(f"# HELP {head} {_escape_help(family.help, fmt)}")
    else:
        if family.help:
            lines.append(f"# HELP {head} {_escape_help(family.help, fmt)}")
        lines.append(f"# TYPE {head} {_TEXT_TYPES[name.kind]}")
    base = name.family
    k = name.scale  # base-unit conversion of values (never of counts)
    with_created = om and created
    for s in family.series.values():
        if isinstance(s, NumberSeries):
            sample = name.sample if name.kind is not Kind.INFO else base + "_info"
            lines.append(f"{sample}{_braces(s.text)} {format_value(s.value * k)}")
            if with_created and name.kind is Kind.COUNTER:
                _created(lines, base, s.text, s.start_ns)
        elif isinstance(s, HistogramSeries | ExponentialHistogramSeries):
            _histogram(lines, base, s, k)
            if with_created:
                _created(lines, base, s.text, s.start_ns)
        elif isinstance(s, SummarySeries):
            for q, v in s.quantiles:
                quantile = 'quantile="' + format_double(q) + '"'
                lines.append(f"{base}{_with(s.text, quantile)} {format_value(v * k)}")
            lines.append(f"{base}_count{_braces(s.text)} {s.count}")
            if s.sum >= 0:
                lines.append(f"{base}_sum{_braces(s.text)} {format_value(s.sum * k)}")
            if with_created:
                _created(lines, base, s.text, s.start_ns)
    return "\n".join(lines) + "\n"


def _histogram(
    lines: list[str], base: str, s: HistogramSeries | ExponentialHistogramSeries, k: float
) -> None:
    if isinstance(s, HistogramSeries):
        bounds: Iterable[float] = (*s.bounds, math.inf)
        cumulative: list[int] = []
        running = 0
        for c in s.counts:
            running += c
            cumulative.append(running)
    else:
        bounds, cumulative = s.classic()
    total = max(s.count, cumulative[-1] if cumulative else 0)
    prefix = base + "_bucket{" + (s.text + "," if s.text else "")
    last = -math.inf
    for le, c in zip(bounds, cumulative, strict=True):
        if le <= last and le != math.inf:
            continue  # bounds must strictly increase; a repeated bound adds nothing
        last = le
        value = total if le == math.inf else c
        lines.append(f'{prefix}le="{format_double(float(le) * k)}"}} {value}')
    lines.append(f"{base}_count{_braces(s.text)} {total}")
    if s.has_sum:
        lines.append(f"{base}_sum{_braces(s.text)} {format_value(s.sum * k)}")


class Renderer:
    """Renders a store, reusing each family's text until the family changes."""

    def __init__(self, store: SeriesStore, *, created: bool = True) -> None:
        self.store = store
        self.created = created
        #: Families rendered afresh and served from cache, since start (for the bench and self-metrics).
        self.rendered = 0
        self.reused = 0

    def _family_text(self, family: Family, fmt: str) -> str:
        text = family.cache.get(fmt)
        if text is None:
            text = family.cache[fmt] = render_family(family, fmt, created=self.created)
            self.rendered += 1
        else:
            self.reused += 1
        return text

    def render(self, fmt: str = TEXT) -> str:
        families = self.store.families
        parts = [self._family_text(families[n], fmt) for n in sorted(families)]
        if fmt == OPENMETRICS:
            parts.append("# EOF\n")
        return "".join(parts)

    async def render_async(self, fmt: str = TEXT, slice_s: float = 0.005) -> str:
        """Like :meth:`render`, yielding to the event loop every ``slice_s`` so exports keep flowing."""
        families = self.store.families
        parts: list[str] = []
        deadline = time.perf_counter() + slice_s
        for n in sorted(families):
            family = families.get(n)
            if family is None:  # expired while we yielded
                continue
            parts.append(self._family_text(family, fmt))
            if time.perf_counter() > deadline:
                await asyncio.sleep(0)
                deadline = time.perf_counter() + slice_s
        if fmt == OPENMETRICS:
            parts.append("# EOF\n")
        return "".join(parts)
