"""SIGTERM while every export is failing and being retried: exit within the budget, counts logged."""

from __future__ import annotations

import json
import time

from tests.faults.otlp_client import accounting, send
from tests.support.otlp_sink import SinkProcess
from tests.support.sidecar import otlp_env

BUDGET_S = 3.0


def test_sigterm_during_a_retry_storm_exits_in_budget_with_counts(otlp_sink: SinkProcess, fault_sidecar) -> None:  # type: ignore[no-untyped-def]
    sidecar = fault_sidecar(otlp_env(otlp_sink, ECS_OTEL_SHUTDOWN_TIMEOUT=str(BUDGET_S), ECS_OTEL_TRACES_EXPORTERS="otlp",
                                     ECS_OTEL_RETRY_MAX_INTERVAL="1", ECS_OTEL_BATCH_MAX_ITEMS="10"))
    otlp_sink.script([503] * 100_000)
    for i in range(10):
        assert send(sidecar.http_url, 10, f"st{i}") == 200
    sidecar.wait_metrics(lambda m: m.get_value("ecs_otel_sidecar_exporter_retried_items_total", exporter="otlp",
                                               signal="traces") > 0)
    before = accounting(sidecar.metrics(), "otlp")
    assert before["queued"] == 100 and before["exported"] == 0
    started = time.monotonic()
    sidecar.send_signal()
    sidecar.proc.wait(BUDGET_S + 15)  # generous bound on a hang; the check below is the budget
    elapsed = time.monotonic() - started
    code, _, err = sidecar.terminate()
    assert code == 0, err[-3000:]
    assert elapsed < BUDGET_S + 5, f"exit took {elapsed:.1f}s for a {BUDGET_S}s budget"
    records = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    (stopped,) = [r for r in records if r["message"] == "sidecar stopped"]
    (final,) = [c for c in stopped["final_counts"] if c["signal"] == "traces"]
    assert final["received"] == 100 and final["exported"] == 0 and final["queued"] == 0
    assert sum(final["dropped"].values()) == 100 and set(final["dropped"]) == {"shutdown"}
