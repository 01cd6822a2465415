"""The sidecar's own counters, gauges and histograms, rendered as Prometheus text.

Deliberately tiny and lock-free (everything runs on the event loop, or is a plain int
increment under the GIL); it is read by ``/metrics`` and the status page, and by tests that
check ``received = exported + dropped + queued``.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sidecar.otlp.attributes import format_double

LabelValues = tuple[str, ...]


def escape_label_value(v: str) -> str:
    """A label value in Prometheus text (``\\``, ``"`` and newlines escaped); one escaper for every writer."""
    if "\\" in v or '"' in v or "\n" in v:
        return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return v


def _labels(names: tuple[str, ...], values: LabelValues, extra: str = "") -> str:
    parts = [f'{n}="{escape_label_value(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def format_value(v: float | int) -> str:
    """A sample value in Prometheus text: integers without ``.0``, ``NaN``/``+Inf``/``-Inf`` spelled as the
    format wants (``int(nan)`` used to raise here, so one NaN gauge broke the whole ``/metrics``)."""
    if isinstance(v, int):  # counters summed from ints stay ints
        return str(v)
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return format_double(v)


@dataclass
class Metric:
    name: str
    help: str
    labels: tuple[str, ...] = ()
    kind: str = "counter"
    values: dict[LabelValues, float] = field(default_factory=dict)

    def _key(self, labels: dict[str, str]) -> LabelValues:
        return tuple(str(labels.get(n, "")) for n in self.labels)

    def inc(self, amount: float = 1, /, **labels: str) -> None:
        key = self._key(labels)
        self.values[key] = self.values.get(key, 0) + amount

    def child(self, **labels: str) -> Child:
        """The series for ``labels``, bound once: hot paths count without building the label key each time."""
        return Child(self, self._key(labels))

    def set(self, value: float, /, **labels: str) -> None:
        self.values[self._key(labels)] = value

    def get(self, **labels: str) -> float:
        return self.values.get(self._key(labels), 0)

    def total(self, **match: str) -> float:
        """Sum over every series whose labels include ``match``."""
        idx = [(self.labels.index(k), v) for k, v in match.items()]
        return sum(v for key, v in self.values.items() if all(key[i] == want for i, want in idx))

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} {self.kind}"
        for key, v in sorted(self.values.items()):
            yield f"{self.name}{_labels(self.labels, key)} {format_value(v)}"


DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass
class Histogram:
    name: str
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = DEFAULT_BUCKETS
    series: dict[LabelValues, list[float]] = field(default_factory=dict)  # counts..., sum, count

    def observe(self, value: float, /, **labels: str) -> None:
        self.observe_key(tuple(str(labels.get(n, "")) for n in self.labels), value)

    def observe_key(self, key: LabelValues, value: float) -> None:
        """``observe`` for a caller that built the label values once (see :meth:`child`)."""
        s = self.series.get(key)
        if s is None:
            s = self.series[key] = [0.0] * (len(self.buckets) + 2)
        s[bisect.bisect_left(self.buckets, value)] += 1 if value <= self.buckets[-1] else 0
        s[-2] += value
        s[-1] += 1

    def child(self, **labels: str) -> HistogramChild:
        """The series for ``labels``, bound once (see :meth:`Metric.child`)."""
        return HistogramChild(self, tuple(str(labels.get(n, "")) for n in self.labels))

    def quantile(self, q: float, **labels: str) -> float | None:
        """An upper-bound estimate of quantile ``q`` (the bucket boundary it falls in); None without data."""
        s = self.series.get(tuple(str(labels.get(n, "")) for n in self.labels))
        if not s or not s[-1]:
            return None
        rank, cum = q * s[-1], 0.0
        for i, b in enumerate(self.buckets):
            cum += s[i]
            if cum >= rank:
                return b
        return math.inf

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} histogram"
        for key, s in sorted(self.series.items()):
            cum = 0.0
            for i, b in enumerate(self.buckets):
                cum += s[i]
                le = 'le="' + format_value(b) + '"'
                yield f"{self.name}_bucket{_labels(self.labels, key, le)} {format_value(cum)}"
            inf = 'le="+Inf"'
            yield f"{self.name}_bucket{_labels(self.labels, key, inf)} {format_value(s[-1])}"
            yield f"{self.name}_sum{_labels(self.labels, key)} {format_value(s[-2])}"
            yield f"{self.name}_count{_labels(self.labels, key)} {format_value(s[-1])}"


