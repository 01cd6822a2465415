"""From samples to values with units: vCPU, utilisation, rates, task totals.

The calculator keeps the previous sample of each container (only of containers still in the
task, so its state is bounded by the task's size) because two things need two samples:
rates when the agent sends no ``network_rate_stats``, and vCPU when a document's ``precpu``
block is empty (Docker leaves it empty on a container's first read).

Units, stated once because upstream mixes them up:

- **vCPU** is CPU time over wall time: ``Δ cpu_total_ns / Δ read_ns``; 1.0 is one busy vCPU.
- ECS **CPU units** are 1024 per vCPU. Container ``Limits.CPU`` is in units; task
  ``Limits.CPU`` is in vCPU. The collector's ``ecs.task.cpu.utilized`` is reported in CPU units
  while ``container.cpu.utilized`` is a percentage, which readers take for the same scale.
  Here every CPU quantity is vCPU, and utilisation is a fraction (unit ``1``) of a reservation.
- A container reservation of 2 units or less is Docker's minimum share (what ECS sets when the
  task definition gives none, e.g. on Fargate): it is treated as "no container reservation".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ecs_otel.metadata import ContainerMetadata, TaskMetadata
from sidecar.scrapers.ecs_stats._internal.model import ContainerStats, NetworkCounters
from sidecar.scrapers.ecs_stats._internal.timestamps import parse_rfc3339_ns

MIB = 1024 * 1024
CPU_UNITS_PER_VCPU = 1024
#: Docker's minimum CPU shares; ECS uses it when a container has no CPU reservation.
MIN_MEANINGFUL_CPU_UNITS = 2

#: Network modes in which every container sees the same interfaces (the task ENI or the host's).
SHARED_NETWORK_MODES = frozenset({"awsvpc", "host"})


@dataclass(slots=True)
class ContainerValues:
    meta: ContainerMetadata
    stats: ContainerStats | None
    #: Start of the container's cumulative counters (epoch ns); moves on a counter reset.
    start_ns: int
    vcpu: float | None = None
    cpu_reserved_vcpu: float | None = None
    cpu_utilization: float | None = None
    memory_reserved_mib: int | None = None
    memory_limit_bytes: int | None = None
    memory_utilization: float | None = None
    network: NetworkCounters | None = None
    network_rx_rate: float | None = None
    network_tx_rate: float | None = None


@dataclass(slots=True)
class TaskValues:
    task: TaskMetadata
    time_ns: int
    #: Start of task-level cumulative sums (earliest container start; moves when a sum goes back).
    start_ns: int
    containers: list[ContainerValues] = field(default_factory=list)
    vcpu: float | None = None
    cpu_reserved_vcpu: float | None = None
    cpu_utilization: float | None = None
    cpu_total_ns: int | None = None
    memory_usage: int | None = None
    memory_working_set: int | None = None
    memory_limit_bytes: int | None = None
    memory_reserved_mib: int | None = None
    memory_utilization: float | None = None
    network_shared: bool = False
    network: NetworkCounters | None = None
    network_rx_rate: float | None = None
    network_tx_rate: float | None = None
    storage_read_bytes: int | None = None
    storage_write_bytes: int | None = None
    ephemeral_utilized_mib: float | None = None
    ephemeral_reserved_mib: float | None = None
    #: What could not be derived or written, one line each (a container's data no check foresaw);
    #: the scraper counts and logs them. Everything else of the scrape is still reported.
    problems: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _History:
    start_ns: int
    stats: ContainerStats


def _rate(cur: int, prev: int, dt_ns: int) -> float | None:
    """Per-second rate of a counter; ``None`` on a reset (never negative) or a non-positive interval."""
    if dt_ns <= 0 or cur < prev:
        return None
    return (cur - prev) * 1e9 / dt_ns


def is_shared_network(task: TaskMetadata) -> bool:
    if (task.launch_type or "").upper() == "FARGATE":
        return True
    return any(n.network_mode in SHARED_NETWORK_MODES for c in task.containers for n in c.networks)


def _sum_networks(networks: Mapping[str, NetworkCounters]) -> NetworkCounters | None:
    total: NetworkCounters | None = None
    for n in networks.values():
        total = n if total is None else total + n
    return total


class StatsCalculator:
    """Turns successive ``(task metadata, task stats)`` samples into :class:`TaskValues`."""

    def __init__(self, fallback_start_ns: int) -> None:
        #: Start time for counters whose container reports no ``StartedAt``.
        self._fallback_start_ns = fallback_start_ns
        self._history: dict[str, _History] = {}
        self._task_start_ns: int | None = None
        self._task_prev: TaskValues | None = None

    def compute(
        self,
        task: TaskMetadata,
        stats: Mapping[str, ContainerStats | None],
        now_ns: int,
        task_doc: Mapping[str, Any] | None = None,
    ) -> TaskValues:
        containers: list[ContainerValues] = []
        problems: list[str] = []
        seen: set[str] = set()
        for meta in task.containers:
            cid = meta.docker_id
            st = stats.get(cid) if cid else None
            try:
                containers.append(self._container(meta, st, now_ns))
            except Exception as e:  # one container's odd data must not cost the others their metrics
                problems.append(f"container {meta.name!r}: stats not derived ({type(e).__name__}: {e})")
                containers.append(ContainerValues(meta=meta, stats=None, start_ns=self._fallback_start_ns))
                continue  # and no history kept: the next sample starts afresh
            if cid and st is not None:
                seen.add(cid)
        for cid in list(self._history):
            if cid not in seen:
                del self._history[cid]
        try:
            values = self._task(task, containers, now_ns, task_doc or {})
        except Exception as e:
            problems.append(f"task totals not derived ({type(e).__name__}: {e})")
            values = TaskValues(task=task, time_ns=now_ns, start_ns=self._task_start_ns or self._fallback_start_ns,
                                containers=containers)
        values.problems.extend(problems)
        self._task_prev = values
        return values

    # -- containers -------------------------------------------------------------------------

    def _container(self, meta: ContainerMetadata, st: ContainerStats | None, now_ns: int) -> ContainerValues:
        started = parse_rfc3339_ns(meta.started_at) or self._fallback_start_ns
        cid = meta.docker_id or ""
        prev = self._history.get(cid)
        start_ns = prev.start_ns if prev else started
        if st is not None and prev is not None and _went_back(st, prev.stats):
            # Counters restarted (container restart): a new series start, and no rate across it.
            # The new counters began after the last reading of the old ones.
            start_ns = prev.stats.read_ns or now_ns
            prev = None
        out = ContainerValues(meta=meta, stats=st, start_ns=start_ns)
        units = meta.cpu_units
        if units is not None and units > MIN_MEANINGFUL_CPU_UNITS:
            out.cpu_reserved_vcpu = units / CPU_UNITS_PER_VCPU
        out.memory_reserved_mib = meta.memory_limit_mib or None
        if st is None:
            return out
        out.vcpu = _vcpu(st, prev.stats if prev else None)
        if out.vcpu is not None and out.cpu_reserved_vcpu:
            out.cpu_utilization = out.vcpu / out.cpu_reserved_vcpu
        mem = st.memory
        if mem is not None:
            out.memory_limit_bytes = mem.limit or (meta.memory_limit_mib * MIB if meta.memory_limit_mib else None)
            if out.memory_limit_bytes:
                out.memory_utilization = mem.working_set / out.memory_limit_bytes
        out.network = _sum_networks(st.networks)
        out.network_rx_rate, out.network_tx_rate = st.network_rx_rate, st.network_tx_rate
        if (out.network_rx_rate is None or out.network_tx_rate is None) and prev is not None:
            before = _sum_networks(prev.stats.networks)
            if out.network is not None and before is not None and st.read_ns and prev.stats.read_ns:
                dt = st.read_ns - prev.stats.read_ns
                if out.network_rx_rate is None:
                    out.network_rx_rate = _rate(out.network.rx_bytes, before.rx_bytes, dt)
                if out.network_tx_rate is None:
                    out.network_tx_rate = _rate(out.network.tx_bytes, before.tx_bytes, dt)
        self._history[cid] = _History(start_ns=start_ns, stats=st)
        return out

    # -- task -------------------------------------------------------------------------------

    def _task(
        self, task: TaskMetadata, containers: list[ContainerValues], now_ns: int, doc: Mapping[str, Any]
    ) -> TaskValues:
        live = [c for c in containers if c.stats is not None]
        if self._task_start_ns is None:
            self._task_start_ns = min((c.start_ns for c in containers), default=self._fallback_start_ns)
        read_times = [c.stats.read_ns for c in live if c.stats and c.stats.read_ns]
        time_ns = max(read_times, default=now_ns)
        out = TaskValues(task=task, time_ns=time_ns, start_ns=self._task_start_ns, containers=containers)

        _task_cpu(out, task, containers, live)
        _task_memory(out, task, containers, live)
        self._task_network(out, live, task)

        _task_storage(out, live, doc)
        prev = self._task_prev
        if prev is not None and _task_went_back(out, prev):
            self._task_start_ns = out.start_ns = prev.time_ns
        return out

    def _task_network(self, out: TaskValues, live: list[ContainerValues], task: TaskMetadata) -> None:
        with_net = [c for c in live if c.network is not None]
        if not with_net:
            return
        out.network_shared = is_shared_network(task)
        if out.network_shared:
            # Every container reports the same task ENI: take the freshest reading, once.
            rep = max(with_net, key=lambda c: (c.stats.read_ns or 0) if c.stats else 0)
            out.network = rep.network
            out.network_rx_rate, out.network_tx_rate = rep.network_rx_rate, rep.network_tx_rate
            prev = self._task_prev
            if (
                (out.network_rx_rate is None or out.network_tx_rate is None)
                and prev is not None
                and prev.network is not None
                and out.network is not None
                and rep.stats is not None
                and rep.stats.read_ns
            ):
                dt = rep.stats.read_ns - prev.time_ns
                if out.network_rx_rate is None:
                    out.network_rx_rate = _rate(out.network.rx_bytes, prev.network.rx_bytes, dt)
                if out.network_tx_rate is None:
                    out.network_tx_rate = _rate(out.network.tx_bytes, prev.network.tx_bytes, dt)
            return
        total: NetworkCounters | None = None
        for c in with_net:
            total = c.network if total is None else total + c.network  # type: ignore[operator]
        out.network = total
        rx = [c.network_rx_rate for c in with_net if c.network_rx_rate is not None]
        tx = [c.network_tx_rate for c in with_net if c.network_tx_rate is not None]
        out.network_rx_rate = sum(rx) if rx else None
        out.network_tx_rate = sum(tx) if tx else None


def _vcpu(st: ContainerStats, prev: ContainerStats | None) -> float | None:
    """vCPU in use over the last interval, from the document's own ``precpu`` or our previous sample."""
    cur = st.cpu_total_ns
    if cur is None or st.read_ns is None:
        return None
    if st.precpu_total_ns and st.preread_ns and st.read_ns > st.preread_ns and cur >= st.precpu_total_ns:
        return (cur - st.precpu_total_ns) / (st.read_ns - st.preread_ns)
    if prev is not None and prev.cpu_total_ns is not None and prev.read_ns:
        dt = st.read_ns - prev.read_ns
        if dt > 0 and cur >= prev.cpu_total_ns:
            return (cur - prev.cpu_total_ns) / dt
    return None


