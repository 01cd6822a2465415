"""A typed model of the ``/task/stats`` (and ``/stats``) documents of the ECS metadata endpoint v4.

The documents are Docker's stats JSON as relayed by the ECS agent. Two details matter for
correct numbers and are settled here, once:

- **cgroup v1 or v2.** v1 memory stats carry ``cache`` (and ``total_*`` keys); v2 carry
  ``anon``/``file``/``inactive_file`` and no ``cache``. The working set follows the ECS agent:
  ``usage − cache`` on v1, ``usage − inactive_file`` on v2 (never below zero). Subtracting a
  ``cache`` key that does not exist on v2 reports the page cache as used memory.
- **Windows containers.** Docker on Windows reports ``privateworkingset`` (and ``commitbytes``,
  the commit charge, which can be half as large again) instead of Linux's ``usage`` and cgroup
  stats, and disk I/O as ``storage_stats.read_size_bytes``/``write_size_bytes`` instead of
  ``blkio_stats``. As the ECS agent does, the working set is ``privateworkingset``. The shape of
  the document decides, not the launch type (Windows runs on EC2 and on Fargate).
- **"No limit".** A container without a hard memory limit reports ``limit`` as
  9223372036854771712 (2^63 − 4096). That is not a size; it becomes ``None`` here so no one
  sums it into an int64 that wraps negative.

A container whose stats are ``null``, ``{}`` or malformed parses to ``None`` and the rest of the
task is kept: one stopped container never costs the whole scrape.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from sidecar.scrapers.ecs_stats._internal.timestamps import parse_rfc3339_ns

_log = logging.getLogger(__name__)

#: Memory limits at or above this are Docker's "unlimited" sentinel, not a size (2^62 bytes = 4 EiB).
NO_LIMIT_THRESHOLD = 1 << 62

#: 1 and 2: Linux cgroup versions; 0: a Windows container (no cgroups).
CgroupVersion = Literal[0, 1, 2]


class StatsFormatError(ValueError):
    """The stats document as a whole is not what the endpoint returns (neither an object nor an array of them)."""


@dataclass(frozen=True, slots=True)
class NetworkCounters:
    """Cumulative counters of one network interface as seen from a container's namespace."""

    rx_bytes: int = 0
    rx_packets: int = 0
    rx_errors: int = 0
    rx_dropped: int = 0
    tx_bytes: int = 0
    tx_packets: int = 0
    tx_errors: int = 0
    tx_dropped: int = 0

    FIELDS = (
        "rx_bytes",
        "rx_packets",
        "rx_errors",
        "rx_dropped",
        "tx_bytes",
        "tx_packets",
        "tx_errors",
        "tx_dropped",
    )

    def __add__(self, other: NetworkCounters) -> NetworkCounters:
        return NetworkCounters(*(getattr(self, f) + getattr(other, f) for f in self.FIELDS))


@dataclass(frozen=True, slots=True)
class MemoryStats:
    usage: int
    #: ``None`` when the container has no hard limit (the 2^63 − 4096 sentinel) or none is reported.
    limit: int | None
    #: Peak usage; cgroup v2 does not report it.
    max_usage: int | None
    cgroup: CgroupVersion
    #: What the ECS agent calls "utilized": usage − cache (v1) or usage − inactive_file (v2), ≥ 0.
    working_set: int
    cache: int | None = None
    inactive_file: int | None = None


@dataclass(frozen=True, slots=True)
class ContainerStats:
    container_id: str
    name: str | None
    #: When the sample was taken (epoch ns), and the previous sample inside the same document.
    read_ns: int | None
    preread_ns: int | None
    cpu_total_ns: int | None
    cpu_kernel_ns: int | None
    cpu_user_ns: int | None
    precpu_total_ns: int | None
    system_cpu_ns: int | None
    online_cpus: int | None
    throttled_periods: int | None
    throttled_time_ns: int | None
    memory: MemoryStats | None
    networks: dict[str, NetworkCounters] = field(default_factory=dict)
    #: ``network_rate_stats`` as computed by the ECS agent (bytes/s, summed over interfaces).
    network_rx_rate: float | None = None
    network_tx_rate: float | None = None
    storage_read_bytes: int | None = None
    storage_write_bytes: int | None = None
    pids_current: int | None = None
    pids_limit: int | None = None


def _int(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return None


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v)


def _dict(v: Any) -> Mapping[str, Any]:
    return v if isinstance(v, Mapping) else {}


def _memory(doc: Mapping[str, Any]) -> MemoryStats | None:
    private = _int(doc.get("privateworkingset"))
    if private is not None:  # Windows: the private working set is what the ECS agent calls utilized
        usage = _int(doc.get("usage"))
        return MemoryStats(
            usage=usage if usage is not None else (_int(doc.get("commitbytes")) or private),
            limit=None,
            max_usage=_int(doc.get("commitpeakbytes")),
            cgroup=0,
            working_set=max(private, 0),
        )
    usage = _int(doc.get("usage"))
    if usage is None:
        return None
    stats = _dict(doc.get("stats"))
    limit = _int(doc.get("limit"))
    if limit is not None and (limit <= 0 or limit >= NO_LIMIT_THRESHOLD):
        limit = None
    cache = _int(stats.get("cache"))
    inactive_file = _int(stats.get("inactive_file"))
    if cache is None and inactive_file is None:
        inactive_file = _int(stats.get("total_inactive_file"))
    if cache is not None or "total_cache" in stats:
        cgroup: CgroupVersion = 1
        subtract = cache if cache is not None else (_int(stats.get("total_cache")) or 0)
    else:
        cgroup = 2
        subtract = inactive_file or 0
    return MemoryStats(
        usage=usage,
        limit=limit,
        max_usage=_int(doc.get("max_usage")),
        cgroup=cgroup,
        working_set=max(usage - subtract, 0),
        cache=cache,
        inactive_file=inactive_file,
    )


