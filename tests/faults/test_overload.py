"""Three times more data than the backend can take: the sidecar refuses (429) instead of growing."""

from __future__ import annotations

import threading
import time

import psutil

from tests.faults.otlp_client import PROTOBUF, accounting, trace_request
from tests.faults.secrets import AUTH
from tests.sidecar.test_e2e_ingest import post
from tests.support.otlp_sink import SinkProcess
from tests.support.sidecar import otlp_env

SPANS_PER_REQUEST = 100
SPAN_PAYLOAD_BYTES = 16 * 1024
BACKEND_DELAY_S = 0.5
#: What the sidecar can deliver: one batch of BATCH items per backend round trip.
BATCH = 200
CAPACITY_SPANS_S = BATCH / BACKEND_DELAY_S
HEADROOM_MIB = 48
RUN_S = 6.0


def test_sustained_overload_at_three_times_capacity(otlp_sink: SinkProcess, fault_sidecar) -> None:  # type: ignore[no-untyped-def]
    probe = fault_sidecar(otlp_env(otlp_sink))
    baseline_mib = psutil.Process(probe.proc.pid).memory_info().rss / (1 << 20)
    probe.terminate()
    limit_mib = int(baseline_mib) + HEADROOM_MIB
    sidecar = fault_sidecar(otlp_env(
        otlp_sink, ECS_OTEL_MEMORY_LIMIT_MIB=str(limit_mib), ECS_OTEL_QUEUE_MAX_BYTES=str(1 << 30),
        ECS_OTEL_QUEUE_MAX_ITEMS="1000000", ECS_OTEL_BATCH_MAX_ITEMS=str(BATCH), ECS_OTEL_EXPORT_CONCURRENCY="1",
        ECS_OTEL_OTLP_TIMEOUT="30", ECS_OTEL_SHUTDOWN_TIMEOUT="2"))
    otlp_sink.script([], delay_s=BACKEND_DELAY_S)
    proc = psutil.Process(sidecar.proc.pid)
    body = trace_request(SPANS_PER_REQUEST, "ol", SPAN_PAYLOAD_BYTES)
    statuses: list[int] = []
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(0.05)

    def load() -> None:
        interval = SPANS_PER_REQUEST / (3 * CAPACITY_SPANS_S)  # three times what gets out
        next_at = time.monotonic()
        while not stop.is_set():
            statuses.append(post(sidecar.http_url + "/v1/traces", body, PROTOBUF, AUTH)[0])
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))

    threads = [threading.Thread(target=sample), *(threading.Thread(target=load) for _ in range(2))]
    for t in threads:
        t.start()
    try:
        time.sleep(RUN_S)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert sidecar.proc.poll() is None, "sidecar died under overload"
    assert set(statuses) <= {200, 429}, set(statuses)
    assert statuses.count(429) > 0 and statuses.count(200) > 0, statuses
    limit = limit_mib << 20
    # The budget projects RSS growth (sidecar/pipeline/memory.py), so only bodies still being read when the
    # limit is reached can overshoot it.
    assert peak[0] <= limit * 1.02, f"peak RSS {peak[0] >> 20} MiB over the {limit_mib} MiB limit"
    m = sidecar.metrics()
    refused = m.get_value("ecs_otel_sidecar_receiver_refused_items_total", receiver="otlp_http", signal="traces",
                          reason="memory_limit")
    assert refused == statuses.count(429) * SPANS_PER_REQUEST
    counts = accounting(m, "otlp")
    assert counts["received"] == statuses.count(200) * SPANS_PER_REQUEST
    assert sidecar.get("/healthz")[0] == 200
    print(f"baseline {baseline_mib:.0f} MiB, limit {limit_mib} MiB, peak {peak[0] / (1 << 20):.0f} MiB, "
          f"{statuses.count(200)} accepted / {statuses.count(429)} refused requests")