def _went_back(cur: ContainerStats, prev: ContainerStats) -> bool:
    """A cumulative counter decreased: the container restarted in place."""
    pairs = [(cur.cpu_total_ns, prev.cpu_total_ns), (cur.storage_read_bytes, prev.storage_read_bytes)]
    pairs.append((cur.storage_write_bytes, prev.storage_write_bytes))
    a, b = _sum_networks(cur.networks), _sum_networks(prev.networks)
    if a is not None and b is not None:
        pairs += [(a.rx_bytes, b.rx_bytes), (a.tx_bytes, b.tx_bytes)]
    return any(x is not None and y is not None and x < y for x, y in pairs)


def _task_went_back(cur: TaskValues, prev: TaskValues) -> bool:
    pairs = [
        (cur.cpu_total_ns, prev.cpu_total_ns),
        (cur.storage_read_bytes, prev.storage_read_bytes),
        (cur.storage_write_bytes, prev.storage_write_bytes),
    ]
    if cur.network is not None and prev.network is not None:
        pairs += [(getattr(cur.network, f), getattr(prev.network, f)) for f in NetworkCounters.FIELDS]
    return any(x is not None and y is not None and x < y for x, y in pairs)


def _task_cpu(out: TaskValues, task: TaskMetadata, containers: list[ContainerValues], live: list[ContainerValues]) -> None:
    """vCPU in use, reserved (task-level reservation first) and cumulative CPU time of the task."""
    vcpus = [c.vcpu for c in live if c.vcpu is not None]
    out.vcpu = sum(vcpus) if vcpus else None
    if task.cpu_vcpu:
        out.cpu_reserved_vcpu = task.cpu_vcpu
    else:
        reserved = [c.cpu_reserved_vcpu for c in containers if c.cpu_reserved_vcpu]
        out.cpu_reserved_vcpu = sum(reserved) if reserved else None
    if out.vcpu is not None and out.cpu_reserved_vcpu:
        out.cpu_utilization = out.vcpu / out.cpu_reserved_vcpu
    totals = [c.stats.cpu_total_ns for c in live if c.stats and c.stats.cpu_total_ns is not None]
    out.cpu_total_ns = sum(totals) if totals else None


