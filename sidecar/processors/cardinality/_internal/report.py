"""The cardinality report: which metrics hold the most series, and which attributes drive them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sidecar.processors.cardinality._internal.table import SeriesTable


def attribute_drivers(table: SeriesTable, top: int = 5) -> list[dict[str, Any]]:
    """Attribute keys of a metric's live series ranked by their number of distinct values."""
    values: dict[str, set[str]] = {}
    for desc in table.described.values():
        for k, v in desc:
            s = values.get(k)
            if s is None:
                s = values[k] = set()
            s.add(v)
    ranked = sorted(values.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:top]
    return [{"key": k, "distinct_values": len(v)} for k, v in ranked]


def build_report(
    tables: Iterable[SeriesTable], *, top: int, settings: dict[str, Any], totals: dict[str, Any]
) -> dict[str, Any]:
    tables = list(tables)
    ranked = sorted(tables, key=lambda t: (-len(t.seen), -t.overflow_points, t.name))[:top]
    return {
        **settings,
        **totals,
        "metrics_tracked": len(tables),
        "series_total": sum(len(t.seen) for t in tables),
        "top": [
            {
                "metric": t.name,
                "series": len(t.seen),
                "limit": t.limit,
                "overflowing": t.overflow_points > 0,
                "overflow_points": t.overflow_points,
                "attributes": attribute_drivers(t),
            }
            for t in ranked
        ],
    }