def _blkio(doc: Mapping[str, Any]) -> tuple[int | None, int | None]:
    """Bytes read and written, summed over devices; ``op`` compared case-insensitively.

    cgroup v1 says ``Read``/``Write``, cgroup v2 says ``read``/``write``; a case-sensitive match
    reports zero forever on v2. Every device counts (not only the last one listed).
    """
    entries = doc.get("io_service_bytes_recursive")
    if not isinstance(entries, list):
        return None, None
    read = write = 0
    for e in entries:
        if not isinstance(e, Mapping):
            continue
        op = e.get("op")
        value = _int(e.get("value"))
        if not isinstance(op, str) or value is None:
            continue
        op = op.lower()
        if op == "read":
            read += value
        elif op == "write":
            write += value
    return read, write


def _networks(doc: Any) -> dict[str, NetworkCounters]:
    out: dict[str, NetworkCounters] = {}
    if not isinstance(doc, Mapping):
        return out
    for iface, c in doc.items():
        if not isinstance(c, Mapping):
            continue
        out[str(iface)] = NetworkCounters(*((_int(c.get(f)) or 0) for f in NetworkCounters.FIELDS))
    return out


def parse_container_stats(container_id: str, doc: Any) -> ContainerStats | None:
    """One container's stats, or ``None`` when there are none (``null``, ``{}``, not an object)."""
    if not isinstance(doc, Mapping) or not doc:
        return None
    cpu = _dict(doc.get("cpu_stats"))
    usage = _dict(cpu.get("cpu_usage"))
    precpu = _dict(doc.get("precpu_stats"))
    throttling = _dict(cpu.get("throttling_data"))
    net_rate = _dict(doc.get("network_rate_stats"))
    pids = _dict(doc.get("pids_stats"))
    read_bytes, write_bytes = _blkio(_dict(doc.get("blkio_stats")))
    storage = _dict(doc.get("storage_stats"))
    if "read_size_bytes" in storage or "write_size_bytes" in storage:  # Windows
        read_bytes, write_bytes = _int(storage.get("read_size_bytes")), _int(storage.get("write_size_bytes"))
    name = doc.get("name")
    return ContainerStats(
        container_id=str(doc.get("id") or container_id),
        name=name.lstrip("/") if isinstance(name, str) else None,
        read_ns=parse_rfc3339_ns(doc.get("read")),
        preread_ns=parse_rfc3339_ns(doc.get("preread")),
        cpu_total_ns=_int(usage.get("total_usage")),
        cpu_kernel_ns=_int(usage.get("usage_in_kernelmode")),
        cpu_user_ns=_int(usage.get("usage_in_usermode")),
        precpu_total_ns=_int(_dict(precpu.get("cpu_usage")).get("total_usage")),
        system_cpu_ns=_int(cpu.get("system_cpu_usage")),
        online_cpus=_int(cpu.get("online_cpus")),
        throttled_periods=_int(throttling.get("throttled_periods")),
        throttled_time_ns=_int(throttling.get("throttled_time")),
        memory=_memory(_dict(doc.get("memory_stats"))),
        networks=_networks(doc.get("networks")),
        network_rx_rate=_num(net_rate.get("rx_bytes_per_sec")),
        network_tx_rate=_num(net_rate.get("tx_bytes_per_sec")),
        storage_read_bytes=read_bytes,
        storage_write_bytes=write_bytes,
        pids_current=_int(pids.get("current")),
        pids_limit=_int(pids.get("limit")),
    )


def parse_task_stats(doc: Any) -> dict[str, ContainerStats | None]:
    """``/task/stats``: Docker id → stats (``None`` for a container without stats).

    ECS Managed Instances' ``/tasks/stats`` is an array with one such object per task; its entries are
    merged (Docker ids are unique on a host). A container entry that fails to parse is logged and kept as
    ``None`` rather than failing the task; only a document of another shape is an error.
    """
    if isinstance(doc, list) and all(isinstance(part, Mapping) for part in doc):
        doc = {k: v for part in doc for k, v in part.items()}
    if not isinstance(doc, Mapping):
        raise StatsFormatError(
            f"task stats must be a JSON object keyed by container id (or an array of them), got {type(doc).__name__}"
        )
    out: dict[str, ContainerStats | None] = {}
    for cid, entry in doc.items():
        try:
            out[str(cid)] = parse_container_stats(str(cid), entry)
        except (TypeError, ValueError, AttributeError) as e:  # pragma: no cover - defensive
            _log.debug("ignoring malformed stats of container %s: %s", cid, e)
            out[str(cid)] = None
    return out