def _task_memory(out: TaskValues, task: TaskMetadata, containers: list[ContainerValues], live: list[ContainerValues]) -> None:
    """Usage and working set summed; the limit is the task's, else the sum of every container's limit."""
    mems = [c.stats.memory for c in live if c.stats and c.stats.memory is not None]
    if mems:
        out.memory_usage = sum(m.usage for m in mems)
        out.memory_working_set = sum(m.working_set for m in mems)
    if task.memory_limit_mib:
        out.memory_limit_bytes = task.memory_limit_mib * MIB
        out.memory_reserved_mib = task.memory_limit_mib
    else:
        limits = [c.memory_limit_bytes for c in live]
        if limits and all(limits):
            out.memory_limit_bytes = sum(limits)  # type: ignore[arg-type]
        reserved_mib = [c.memory_reserved_mib for c in containers if c.memory_reserved_mib]
        out.memory_reserved_mib = sum(reserved_mib) if reserved_mib else None
    if out.memory_working_set is not None and out.memory_limit_bytes:
        out.memory_utilization = out.memory_working_set / out.memory_limit_bytes


def _task_storage(out: TaskValues, live: list[ContainerValues], doc: Mapping[str, Any]) -> None:
    """Block I/O summed over live containers; Fargate's ephemeral storage from the task document."""
    reads = [c.stats.storage_read_bytes for c in live if c.stats and c.stats.storage_read_bytes is not None]
    writes = [c.stats.storage_write_bytes for c in live if c.stats and c.stats.storage_write_bytes is not None]
    out.storage_read_bytes = sum(reads) if reads else None
    out.storage_write_bytes = sum(writes) if writes else None

    eph = doc.get("EphemeralStorageMetrics")
    if isinstance(eph, Mapping):
        u, r = eph.get("Utilized"), eph.get("Reserved")
        out.ephemeral_utilized_mib = float(u) if isinstance(u, int | float) else None
        out.ephemeral_reserved_mib = float(r) if isinstance(r, int | float) else None
