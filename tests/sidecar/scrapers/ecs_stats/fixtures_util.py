from __future__ import annotations

import copy
import json
from typing import Any

from ecs_otel.metadata import TaskMetadata, parse_task
from sidecar.scrapers.ecs_stats._internal import StatsCalculator, TaskValues, parse_task_stats
from sidecar.scrapers.ecs_stats._internal.otlp import build_request, points
from tests.conftest import FIXTURES

MIB = 1024 * 1024


def load(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def ns(hms_frac: str) -> int:
    """'05:22:49.186680233' → nanoseconds since midnight (for hand-computed intervals)."""
    hms, frac = hms_frac.split(".")
    h, m, s = (int(x) for x in hms.split(":"))
    return ((h * 60 + m) * 60 + s) * 1_000_000_000 + int(frac.ljust(9, "0"))


def compute(task_doc: Any, stats_doc: Any, calc: StatsCalculator | None = None) -> TaskValues:
    calc = calc or StatsCalculator(fallback_start_ns=0)
    return calc.compute(parse_task(task_doc), parse_task_stats(stats_doc), 2_000_000_000_000_000_000, task_doc)


def exported(values: TaskValues) -> dict[tuple[str | None, str], list[Any]]:
    """(container.name or None for the task, metric name) → data points, from the real OTLP request."""
    out: dict[tuple[str | None, str], list[Any]] = {}
    for res, name, dps in points(build_request(values)):
        cname = res.get("container.name", {}).get("stringValue")
        out.setdefault((cname, name), []).extend(dps)
    return out


def value(dp: Any) -> float:
    return dp.as_int if dp.WhichOneof("value") == "as_int" else dp.as_double


def with_ids(task_doc: Any, ids: list[str]) -> Any:
    doc = copy.deepcopy(task_doc)
    for c, i in zip(doc["Containers"], ids, strict=True):
        c["DockerId"] = i
    return doc


__all__ = ["MIB", "TaskMetadata", "compute", "exported", "load", "ns", "value", "with_ids"]