class Child:
    """One series of a counter or gauge, its label values fixed (reads and writes ``metric.values``)."""

    __slots__ = ("key", "metric")

    def __init__(self, metric: Metric, key: LabelValues) -> None:
        self.metric = metric
        self.key = key

    def inc(self, amount: float = 1) -> None:
        values = self.metric.values
        values[self.key] = values.get(self.key, 0) + amount

    def set(self, value: float) -> None:
        self.metric.values[self.key] = value


class HistogramChild:
    """One series of a histogram, its label values fixed."""

    __slots__ = ("histogram", "key")

    def __init__(self, histogram: Histogram, key: LabelValues) -> None:
        self.histogram = histogram
        self.key = key

    def observe(self, value: float) -> None:
        self.histogram.observe_key(self.key, value)


class Registry:
    """Named metrics; asking twice for the same name returns the same object."""

    def __init__(self) -> None:
        self._metrics: dict[str, Metric | Histogram] = {}
        self._collectors: list[Callable[[], None]] = []

    def counter(self, name: str, help: str, labels: Iterable[str] = ()) -> Metric:
        return self._get(name, lambda: Metric(name, help, tuple(labels), "counter"))  # type: ignore[return-value]

    def gauge(self, name: str, help: str, labels: Iterable[str] = ()) -> Metric:
        return self._get(name, lambda: Metric(name, help, tuple(labels), "gauge"))  # type: ignore[return-value]

    def histogram(
        self, name: str, help: str, labels: Iterable[str] = (), buckets: tuple[float, ...] = DEFAULT_BUCKETS
    ) -> Histogram:
        return self._get(name, lambda: Histogram(name, help, tuple(labels), buckets))  # type: ignore[return-value]

    def on_collect(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` before each render (to refresh gauges such as queue depth or RSS)."""
        self._collectors.append(fn)

    def _get(self, name: str, make: Callable[[], Metric | Histogram]) -> Metric | Histogram:
        m = self._metrics.get(name)
        if m is None:
            m = self._metrics[name] = make()
        return m

    def find(self, name: str) -> Metric | Histogram | None:
        """The metric called ``name`` if something registered it (never creates one)."""
        return self._metrics.get(name)

    def metrics(self) -> dict[str, Metric | Histogram]:
        for fn in self._collectors:
            fn()
        return dict(self._metrics)

    def render(self) -> str:
        lines: list[str] = []
        for m in self.metrics().values():
            lines.extend(m.render())
        return "\n".join(lines) + "\n"


CACHE_EVICTIONS = "ecs_otel_sidecar_cache_evictions_total"


def publish_cache_evictions(registry: Registry) -> Metric:
    """Publish every memo table's dropped entries (:mod:`ecs_otel.memo`) as one counter, labelled by table.

    Read at each render: the tables count for themselves (no work on their hot paths), and a name appears
    from the moment its first table exists, at 0.
    """
    from ecs_otel.memo import evictions

    counter = registry.counter(
        CACHE_EVICTIONS,
        "Entries dropped by the sidecar's bounded memo tables (each is emptied when full; a dropped answer is "
        "computed again when next needed), by table.",
        ("cache",),
    )

    def collect() -> None:
        for name, dropped in evictions().items():
            counter.set(dropped, cache=name)

    registry.on_collect(collect)
    return counter
