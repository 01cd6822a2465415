"""The benchmark stays runnable (tiny run; speed is never asserted) and every contender really correlates."""

from __future__ import annotations

import io
import json

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

import bench.logging_bench as bench


def test_measure_returns_a_row_per_contender_with_ratios() -> None:
    rows = bench.measure(n=50, rounds=1)
    names = [row["name"] for row in rows]
    assert names == [name for name, _ in bench.CONTENDERS]
    for row in rows:
        assert row["records_per_s"] > 0
        assert row["vs_python_json_logger"] is not None and row["vs_stdlib_text"] is not None
    table = bench.to_markdown(rows)
    assert table.count("\n") == len(rows) + 1 and "× python-json-logger" in table


def test_each_contender_writes_the_trace_id(monkeypatch) -> None:
    written: list[str] = []

    class Capture(io.StringIO):
        encoding = "utf-8"

        def write(self, s: str) -> int:
            written.append(s)
            return len(s)

    monkeypatch.setattr(bench, "NullStream", Capture)
    span = TracerProvider().get_tracer("t").start_span("s")
    tid = format(span.get_span_context().trace_id, "032x")
    with trace.use_span(span, end_on_exit=True):
        for name, setup in bench.CONTENDERS:
            written.clear()
            setup()()
            text = "".join(written)
            assert tid in text, name
            assert "user alice checked out basket 1234" in text, name
            if "text" not in name:
                json.loads(text.strip())
