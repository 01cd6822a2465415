"""``cardinality``: keeps the number of series per metric bounded, and the bill flat.

For every metric data point, in order:

1. the metric's attribute rules run (keep/drop lists, hashing, bucketing: :mod:`sidecar.processors.cardinality._internal.rules`);
2. URL-like attribute values are normalised (``/users/123`` → ``/users/{id}``), on by default;
3. the series (resource + scope + metric + attributes) is looked up in the metric's table. A known
   series passes. A new one is admitted while the metric has fewer live series than its limit
   (first come, first served); otherwise the point is folded into the overflow series of its
   metric and resource, which carries ``otel.metric.overflow=true``, conserving sums and counts
   exactly for delta and cumulative input (:mod:`sidecar.processors.cardinality._internal.overflow`).

A series expires after ``expiry_s`` without points and frees its place. Memory is bounded by the
limits, by ``max_total_series`` over all metrics, and by ``overflow_state_limit`` for the
cumulative overflowed series tracked to compute their increases (points beyond it are dropped
and counted, because folding them without a previous value would count them twice).

On traces (when listed in ``ECS_OTEL_TRACES_PROCESSORS``) it normalises span names only: span
names feed span-derived metrics and service maps, while span attributes are left intact for
debugging. The report (``/cardinality`` on the status server, ``context.status["cardinality"]``)
ranks metrics by live series and names the attributes with the most distinct values.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    AGGREGATION_TEMPORALITY_CUMULATIVE,
    ExponentialHistogramDataPoint,
    HistogramDataPoint,
    NumberDataPoint,
    SummaryDataPoint,
)

from ecs_otel.memo import Memo
from ecs_otel.otlp.wire import read_varint, varint
from sidecar.config import ConfigError, setting
from sidecar.context import DEFAULT_SERIES_EXPIRY_S, SidecarContext
from sidecar.otlp import shallow
from sidecar.otlp.signals import Signal
from sidecar.pipeline.processor import Processor
from sidecar.processors.cardinality._internal.normalize import URL_KEYS, Normalizer
from sidecar.processors.cardinality._internal.overflow import (
    CumulativeOverflow,
    fold_delta,
    overflow_attribute,
)
from sidecar.processors.cardinality._internal.report import build_report
from sidecar.processors.cardinality._internal.rules import MetricRules, RuleSet, value_text
from sidecar.processors.cardinality._internal.table import REWRITE_CACHE, SeriesTable
from sidecar.processors.cardinality._internal.wire import (
    ATTRIBUTE_TAG,
    FIXED_PREFIX,
    ONLY_FLAGS_AFTER,
    attribute_span,
    fixed_fields,
    rewrite_string_values,
)

#: How often a full table may be swept for expired series while new series keep arriving.
SWEEP_INTERVAL_S = 1.0
#: How often the report and the self-metrics are refreshed.
REPORT_INTERVAL_S = 5.0
#: Self-metric series per metric name are published for this many top metrics only.
SELF_METRIC_TOP = 10
_MISS = object()


POINT_CLASS: dict[str, Any] = {
    "sum": NumberDataPoint,
    "gauge": NumberDataPoint,
    "histogram": HistogramDataPoint,
    "exponential_histogram": ExponentialHistogramDataPoint,
    "summary": SummaryDataPoint,
}


def _fold_numbers(kind: str, points: list[bytes]) -> bytes:
    """Delta sums added up, or the latest gauge value, read straight from the serialized points."""
    out = NumberDataPoint()
    if kind == "gauge":
        latest = max(points, key=lambda b: fixed_fields(b)[1])
        out.MergeFromString(latest)
        del out.attributes[:]
        del out.exemplars[:]
        out.attributes.append(overflow_attribute())
        return out.SerializeToString()
    start = time_ns = 0
    total_int = 0
    total_double = 0.0
    doubles = False
    first = True
    for b in points:
        s, t, as_int, as_double = fixed_fields(b)
        if as_int is None and as_double is None:  # value after exemplars: outside the fixed head
            p = NumberDataPoint.FromString(b)
            kind_of = p.WhichOneof("value")
            as_int = p.as_int if kind_of == "as_int" else None
            as_double = p.as_double if kind_of == "as_double" else None
        if first or s < start:
            start = s
        if t > time_ns:
            time_ns = t
        first = False
        if as_int is not None:
            total_int += as_int
        elif as_double is not None:
            total_double += as_double
            doubles = True
    out.start_time_unix_nano = start
    out.time_unix_nano = time_ns
    if doubles:
        out.as_double = total_double + total_int
    else:
        out.as_int = total_int
    out.attributes.append(overflow_attribute())
    return out.SerializeToString()


def _key_needles(keys: frozenset[str]) -> re.Pattern[bytes] | None:
    """Finds ``keys`` as serialized KeyValue keys with a string value; groups: key, string length varint."""
    if not keys:
        return None
    alts = b"|".join(re.escape(k.encode()) for k in sorted(keys, key=len, reverse=True))
    return re.compile(
        b"\\x0a[\\x00-\\x7f](" + alts + b")\\x12[\\x80-\\xff]*[\\x00-\\x7f]\\x0a([\\x80-\\xff]*[\\x00-\\x7f])",
        re.DOTALL,
    )


class CardinalityProcessor(Processor):
    name = "cardinality"
    signals = frozenset({Signal.METRICS, Signal.TRACES})

    @dataclass
    class Settings:
        limit: int = setting(
            2000, help="Live series (distinct attribute sets) per metric; more go to one overflow series.",
            env="ECS_OTEL_METRIC_CARDINALITY_LIMIT", ge=1,
        )
        limits: dict[str, int] = setting(  # noqa: RUF009 - setting() builds a default_factory
            {}, help="Per-metric limits by name or fnmatch pattern, `name=N,pattern=N` (override `limit`).",
            env="ECS_OTEL_METRIC_CARDINALITY_LIMITS",
        )
        expiry_s: float = setting(
            DEFAULT_SERIES_EXPIRY_S, help="Seconds without points after which a series no longer counts toward the limit.",
            env="ECS_OTEL_METRIC_CARDINALITY_EXPIRY",
        )
        max_total_series: int = setting(
            200_000, help="Live series over all metrics together (a memory bound); new ones overflow beyond it.",
            env="ECS_OTEL_METRIC_CARDINALITY_MAX_SERIES",
        )
        max_metrics: int = setting(
            10_000, help="Metric names tracked at once (a memory bound); points of further names pass unlimited "
            "(counted as untracked) until silent names expire.",
        )
        overflow_state_limit: int = setting(
            100_000, help="Overflowed cumulative series tracked to fold their increases exactly; "
            "points of further ones are dropped (counted).",
        )
        normalize_urls: bool = setting(
            True, help="Replace ids, UUIDs, hashes, emails and dates in URL-like attribute values by placeholders.",
            env="ECS_OTEL_NORMALIZE_URLS",
        )
        normalize_keys: list[str] = setting(  # noqa: RUF009 - setting() builds a default_factory
            sorted(URL_KEYS), help="Attribute keys whose values are normalised as URLs or paths."
        )
        normalize_span_names: bool = setting(
            True, help="On traces: normalise span names (`GET /users/123` → `GET /users/{id}`).",
            env="ECS_OTEL_NORMALIZE_SPAN_NAMES",
        )
        rules: dict[str, list[str]] = setting(  # noqa: RUF009 - setting() builds a default_factory
            {}, help="Attribute rules per metric pattern: `keep:k1,k2`, `drop:k`, `hash:k`, `bucket:k:N`, "
            "`bucket:k:b1,b2` (TOML table of lists).",
        )
        report_top: int = setting(20, help="Metrics listed in the /cardinality report.")

    def __init__(self, settings: CardinalityProcessor.Settings, context: SidecarContext) -> None:
        where = "processors.cardinality"
        if settings.limit < 1:
            raise ConfigError(f"{where}.limit", "an integer of 1 or more", settings.limit)
        if settings.expiry_s <= 0:
            raise ConfigError(f"{where}.expiry_s", "a positive number of seconds", settings.expiry_s)
        for pattern, n in settings.limits.items():
            if n < 1:
                raise ConfigError(f"{where}.limits.{pattern}", "an integer of 1 or more", n)
        self.settings = settings
        self.context = context
        self.rules = RuleSet(settings.rules, f"{where}.rules")
        self.normalizer = Normalizer(frozenset(settings.normalize_keys))
        self._norm_keys = frozenset(settings.normalize_keys) if settings.normalize_urls else frozenset()
        self._needles = _key_needles(self._norm_keys)
        self._norm_key_bytes = frozenset(k.encode() for k in self._norm_keys)
        #: (key, URL-like value) → whether normalisation changes it.
        self._changes: Memo[tuple[bytes, bytes], bool] = Memo("cardinality.url_values", REWRITE_CACHE * 4)
        #: Span name → its normalised form, ``None`` when it stays (see :meth:`_process_spans`).
        self._span_names: Memo[str, str | None] = Memo("cardinality.span_names", REWRITE_CACHE)
        if settings.normalize_span_names:
            shallow.names_view(b"")  # builds the view's schema now, not on the first batch
        self._tables: dict[str, SeriesTable] = {}
        self._total_series = 0
        self._tracked_overflow = 0
        self.clock: Callable[[], float] = time.monotonic
        self._last_report = float("-inf")
        self._task: asyncio.Task[None] | None = None
        t = context.telemetry
        self._m_series = t.gauge(
            "ecs_otel_sidecar_cardinality_series", "Live series of the metrics with the most series.", ("metric",)
        )
        self._m_total = t.gauge("ecs_otel_sidecar_cardinality_series_total", "Live series over all metrics.")
        self._m_overflow = t.counter(
            "ecs_otel_sidecar_cardinality_overflow_points_total", "Data points folded into overflow series."
        )
        self._m_folded = t.counter(
            "ecs_otel_sidecar_cardinality_folded_points_total",
            "Data points that left the batch by folding (overflowed points minus overflow points emitted).",
        )
        self._m_expired = t.counter("ecs_otel_sidecar_cardinality_expired_series_total", "Series expired.")
        self._m_dropped = t.counter(
            "ecs_otel_sidecar_cardinality_dropped_points_total",
            "Data points dropped because they could not be folded exactly.", ("reason",),
        )
        self._m_untracked = t.counter(
            "ecs_otel_sidecar_cardinality_untracked_points_total",
            "Data points passed without a series limit because max_metrics names were already tracked.",
        )
        self._m_normalized = t.counter(
            "ecs_otel_sidecar_cardinality_normalized_values_total", "Attribute values and span names normalised."
        )
        self._normalized_seen = 0
        self.refresh_report()

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        self._task = asyncio.create_task(self._housekeeping(), name="cardinality-housekeeping")

    async def shutdown(self, deadline: float) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(REPORT_INTERVAL_S)
            self.expire()
            self.refresh_report()

    # -- processing ------------------------------------------------------------------------------

    def process(self, signal: Signal, batch: Message) -> Message | None:
        if signal is Signal.METRICS:
            self._process_metrics(batch)
        elif signal is Signal.TRACES and self.settings.normalize_span_names:
            self._process_spans(batch)
        return batch

    def process_wire(self, signal: Signal, body: bytes) -> bytes | None:
        """Traces: span names renamed on a shallow view of the batch (only the spans' names decoded, see
        :func:`sidecar.otlp.shallow.names_view`), re-encoded only when a name changed. Metrics: the
        decoded path."""
        if signal is not Signal.TRACES:
            return None
        if not self.settings.normalize_span_names:
            return body
        view = shallow.names_view(body)
        return view.SerializeToString() if self._process_spans(view) else body

    def _process_spans(self, batch: Any) -> int:
        """Normalises span names in place (a decoded batch or a span view); returns how many changed.

        Runs once per span: names are looked up in a local table of recent results (``None`` for a
        name that stays) before asking the normaliser, which counts what changed.
        """
        names = self._span_names.data
        remember = self._span_names.put
        norm = self.normalizer.span_name
        changed = 0
        for rs in batch.resource_spans:
            for ss in rs.scope_spans:
                for span in ss.spans:
                    name = span.name
                    new = names.get(name, _MISS)
                    if new is _MISS:
                        new = norm(name, count=False)
                        new = remember(name, None if new == name else new)
                    if new is not None:
                        span.name = new
                        changed += 1
        self.normalizer.changed += changed
        self._sync_normalized()
        return changed

    def _process_metrics(self, batch: Any) -> None:
        now = self.clock()
        for rm in batch.resource_metrics:
            rk = rm.resource.SerializeToString()
            for sm in rm.scope_metrics:
                sk = hash((rk, sm.scope.SerializeToString(), sm.schema_url))
                for m in sm.metrics:
                    kind = m.WhichOneof("data")
                    if kind is None:
                        continue
                    data = getattr(m, kind)
                    if len(data.data_points):
                        self._metric(m.name, kind, data, sk, now)
        self._sync_normalized()
        if now - self._last_report >= REPORT_INTERVAL_S:
            self.refresh_report()

    def _table(self, name: str) -> SeriesTable | None:
        table = self._tables.get(name)
        if table is None:
            if len(self._tables) >= self.settings.max_metrics:
                return None
            limit = self.settings.limit
            for pattern, n in self.settings.limits.items():
                if pattern == name or fnmatch.fnmatchcase(name, pattern):
                    limit = n
                    if pattern == name:
                        break
            table = self._tables[name] = SeriesTable(name, limit)
        return table

    def _metric(self, name: str, kind: str, data: Any, sk: int, now: float) -> None:
        """Walk the serialized points of one metric; rebuild them only if something changed."""
        table = self._table(name)
        if table is None:
            self._m_untracked.inc(len(data.data_points))
            return
        rules = self.rules.for_metric(name) if self.rules else None
        needles = self._needles
        tag = ATTRIBUTE_TAG[kind]
        flags_only = kind in ONLY_FLAGS_AFTER
        seen = table.seen
        prefix = FIXED_PREFIX.match
        body = data.SerializeToString()
        n = len(body)
        i = 0
        points: list[bytes] = []
        overflowed: list[tuple[int, bytes]] | None = None
        changed = False
        while i < n and body[i] == 0x0A:  # ``data_points`` (field 1) come first
            c = body[i + 1]
            if c < 0x80:
                length, i = c, i + 2
            else:
                length, i = read_varint(body, i + 1)
            dpb = body[i : i + length]
            i += length
            at = prefix(dpb).end()  # type: ignore[union-attr]
            end = len(dpb)
            if not (flags_only and at < end and dpb[at] == tag):
                span = attribute_span(dpb, tag, flags_only)
                at, end = span if span is not None else (0, end)
            ab = dpb[at:end]
            if rules is not None or needles is not None:
                new = self._transformed(table, kind, rules, needles, dpb, ab, tag, flags_only)
                if new is not None:
                    dpb = dpb[:at] + new + dpb[end:]
                    ab = new
                    changed = True
            key = hash((sk, ab))
            if key in seen:
                seen[key] = now
                points.append(dpb)
                continue
            if self._admit(table, kind, key, ab, now):
                points.append(dpb)
                continue
            if overflowed is None:
                overflowed = []
            overflowed.append((key, dpb))
            changed = True
        if not changed:
            return
        if overflowed:
            extra = self._fold(table, kind, data, overflowed, sk, now)
            if extra is not None:
                points.append(extra)
        del data.data_points[:]
        data.MergeFromString(b"".join([b"\x0a" + varint(len(p)) + p for p in points]))

    def _transformed(self, table: SeriesTable, kind: str, rules: MetricRules | None, needles: re.Pattern[bytes] | None,
                     dpb: bytes, ab: bytes, tag: int, flags_only: bool) -> bytes | None:
        """The point's attribute bytes after the metric's rules or URL normalisation; None when unchanged.

        Rule results are cached per attribute set (the same few sets repeat in every export).
        """
        if rules is not None:
            final = table.rewrite.data.get(ab, _MISS)
            if final is _MISS:
                final = table.rewrite.put(ab, self._rewrite(POINT_CLASS[kind].FromString(dpb), rules, ab, tag,
                                                             flags_only))
            return final  # type: ignore[return-value]
        if needles is not None and self._needs_rewrite(needles, ab, needles.search(ab)):
            return rewrite_string_values(ab, tag, self._norm_key_bytes, self.normalizer.value)
        return None

    def _admit(self, table: SeriesTable, kind: str, key: int, ab: bytes, now: float) -> bool:
        """Admit a new series when the metric and the whole processor have room (after a sweep if full)."""
        max_total = self.settings.max_total_series
        full = len(table.seen) >= table.limit or self._total_series >= max_total
        if full and now - table.last_sweep >= SWEEP_INTERVAL_S:
            table.last_sweep = now
            self._expire_table(table, now - self.settings.expiry_s)
        if len(table.seen) >= table.limit or self._total_series >= max_total:
            return False
        attrs = POINT_CLASS[kind].FromString(ab).attributes
        table.admit(key, now, tuple((kv.key, value_text(kv.value)) for kv in attrs))
        self._total_series += 1
        return True

    def _needs_rewrite(self, needles: re.Pattern[bytes], ab: bytes, m: re.Match[bytes] | None) -> bool:
        """Whether a URL-like value in ``ab`` would change; answered from a cache for values seen before."""
        while m is not None:
            start = m.end()
            raw = ab[start : start + read_varint(m.group(2), 0)[0]]
            ck = (m.group(1), raw)
            changes = self._changes.data.get(ck)
            if changes is None:
                text = raw.decode("utf-8", "replace")
                changes = self._changes.put(ck, self.normalizer.value(m.group(1).decode(), text, count=False) != text)
            if changes:
                return True
            m = needles.search(ab, start)
        return False

    def _rewrite(self, dp: Any, rules: MetricRules, before: bytes, tag: int, flags_only: bool) -> bytes | None:
        """Apply rules and normalisation through the protobuf API; the new attribute bytes, or None if unchanged."""
        attrs = dp.attributes
        rules.apply(attrs)
        norm_keys = self._norm_keys
        if norm_keys:
            normalize = self.normalizer.value
            for kv in attrs:
                if kv.key in norm_keys:
                    v = kv.value
                    text = v.string_value
                    if text:
                        new = normalize(kv.key, text)
                        if new != text:
                            v.string_value = new
        raw = dp.SerializeToString()
        span = attribute_span(raw, tag, flags_only)
        after = raw[span[0] : span[1]] if span is not None else b""
        return None if after == before else after

    def _expire_table(self, table: SeriesTable, older_than: float) -> None:
        admitted, tracked = table.expire(older_than)
        self._total_series -= admitted
        self._tracked_overflow -= tracked
        if admitted:
            self._m_expired.inc(admitted)

    def expire(self) -> None:
        """Expire silent series in every table (also run periodically once started)."""
        older_than = self.clock() - self.settings.expiry_s
        for name in list(self._tables):
            table = self._tables[name]
            self._expire_table(table, older_than)
            if not table.seen and not table.cumulative:
                del self._tables[name]

    def _fold(self, table: SeriesTable, kind: str, data: Any, overflowed: list[tuple[int, bytes]], sk: int,
              now: float) -> bytes | None:
        """The serialized overflow point for ``overflowed`` points (``None`` when nothing could be folded)."""
        n = len(overflowed)
        table.overflow_points += n
        self._m_overflow.inc(n)
        cumulative = kind == "summary" or (
            kind != "gauge" and data.aggregation_temporality == AGGREGATION_TEMPORALITY_CUMULATIVE
        )
        if kind in ("sum", "gauge") and not cumulative:
            out = _fold_numbers(kind, [dpb for _, dpb in overflowed])
            self._m_folded.inc(n - 1)
            return out
        cls = POINT_CLASS[kind]
        out_point = cls()
        emitted = 1
        if not cumulative:
            unfolded = fold_delta(kind, [cls.FromString(dpb) for _, dpb in overflowed], out_point)
            if unfolded:
                self._m_dropped.inc(unfolded, reason="incompatible_buckets")
        elif kind == "exponential_histogram":
            self._m_dropped.inc(n, reason="cumulative_exponential_histogram")
            emitted = 0
        else:
            ov = table.cumulative.get(sk)
            if ov is None:
                monotonic = kind != "sum" or data.is_monotonic
                ov = table.cumulative[sk] = CumulativeOverflow(kind, monotonic)
            dropped = 0
            int_sum = kind == "sum"
            for key, dpb in overflowed:
                if not ov.tracks(key) and self._tracked_overflow >= self.settings.overflow_state_limit:
                    dropped += 1
                    continue
                p = cls.FromString(dpb)
                if int_sum and p.WhichOneof("value") != "as_int":
                    int_sum = False
                before = len(ov.series)
                if not ov.add(key, p, now):
                    dropped += 1
                    continue
                self._tracked_overflow += len(ov.series) - before
            if dropped:
                self._m_dropped.inc(dropped, reason="overflow_state_full_or_incompatible")
            if ov.total:
                ov.write(out_point, int_sum and all(float(v).is_integer() for v in ov.total))
            else:
                emitted = 0
        self._m_folded.inc(n - emitted)
        return out_point.SerializeToString() if emitted else None

    # -- report ----------------------------------------------------------------------------------

    def _sync_normalized(self) -> None:
        changed = self.normalizer.changed
        if changed != self._normalized_seen:
            self._m_normalized.inc(changed - self._normalized_seen)
            self._normalized_seen = changed

    def report(self) -> dict[str, Any]:
        s = self.settings
        return build_report(
            self._tables.values(),
            top=s.report_top,
            settings={
                "limit": s.limit,
                "limits": dict(s.limits),
                "expiry_s": s.expiry_s,
                "max_total_series": s.max_total_series,
                "normalize_urls": s.normalize_urls,
            },
            totals={
                "overflow_points_total": int(self._m_overflow.get()),
                "dropped_points_total": int(self._m_dropped.total()),
                "normalized_values_total": self.normalizer.changed,
                "overflow_series_tracked": self._tracked_overflow,
            },
        )

    def refresh_report(self) -> dict[str, Any]:
        self._last_report = self.clock()
        report = self.report()
        self.context.status["cardinality"] = report
        self._m_total.set(report["series_total"])
        self._m_series.values.clear()
        for entry in report["top"][:SELF_METRIC_TOP]:
            self._m_series.set(entry["series"], metric=entry["metric"])
        return report
