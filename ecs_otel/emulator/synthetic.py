"""Documents synthesised from the local machine, in the shapes the ECS agent returns.

Stats come from this machine's real counters (psutil), split between the emulated containers by
fixed shares, so CPU nanoseconds, block I/O and memory move the way a real task's do and a
scraper's rates mean something. Network traffic is modelled instead: the host's counters are
mostly loopback, where every byte sent is also received, so they would show identical rx and tx
for every container. Each container gets its own receive and transmit rates (drawn from the seeded
generator) that wobble over time, integrated in closed form so the counters stay monotonic and the
same seed and clock give the same numbers. Memory keys follow cgroup v2 (what current agents
report); every counter is kept monotonic even when the host's would wrap or reset.
"""

from __future__ import annotations

import math
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psutil

_NS = 1_000_000_000
_MIB = 1024 * 1024
_EXTRA_NAMES = ("worker", "cache", "proxy")


@dataclass(frozen=True, slots=True)
class SyntheticTask:
    containers: int = 2
    launch_type: str = "FARGATE"
    region: str = "us-east-1"
    account_id: str = "123456789012"
    cluster: str = "ecs-otel-local"
    family: str = "ecs-otel-demo"
    revision: str = "1"
    service_name: str | None = "ecs-otel-demo"
    task_memory_mib: int = 2048
    task_vcpu: float = 1.0


def _rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


def _names(count: int) -> list[str]:
    names = ["app", "ecs-otel-sidecar"]
    i = 0
    while len(names) < count:
        names.append(f"{_EXTRA_NAMES[i % len(_EXTRA_NAMES)]}-{i // len(_EXTRA_NAMES) + 1}")
        i += 1
    return names[:count]


class _Monotonic:
    """Remembers the last value per key and never goes back (host counters can wrap or reset)."""

    def __init__(self) -> None:
        self._last: dict[str, int] = {}

    def __call__(self, key: str, value: float) -> int:
        v = max(int(value), self._last.get(key, 0))
        self._last[key] = v
        return v


@dataclass(frozen=True, slots=True)
class _Traffic:
    """One direction of one container's traffic: a mean rate with a slow periodic wobble.

    The rate ``mean * (1 + wobble * sin(omega * t + phase))`` never drops below
    ``mean * (1 - wobble) > 0``, so its integral (the byte counter) only grows.
    """

    mean_bytes_per_s: float
    wobble: float
    omega: float
    phase: float
    packet_bytes: float

    def bytes_at(self, t: float) -> float:
        """Bytes moved from 0 to ``t`` seconds: the closed-form integral of the rate."""
        swing = self.wobble / self.omega * (math.cos(self.phase) - math.cos(self.omega * t + self.phase))
        return self.mean_bytes_per_s * (t + swing)

    @classmethod
    def draw(cls, rng: random.Random, low: float, high: float, packet_bytes: float) -> _Traffic:
        return cls(
            mean_bytes_per_s=rng.uniform(low, high),
            wobble=rng.uniform(0.2, 0.6),
            omega=2 * math.pi / rng.uniform(30.0, 120.0),
            phase=rng.uniform(0, 2 * math.pi),
            packet_bytes=packet_bytes * rng.uniform(0.8, 1.2),
        )


