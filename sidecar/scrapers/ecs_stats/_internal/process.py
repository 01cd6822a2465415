"""The sidecar's own process, reported beside the task it watches (psutil)."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

import psutil
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from sidecar.scrapers.ecs_stats._internal.otlp import METRICS, SCOPE_NAME, MetricWriter, key_values

SERVICE_NAME = "ecs-otel-sidecar"

METRICS.update(
    {
        "process.cpu.time": ("s", "counter", "CPU seconds used by the sidecar, by cpu.mode"),
        "process.memory.usage": ("By", "gauge", "resident memory of the sidecar"),
        "process.memory.virtual": ("By", "gauge", "virtual memory of the sidecar"),
        "process.thread.count": ("{thread}", "gauge", "threads of the sidecar"),
        "process.unix.file_descriptor.count": ("{file_descriptor}", "gauge", "open file descriptors"),
    }
)


class ProcessMetrics:
    def __init__(self, process: psutil.Process | None = None) -> None:
        self._proc = process or psutil.Process()
        self._start_ns = int(self._proc.create_time() * 1e9)

    def write(self, request: ExportMetricsServiceRequest, task_attrs: Mapping[str, Any]) -> None:
        attrs = dict(task_attrs)
        attrs.update({"service.name": SERVICE_NAME, "process.pid": os.getpid()})
        rm = request.resource_metrics.add()
        rm.resource.attributes.extend(key_values(attrs))
        scope = rm.scope_metrics.add()
        scope.scope.name = SCOPE_NAME
        w = MetricWriter(scope, time.time_ns(), self._start_ns)
        with self._proc.oneshot():
            cpu = self._proc.cpu_times()
            mem = self._proc.memory_info()
            threads = self._proc.num_threads()
            try:
                fds: int | None = self._proc.num_fds()
            except (AttributeError, psutil.Error):
                fds = None
        w.point("process.cpu.time", cpu.user, {"cpu.mode": "user"})
        w.point("process.cpu.time", cpu.system, {"cpu.mode": "system"})
        w.point("process.memory.usage", mem.rss)
        w.point("process.memory.virtual", mem.vms)
        w.point("process.thread.count", threads)
        w.point("process.unix.file_descriptor.count", fds)
