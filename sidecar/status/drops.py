"""Everything the sidecar gave up on, in one list, read from the self-telemetry.

Every bounded queue, buffer and table counts what it drops in a counter whose name says so
(``…_dropped_…``, ``…_refused_…``, ``…_backpressure_…``, ``…_unrouted_…``).
Reading them by name here means a new component's drop counter shows up on the status page
without the page having to know about it.
"""

from __future__ import annotations

from typing import Any

from sidecar.pipeline.telemetry import Metric, Registry

PREFIX = "ecs_otel_sidecar_"
WORDS = ("dropped", "refused", "backpressure", "unrouted", "evicted", "truncated", "rejected")


def drops_by_reason(telemetry: Registry) -> list[dict[str, Any]]:
    """Non-zero drop counts, largest first, as ``{"counter", "labels", "count"}``."""
    out: list[dict[str, Any]] = []
    for name, metric in telemetry.metrics().items():
        if not (isinstance(metric, Metric) and metric.kind == "counter" and any(w in name for w in WORDS)):
            continue
        short = name.removeprefix(PREFIX).removesuffix("_total")
        for key, value in list(metric.values.items()):
            if value > 0:
                out.append({"counter": short, "labels": dict(zip(metric.labels, key, strict=True)), "count": value})
    out.sort(key=lambda d: (-d["count"], d["counter"], sorted(d["labels"].items())))
    return out
