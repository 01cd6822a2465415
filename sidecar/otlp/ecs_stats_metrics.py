"""The ECS task-stats metric names, units and kinds: a contract, not a detail of the scraper.

DESIGN.md fixes what these names mean (dashboards carry over from the Collector's
``awsecscontainermetricsreceiver``), and more than one component reads them: the ``ecs_stats``
scraper writes them, the cloudwatch exporter's Container Insights mapping needs each one's kind.
So the table lives here, below both, and neither imports the other.
"""

from __future__ import annotations

#: name → (unit, kind, description). ``kind`` is "gauge" or "counter" (cumulative, monotonic).
METRICS: dict[str, tuple[str, str, str]] = {}


def _declare(prefix: str, suffix: str, unit: str, kind: str, desc: str) -> str:
    name = f"{prefix}.{suffix}"
    METRICS[name] = (unit, kind, desc)
    return name


_NET_UNITS = {"bytes": "By", "packets": "{packet}", "errors": "{error}", "dropped": "{packet}"}

for _p, _who in (("container", "container"), ("ecs.task", "task")):
    _declare(_p, "cpu.usage.total", "ns", "counter", f"CPU time used by the {_who}")
    _declare(_p, "cpu.usage.vcpu", "{vCPU}", "gauge", f"vCPUs in use by the {_who} over the last interval")
    _declare(_p, "cpu.reserved", "{vCPU}", "gauge", f"vCPUs reserved for the {_who} (CPU units / 1024)")
    _declare(_p, "cpu.utilization", "1", "gauge", f"vCPU in use as a fraction of the {_who}'s reservation")
    _declare(_p, "memory.usage", "By", "gauge", f"memory charged to the {_who} (page cache included)")
    _declare(_p, "memory.usage.limit", "By", "gauge", f"hard memory limit of the {_who}")
    _declare(_p, "memory.reserved", "MiB", "gauge", f"memory reserved for the {_who} in its task definition")
    _declare(_p, "memory.utilized", "MiB", "gauge", f"working set of the {_who} (ECS agent rule)")
    _declare(_p, "memory.utilization", "1", "gauge", f"working set as a fraction of the {_who}'s limit")
    for _dir in ("rx", "tx"):
        _declare(_p, f"network.rate.{_dir}", "By/s", "gauge", f"bytes per second ({_dir}) of the {_who}")
        for _what, _unit in _NET_UNITS.items():
            _declare(_p, f"network.io.usage.{_dir}_{_what}", _unit, "counter", f"network {_dir} {_what}")
    _declare(_p, "storage.read_bytes", "By", "counter", f"bytes read from block devices by the {_who}")
    _declare(_p, "storage.write_bytes", "By", "counter", f"bytes written to block devices by the {_who}")
_declare("container", "cpu.usage.kernelmode", "ns", "counter", "CPU time in kernel mode")
_declare("container", "cpu.usage.usermode", "ns", "counter", "CPU time in user mode")
_declare("container", "cpu.onlines", "{cpu}", "gauge", "CPUs visible to the container")
_declare("container", "memory.usage.max", "By", "gauge", "peak memory usage (cgroup v1 only)")
_declare("container", "restarts", "{restart}", "counter", "restarts by the ECS restart policy")
_declare("container", "status", "{container}", "gauge", "1, with the container's known status as attribute")
_declare("ecs.task", "ephemeral_storage.utilized", "MiB", "gauge", "ephemeral storage in use (Fargate)")
_declare("ecs.task", "ephemeral_storage.reserved", "MiB", "gauge", "ephemeral storage reserved (Fargate)")
