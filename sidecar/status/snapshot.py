"""The running sidecar as the status server shows it: one snapshot for ``/status.json``, process self-metrics.

These read the sidecar through :class:`RunningSidecar` only, so the wiring (``app.py``) stays
wiring and the status code can be tested against anything with the same shape.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Protocol

import psutil

from sidecar import logs
from sidecar.context import SidecarContext
from sidecar.otlp.signals import Signal
from sidecar.pipeline.health import ExporterHealth
from sidecar.pipeline.memory import MemoryBudget
from sidecar.pipeline.queue import LATENCY, ExporterQueue
from sidecar.pipeline.stage import BATCHES, DURATION, ITEMS_IN, ITEMS_OUT
from sidecar.pipeline.telemetry import Histogram, Metric, Registry
from sidecar.receivers.base import Receiver
from sidecar.receivers.ingest import ACCEPTED, REFUSED, REQUESTS
from sidecar.scrapers.base import Scraper
from sidecar.status.senders import SenderTable


class RunningSidecar(Protocol):
    telemetry: Registry
    context: SidecarContext
    started_at: float
    queues: list[ExporterQueue]
    health_of: dict[str, ExporterHealth]
    receivers: list[Receiver]
    scrapers: list[Scraper]
    chain_names: dict[Signal, list[str]]
    budget: MemoryBudget | None
    process: psutil.Process
    senders: SenderTable
    exporters: dict[str, Any]

    def health(self) -> tuple[bool, list[str]]: ...

    def ports(self) -> Mapping[str, int | None]: ...


def pipeline_snapshot(self: RunningSidecar, version: str) -> dict[str, Any]:
    """What ``/status.json`` shows of the running pipeline (the status server adds history and drops)."""
    ok, reasons = self.health()
    receiver_names = [r.name for r in self.receivers] + [f"scraper_{sc.name}" for sc in self.scrapers]
    cpu = self.process.cpu_times()
    return {
        "version": version,
        "uptime_s": time.time() - self.started_at,
        "health": {"healthy": ok, "reasons": reasons},
        "region": self.context.region,
        "task_attributes": self.context.task_attributes,
        "ports": self.ports(),
        "pipeline": {sig.value: {"receivers": receiver_names if sig is Signal.METRICS else
                                 [r.name for r in self.receivers],
                                 "processors": self.chain_names.get(sig, []),
                                 "exporters": [q.name for q in self.queues if q.signal is sig]}
                     for sig in Signal},
        "receivers": _receivers(self, receiver_names),
        "processors": _processors(self),
        "queues": [_queue(self, q) for q in self.queues],
        "senders": self.senders.snapshot(),
        "process": {"rss_bytes": self.process.memory_info().rss,
                    "cpu_seconds": cpu.user + cpu.system,
                    "memory_limit_bytes": self.budget.limit_bytes if self.budget else 0,
                    "queued_bytes": self.budget.queued_bytes if self.budget else 0},
        "components": self.context.status,
    }


def _quantiles(metric: object, **labels: str) -> dict[str, float | None]:
    if not isinstance(metric, Histogram):
        return {"p50": None, "p99": None}
    return {"p50": metric.quantile(0.5, **labels), "p99": metric.quantile(0.99, **labels)}


def _queue(self: RunningSidecar, q: ExporterQueue) -> dict[str, Any]:
    """One exporter's queue, its latency, health and destination."""
    snap = q.snapshot()
    snap["latency"] = _quantiles(self.telemetry.find(LATENCY), signal=q.signal.value, exporter=q.name)
    health = self.health_of[q.name]
    snap["failed_persistently"] = health.failed_persistently()
    snap["last_error"] = health.last_error
    snap["last_error_age_s"] = round(time.time() - health.last_error_at, 1) if health.last_error_at else None
    exporter = self.exporters.get(q.name)
    try:
        snap["destination"] = exporter.destination(q.signal) if exporter is not None else ""
    except Exception:  # a description must never cost the status page
        snap["destination"] = ""
    return snap


def _receivers(self: RunningSidecar, receiver_names: list[str]) -> list[dict[str, Any]]:
    """Requests, accepted and refused items per receiver (scrapers included) and signal."""
    requests = self.telemetry.counter(REQUESTS, "", ("receiver", "signal", "outcome"))
    accepted = self.telemetry.counter(ACCEPTED, "", ("receiver", "signal"))
    refused = self.telemetry.counter(REFUSED, "", ("receiver", "signal", "reason"))
    rows = []
    for rname in receiver_names:
        for sig in Signal:
            by_outcome = {k[2]: v for k, v in requests.values.items() if k[0] == rname and k[1] == sig.value}
            rows.append({"receiver": rname, "signal": sig.value,
                         "accepted": accepted.get(receiver=rname, signal=sig.value),
                         "refused": refused.total(receiver=rname, signal=sig.value),
                         "requests": by_outcome})
    return rows


def _processors(self: RunningSidecar) -> list[dict[str, Any]]:
    """Batches, items in and out and duration of each processor in each signal's chain."""
    duration = self.telemetry.find(DURATION)
    counts = {"batches": self.telemetry.find(BATCHES), "items_in": self.telemetry.find(ITEMS_IN),
              "items_out": self.telemetry.find(ITEMS_OUT)}
    rows = []
    for sig in Signal:
        for name in self.chain_names.get(sig, []):
            labels = {"signal": sig.value, "processor": name}
            row: dict[str, Any] = {"processor": name, "signal": sig.value}
            for key, metric in counts.items():
                row[key] = metric.get(**labels) if isinstance(metric, Metric) else 0
            row["duration"] = _quantiles(duration, **labels)
            rows.append(row)
    return rows


def collect_process_telemetry(self: RunningSidecar) -> None:
    """Refresh the process-level self-metrics right before ``/metrics`` renders them."""
    t = self.telemetry
    cpu = self.process.cpu_times()
    t.counter("ecs_otel_sidecar_process_cpu_seconds_total", "CPU time of the sidecar process.").set(
        cpu.user + cpu.system)
    t.gauge("ecs_otel_sidecar_process_resident_memory_bytes", "Resident memory of the sidecar process.").set(
        self.process.memory_info().rss)
    if self.budget is not None:
        t.gauge("ecs_otel_sidecar_memory_limit_bytes", "Memory limit above which receivers refuse data.").set(
            self.budget.limit_bytes)
        t.gauge("ecs_otel_sidecar_queued_bytes", "Encoded bytes queued across every exporter.").set(
            self.budget.queued_bytes)
    t.counter("ecs_otel_sidecar_log_lines_suppressed_total",
              "Sidecar log lines dropped by the repeat limiter (ECS_OTEL_LOG_REPEAT_LIMIT per interval).").set(
        logs.limiter.suppressed_total)
    t.gauge("ecs_otel_sidecar_uptime_seconds", "Seconds since the sidecar started.").set(
        round(time.time() - self.started_at, 3))
    up = t.gauge("ecs_otel_sidecar_exporter_up", "0 when the exporter failed every attempt in the last 60 s.",
                 ("exporter",))
    for name, h in self.health_of.items():
        up.set(0 if h.failed_persistently() else 1, exporter=name)
    listening = t.gauge("ecs_otel_sidecar_receiver_up", "1 while the receiver is listening.", ("receiver",))
    for r in self.receivers:
        listening.set(1 if r.listening else 0, receiver=r.name)
