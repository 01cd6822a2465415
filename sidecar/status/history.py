"""A short memory of ECS task stats for the status page's charts.

The ``ecs_stats`` scraper sends each scrape down the metrics pipeline and keeps nothing; the
status page wants the last few minutes as small time series. :class:`HistoryTap` sits between a
scraper and its consumer, reads the handful of values the charts show from each request (before
any processor touches it), and forwards the request unchanged. :class:`StatsHistory` keeps them
in ring buffers: ``samples`` points per series, at most ``max_groups`` groups (the task and each
container); a group beyond that is not recorded and is counted in
``ecs_otel_sidecar_status_history_dropped_groups_total``.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import Message

from sidecar.otlp.signals import Signal
from sidecar.pipeline.consumer import Consumer
from sidecar.pipeline.telemetry import Registry

#: Points kept per series (two minutes at a 1 s scrape interval, 40 minutes at the default 20 s).
DEFAULT_SAMPLES = 120
#: Groups (the task, then one per container) kept at once.
DEFAULT_MAX_GROUPS = 32
DROPPED_GROUPS = "ecs_otel_sidecar_status_history_dropped_groups_total"
CONTAINER_NAME = "container.name"
TASK_GROUP = "task"

#: Scraped metric name → (group kind, series name on the page).
CHARTED: dict[str, tuple[str, str]] = {
    "ecs.task.cpu.usage.vcpu": ("task", "cpu_vcpu"),
    "ecs.task.memory.utilized": ("task", "memory_mib"),
    "ecs.task.network.rate.rx": ("task", "network_rx_bps"),
    "ecs.task.network.rate.tx": ("task", "network_tx_bps"),
    "container.cpu.usage.vcpu": ("container", "cpu_vcpu"),
    "container.memory.utilized": ("container", "memory_mib"),
    "container.network.rate.rx": ("container", "network_rx_bps"),
    "container.network.rate.tx": ("container", "network_tx_bps"),
}
SERIES = ("cpu_vcpu", "memory_mib", "network_rx_bps", "network_tx_bps")

_log = logging.getLogger("ecs_otel.sidecar.status")


@dataclass
class _Group:
    name: str
    kind: str
    series: dict[str, deque[tuple[float, float]]] = field(default_factory=dict)


class StatsHistory:
    """Ring buffers of the charted stats, keyed by group (``task`` or a container name)."""

    def __init__(self, telemetry: Registry, samples: int = DEFAULT_SAMPLES,
                 max_groups: int = DEFAULT_MAX_GROUPS) -> None:
        if samples < 2:
            raise ValueError(f"samples must be 2 or more, got {samples}")
        if max_groups < 1:
            raise ValueError(f"max_groups must be 1 or more, got {max_groups}")
        self.samples = samples
        self.max_groups = max_groups
        self._groups: dict[str, _Group] = {}
        self._dropped = telemetry.counter(
            DROPPED_GROUPS, "Containers whose stats the status page's history did not record (group limit).")
        self._dropped.inc(0)
        self.scrapes = 0

    def observe(self, request: Any) -> None:
        """Record the charted values of one scrape (an ``ExportMetricsServiceRequest``)."""
        seen = False
        for rm in request.resource_metrics:
            container = next((kv.value.string_value for kv in rm.resource.attributes if kv.key == CONTAINER_NAME), "")
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    charted = CHARTED.get(metric.name)
                    if charted is None or metric.WhichOneof("data") != "gauge" or not metric.gauge.data_points:
                        continue
                    kind, series = charted
                    name = container if kind == "container" else TASK_GROUP
                    if not name:
                        continue
                    point = metric.gauge.data_points[-1]
                    value = point.as_double if point.WhichOneof("value") == "as_double" else float(point.as_int)
                    self._add(name, kind, series, point.time_unix_nano / 1e9, value)
                    seen = True
        if seen:
            self.scrapes += 1

    def _add(self, name: str, kind: str, series: str, t: float, value: float) -> None:
        key = f"{kind}:{name}"
        group = self._groups.get(key)
        if group is None:
            if len(self._groups) >= self.max_groups:
                self._dropped.inc()
                return
            group = self._groups[key] = _Group(name, kind)
        ring = group.series.get(series)
        if ring is None:
            ring = group.series[series] = deque(maxlen=self.samples)
        ring.append((round(t, 3), value))

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready: the task first, then containers by name; each series a list of ``[t, value]``."""
        groups = sorted(self._groups.values(), key=lambda g: (g.kind != "task", g.name))
        return {
            "samples": self.samples,
            "max_groups": self.max_groups,
            "scrapes": self.scrapes,
            "dropped_groups": int(self._dropped.get()),
            "groups": [
                {"name": g.name, "kind": g.kind,
                 "series": {s: [[t, _round(v)] for t, v in g.series[s]] for s in SERIES if s in g.series}}
                for g in groups
            ],
        }


def _round(v: float) -> float:
    """Four significant digits: plenty for a 120-pixel chart, and a smaller ``/status.json``."""
    return float(f"{v:.4g}")


class HistoryTap:
    """A consumer that records a scraper's output in a :class:`StatsHistory`, then passes it on unchanged."""

    def __init__(self, consumer: Consumer, history: StatsHistory) -> None:
        self.consumer = consumer
        self.history = history

    async def consume(self, signal: Signal, batch: Message) -> None:
        if signal is Signal.METRICS:
            try:
                self.history.observe(batch)
            except Exception:  # the charts are a nicety: never let them cost a scrape
                _log.exception("status history could not read a scrape")
        await self.consumer.consume(signal, batch)
