"""The upstream OTLP backend misbehaves: down past the retry window, slow, or asking to back off."""

from __future__ import annotations

import time
from pathlib import Path

from tests.faults.otlp_client import accounting, delivered, send
from tests.support.otlp_sink import SinkProcess
from tests.support.sidecar import otlp_env


def test_backend_down_longer_than_the_retry_window_then_back(otlp_sink: SinkProcess, fault_sidecar) -> None:  # type: ignore[no-untyped-def]
    sidecar = fault_sidecar(otlp_env(otlp_sink, ECS_OTEL_RETRY_MAX_AGE="1.5"))
    otlp_sink.script([503] * 100_000)  # down
    sent = 0
    for i in range(8):
        assert send(sidecar.http_url, 10, f"down{i}") == 200
        sent += 10
    # Everything sent while the backend is down outlives the retry window and is dropped as expired.
    m = sidecar.wait_metrics(lambda m: accounting(m, "otlp")["dropped"] == sent, timeout_s=30)
    assert m.get_value("ecs_otel_sidecar_exporter_dropped_items_total", exporter="otlp", signal="traces",
                       reason="expired") == sent
    otlp_sink.reset()  # back
    for i in range(5):
        assert send(sidecar.http_url, 10, f"up{i}") == 200
        sent += 10
    m = sidecar.wait_metrics(lambda m: accounting(m, "otlp")["queued"] == 0
                             and accounting(m, "otlp")["received"] == sent, timeout_s=30)
    counts = accounting(m, "otlp")
    at_backend = delivered(otlp_sink, "up") + delivered(otlp_sink, "down")
    assert len(at_backend) == len(set(at_backend)) == counts["exported"] == 50  # no duplicates, no loss
    assert counts["exported"] + counts["dropped"] == sent == counts["received"]
    assert m.get_value("ecs_otel_sidecar_receiver_accepted_items_total", receiver="otlp_http",
                       signal="traces") == sent


def test_slow_backend_does_not_hold_up_a_healthy_exporter(otlp_sink: SinkProcess, fault_sidecar,
                                                          tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out_dir = tmp_path / "file-out"
    sidecar = fault_sidecar(otlp_env(otlp_sink, ECS_OTEL_TRACES_EXPORTERS="otlp,file", ECS_OTEL_FILE_PATH=str(out_dir),
                                     ECS_OTEL_OTLP_TIMEOUT="20"))
    otlp_sink.script([], delay_s=5.0)  # every response takes 5 s
    started = time.monotonic()
    for i in range(6):
        assert send(sidecar.http_url, 10, f"slow{i}") == 200
    # The file exporter delivers everything while the first slow OTLP response is still outstanding.
    m = sidecar.wait_metrics(lambda m: accounting(m, "file")["exported"] == 60, timeout_s=20)
    if time.monotonic() - started < 4.5:
        assert accounting(m, "otlp")["exported"] == 0  # the slow one really was still busy
    assert accounting(m, "file")["dropped"] == 0
    written = "".join(p.read_text() for p in out_dir.rglob("*") if p.is_file())
    assert all(f"slow{i}-9" in written for i in range(6))
    # And the slow one gets there in the end, without dropping anything.
    m = sidecar.wait_metrics(lambda m: accounting(m, "otlp")["exported"] == 60, timeout_s=40)
    assert accounting(m, "otlp")["dropped"] == 0
    assert len(delivered(otlp_sink, "slow")) == 60


def test_429_retry_after_is_honoured(otlp_sink: SinkProcess, fault_sidecar) -> None:  # type: ignore[no-untyped-def]
    sidecar = fault_sidecar(otlp_env(otlp_sink))
    otlp_sink.script([429], retry_after="2")
    started = time.monotonic()
    assert send(sidecar.http_url, 5, "ra") == 200
    otlp_sink.wait_for("traces", lambda r: len(delivered(otlp_sink, "ra")) == 5, timeout_s=20)
    waited = time.monotonic() - started
    # Without the hint the retry would come after at most 0.3 s (ECS_OTEL_RETRY_MAX_INTERVAL).
    assert waited >= 1.9, f"retried after {waited:.2f}s despite Retry-After: 2"
    m = sidecar.metrics()
    assert m.get_value("ecs_otel_sidecar_exporter_send_attempts_total", exporter="otlp", signal="traces",
                       outcome="retryable") == 1
    assert accounting(m, "otlp") == {"received": 5, "exported": 5, "dropped": 0, "queued": 0}