class SyntheticSource:
    """A task of ``spec.containers`` containers whose stats follow this machine's counters."""

    def __init__(
        self,
        spec: SyntheticTask | None = None,
        *,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.spec = spec = spec or SyntheticTask()
        if spec.containers < 1:
            raise ValueError("containers must be >= 1")
        rng = rng or random.Random()
        self._lock = threading.Lock()
        self._clock = clock
        self._started = clock()
        self._task_id = uuid.UUID(int=rng.getrandbits(128), version=4).hex
        arn_base = f"arn:aws:ecs:{spec.region}:{spec.account_id}"
        self._task_arn = f"{arn_base}:task/{spec.cluster}/{self._task_id}"
        cluster_arn = f"{arn_base}:cluster/{spec.cluster}"
        fargate = spec.launch_type.upper() == "FARGATE"
        names = _names(spec.containers)
        weights = [1.0 / (i + 1) for i in range(len(names))]
        self._shares = [w / sum(weights) for w in weights]
        per_container_mib = max(spec.task_memory_mib // len(names), 64)
        hostname = socket.gethostname()
        self._containers: list[dict[str, Any]] = []
        for i, name in enumerate(names):
            docker_id = (
                f"{self._task_id}-{rng.randrange(10**9, 10**10)}" if fargate else f"{rng.getrandbits(256):064x}"
            )
            doc: dict[str, Any] = {
                "DockerId": docker_id,
                "Name": name,
                "DockerName": name if fargate else f"ecs-{spec.family}-{spec.revision}-{name}-{rng.getrandbits(64):x}",
                "Image": "public.ecr.aws/docker/library/python:3.11-slim" if i == 0
                else f"{spec.account_id}.dkr.ecr.{spec.region}.amazonaws.com/{name}:1.0.{i}",
                "ImageID": f"sha256:{rng.getrandbits(256):064x}",
                "Labels": {
                    "com.amazonaws.ecs.cluster": cluster_arn if fargate else spec.cluster,
                    "com.amazonaws.ecs.container-name": name,
                    "com.amazonaws.ecs.task-arn": self._task_arn,
                    "com.amazonaws.ecs.task-definition-family": spec.family,
                    "com.amazonaws.ecs.task-definition-version": spec.revision,
                },
                "DesiredStatus": "RUNNING",
                "KnownStatus": "RUNNING",
                "Limits": {"CPU": 0 if fargate else 256, "Memory": per_container_mib},
                "CreatedAt": _rfc3339(self._started),
                "StartedAt": _rfc3339(self._started),
                "Type": "NORMAL",
                "LogDriver": "awslogs",
                "LogOptions": {
                    "awslogs-create-group": "true",
                    "awslogs-group": f"/ecs/{spec.family}",
                    "awslogs-region": spec.region,
                    "awslogs-stream": f"ecs/{name}/{self._task_id}",
                },
                "ContainerARN": f"{arn_base}:container/{spec.cluster}/{self._task_id}/{uuid.UUID(int=rng.getrandbits(128), version=4)}",
                "Networks": [
                    {
                        "NetworkMode": "awsvpc",
                        "IPv4Addresses": ["127.0.0.1"],
                        "AttachmentIndex": 0,
                        "MACAddress": "0a:00:00:00:00:01",
                        "IPv4SubnetCIDRBlock": "127.0.0.0/8",
                        "PrivateDNSName": hostname,
                        "SubnetGatewayIpv4Address": "127.0.0.1/8",
                    }
                ],
            }
            if i == 0:
                doc["RestartCount"] = 0  # the app runs with a restart policy, as the agent reports then
            self._containers.append(doc)
        # An app receives small requests and sends larger responses; the others differ by share.
        self._traffic: dict[str, tuple[_Traffic, _Traffic]] = {}
        for i, doc in enumerate(self._containers):
            scale = 40_000.0 * self._shares[i]
            rx = _Traffic.draw(rng, 0.5 * scale, 1.5 * scale, 600.0)
            tx = _Traffic.draw(rng, 1.0 * scale, 3.0 * scale, 1100.0)
            self._traffic[doc["DockerId"]] = (rx, tx)
        self._task: dict[str, Any] = {
            "Cluster": cluster_arn if fargate else spec.cluster,
            "TaskARN": self._task_arn,
            "Family": spec.family,
            "Revision": spec.revision,
            "DesiredStatus": "RUNNING",
            "KnownStatus": "RUNNING",
            "Limits": {"CPU": spec.task_vcpu, "Memory": spec.task_memory_mib},
            "PullStartedAt": _rfc3339(self._started - 2),
            "PullStoppedAt": _rfc3339(self._started - 1),
            "AvailabilityZone": f"{spec.region}a",
            "LaunchType": spec.launch_type.upper(),
            "Containers": self._containers,
        }
        if spec.service_name:
            self._task["ServiceName"] = spec.service_name
        self._mono = _Monotonic()
        self._previous: dict[str, dict[str, Any]] = {}
        for doc in self._containers:
            self._previous[doc["DockerId"]] = self._sample(doc, self._started)

    # -- DocumentSource ----------------------------------------------------------------------

    def container_ids(self) -> list[str]:
        return [c["DockerId"] for c in self._containers]

    def container(self, container_id: str) -> dict[str, Any] | None:
        return next((c for c in self._containers if c["DockerId"] == container_id), None)

    def container_stats(self, container_id: str) -> dict[str, Any] | None:
        doc = self.container(container_id)
        if doc is None:
            return None
        with self._lock:
            return self._stats(doc, self._clock())

    def task(self) -> dict[str, Any]:
        return self._task

    def task_with_tags(self) -> dict[str, Any]:
        return {**self._task, "TaskTags": {"environment": "local"}, "ContainerInstanceTags": {}}

    def task_stats(self) -> dict[str, Any]:
        now = self._clock()
        with self._lock:
            return {doc["DockerId"]: self._stats(doc, now) for doc in self._containers}

    def tasks(self) -> list[dict[str, Any]] | None:
        return None

    # -- stats -------------------------------------------------------------------------------

    def _sample(self, doc: dict[str, Any], now: float) -> dict[str, Any]:
        """Raw counters for one container at ``now`` (its share of the machine's)."""
        i = self._containers.index(doc)
        share = self._shares[i]
        key = doc["DockerId"]
        m = self._mono
        cpu = psutil.cpu_times()
        elapsed = max(now - self._started, 0.0)
        system_total = sum(cpu)  # every field: what Docker's system_cpu_usage counts
        rx, tx = self._traffic[key]
        rx_bytes, tx_bytes = rx.bytes_at(elapsed), tx.bytes_at(elapsed)
        disk = psutil.disk_io_counters()
        read_bytes = disk.read_bytes if disk else elapsed * 40_960
        write_bytes = disk.write_bytes if disk else elapsed * 81_920
        return {
            "time": now,
            "cpu": {
                "total_usage": m(f"{key}.cpu", (cpu.user + cpu.system) * _NS * share),
                "usage_in_usermode": m(f"{key}.user", cpu.user * _NS * share),
                "usage_in_kernelmode": m(f"{key}.system", cpu.system * _NS * share),
                "system_cpu_usage": m("system", system_total * _NS),
            },
            "net": {
                "rx_bytes": m(f"{key}.rx_bytes", rx_bytes),
                "rx_packets": m(f"{key}.rx_packets", rx_bytes / rx.packet_bytes),
                "rx_errors": 0,
                "rx_dropped": m(f"{key}.rx_dropped", rx_bytes / rx.packet_bytes / 50_000),
                "tx_bytes": m(f"{key}.tx_bytes", tx_bytes),
                "tx_packets": m(f"{key}.tx_packets", tx_bytes / tx.packet_bytes),
                "tx_errors": 0,
                "tx_dropped": 0,
            },
            "blkio": {
                "read": m(f"{key}.read", read_bytes * share),
                "write": m(f"{key}.write", write_bytes * share),
            },
        }

    def _stats(self, doc: dict[str, Any], now: float) -> dict[str, Any]:
        key = doc["DockerId"]
        share = self._shares[self._containers.index(doc)]
        previous = self._previous[key]
        current = self._sample(doc, now)
        self._previous[key] = current
        interval = max(current["time"] - previous["time"], 1e-3)
        limit = int(doc["Limits"]["Memory"]) * _MIB
        vm = psutil.virtual_memory()
        usage = min(int(vm.used * share * 0.05) + 16 * _MIB, int(limit * 0.9))
        anon = int(usage * 0.7)
        file = usage - anon
        online = psutil.cpu_count() or 1

        def cpu_stats(sample: dict[str, Any]) -> dict[str, Any]:
            c = sample["cpu"]
            return {
                "cpu_usage": {
                    "total_usage": c["total_usage"],
                    "usage_in_kernelmode": c["usage_in_kernelmode"],
                    "usage_in_usermode": c["usage_in_usermode"],
                },
                "system_cpu_usage": c["system_cpu_usage"],
                "online_cpus": online,
                "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
            }

        rates = {
            f"{d}_bytes_per_sec": max(current["net"][f"{d}_bytes"] - previous["net"][f"{d}_bytes"], 0) / interval
            for d in ("rx", "tx")
        }
        return {
            "read": _rfc3339(current["time"]),
            "preread": _rfc3339(previous["time"]),
            "pids_stats": {"current": max(1, int(len(psutil.pids()) * share * 0.1)), "limit": 4096},
            "blkio_stats": {
                "io_service_bytes_recursive": [
                    {"major": 259, "minor": 0, "op": "read", "value": current["blkio"]["read"]},
                    {"major": 259, "minor": 0, "op": "write", "value": current["blkio"]["write"]},
                ],
                "io_serviced_recursive": None,
                "io_queue_recursive": None,
                "io_service_time_recursive": None,
                "io_wait_time_recursive": None,
                "io_merged_recursive": None,
                "io_time_recursive": None,
                "sectors_recursive": None,
            },
            "num_procs": 0,
            "storage_stats": {},
            "cpu_stats": cpu_stats(current),
            "precpu_stats": cpu_stats(previous),
            "memory_stats": {
                "usage": usage,
                "stats": {
                    "anon": anon,
                    "file": file,
                    "active_anon": anon // 4,
                    "inactive_anon": anon - anon // 4,
                    "active_file": file // 2,
                    "inactive_file": file - file // 2,
                    "kernel_stack": 512 * 1024,
                    "slab": 1024 * 1024,
                    "sock": 0,
                    "shmem": 0,
                    "file_mapped": file // 3,
                    "pgfault": self._mono(f"{key}.pgfault", (current["time"] - self._started) * 1000 * share),
                    "pgmajfault": self._mono(f"{key}.pgmajfault", (current["time"] - self._started) * share),
                },
                "limit": limit,
            },
            "name": doc["DockerName"],
            "id": key,
            "networks": {"eth1": dict(current["net"])},
            "network_rate_stats": rates,
        }
