"""Process and CPython runtime metrics under their semantic-convention names.

Observed on each collection (no thread of our own): psutil reads /proc once per callback, so the
cost is paid at the export interval, not per request.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import Iterable
from typing import Any

from opentelemetry.metrics import CallbackOptions, Meter, Observation

#: Names registered, for documentation and tests.
RUNTIME_METRICS: tuple[tuple[str, str, str], ...] = (
    ("process.cpu.time", "s", "CPU seconds by cpu.mode (user, system)"),
    ("process.cpu.utilization", "1", "CPU time / (wall time x available CPUs) since the last collection, by cpu.mode"),
    ("process.memory.usage", "By", "Resident set size"),
    ("process.memory.virtual", "By", "Virtual memory size"),
    ("process.thread.count", "{thread}", "Threads of this process"),
    ("process.unix.file_descriptor.count", "{file_descriptor}",
     "Open file descriptors (formerly process.open_file_descriptor.count)"),
    ("cpython.gc.collections", "{collection}", "Collections per cpython.gc.generation since start"),
    ("cpython.gc.collected_objects", "{object}", "Objects collected per generation since start"),
)


class RuntimeMetrics:
    """Registers the observable instruments; state is per process (reset after fork by construction)."""

    def __init__(self, meter: Meter) -> None:
        import psutil

        self._psutil = psutil
        self._process: Any = None
        self._pid = -1
        self._lock = threading.Lock()
        self._last: tuple[float, float, float] | None = None  # (wall, user, system)
        try:
            self._cpus = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            self._cpus = os.cpu_count() or 1
        meter.create_observable_counter("process.cpu.time", [self._cpu_time], unit="s",
                                        description="Total CPU seconds broken down by different CPU modes.")
        meter.create_observable_gauge("process.cpu.utilization", [self._cpu_utilization], unit="1",
                                      description="CPU utilization since the last measurement, by CPU mode.")
        meter.create_observable_up_down_counter("process.memory.usage", [self._memory_rss], unit="By",
                                                description="The amount of physical memory in use.")
        meter.create_observable_up_down_counter("process.memory.virtual", [self._memory_vms], unit="By",
                                                description="The amount of committed virtual memory.")
        meter.create_observable_up_down_counter("process.thread.count", [self._threads], unit="{thread}",
                                                description="Process threads count.")
        meter.create_observable_up_down_counter("process.unix.file_descriptor.count", [self._fds],
                                                unit="{file_descriptor}",
                                                description="Number of unix file descriptors in use by the process.")
        meter.create_observable_counter("cpython.gc.collections", [self._gc_collections], unit="{collection}",
                                        description="The number of times a generation was collected since "
                                                    "interpreter start.")
        meter.create_observable_counter("cpython.gc.collected_objects", [self._gc_collected], unit="{object}",
                                        description="The total number of objects collected inside a generation "
                                                    "since interpreter start.")

    def _proc(self) -> Any:
        pid = os.getpid()
        if self._process is None or self._pid != pid:  # forked: a new process object and a new baseline
            self._process = self._psutil.Process(pid)
            self._pid = pid
            self._last = None
        return self._process

    def _cpu_time(self, options: CallbackOptions) -> Iterable[Observation]:
        times = self._proc().cpu_times()
        return [Observation(times.user, {"cpu.mode": "user"}), Observation(times.system, {"cpu.mode": "system"})]

    def _cpu_utilization(self, options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            times = self._proc().cpu_times()
            now = time.monotonic()
            last, self._last = self._last, (now, times.user, times.system)
        if last is None:
            start = self._proc().create_time()
            elapsed = max(time.time() - start, 1e-3)
            user, system = times.user, times.system
        else:
            elapsed = max(now - last[0], 1e-3)
            user, system = times.user - last[1], times.system - last[2]
        scale = elapsed * self._cpus
        return [Observation(max(user, 0.0) / scale, {"cpu.mode": "user"}),
                Observation(max(system, 0.0) / scale, {"cpu.mode": "system"})]

    def _memory_rss(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(self._proc().memory_info().rss)]

    def _memory_vms(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(self._proc().memory_info().vms)]

    def _threads(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(self._proc().num_threads())]

    def _fds(self, options: CallbackOptions) -> Iterable[Observation]:
        try:
            return [Observation(self._proc().num_fds())]
        except (AttributeError, self._psutil.Error):
            return []

    def _gc_collections(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(s["collections"], {"cpython.gc.generation": g}) for g, s in enumerate(gc.get_stats())]

    def _gc_collected(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(s["collected"], {"cpython.gc.generation": g}) for g, s in enumerate(gc.get_stats())]
