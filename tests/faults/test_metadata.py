"""The ECS metadata endpoint hangs, fails, talks nonsense, then vanishes: scraping goes on, enrichment stays."""

from __future__ import annotations

from pathlib import Path

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

from tests.faults.secrets import AUTH
from tests.sidecar.test_e2e_ingest import send_with_sdk, spans_of_trace
from tests.support.emulator import EmulatorProcess
from tests.support.otlp_sink import SinkProcess
from tests.support.sidecar import Metrics, SidecarProcess

SCRAPES = "ecs_otel_sidecar_scrapes_total"
ERRORS = "ecs_otel_sidecar_scrape_errors_total"


def errors(m: Metrics, reason: str) -> float:
    return m.total(ERRORS, scraper="ecs_stats", reason=reason)


def assert_enriched(sidecar: SidecarProcess, sink: SinkProcess, arn: str, service: str) -> None:
    exporter = OTLPSpanExporter(endpoint=sidecar.http_url + "/v1/traces", headers=AUTH)
    trace_id = send_with_sdk(exporter, service, ["work"])
    for span in spans_of_trace(sink, trace_id, 2):
        assert span["_resource"]["aws.ecs.task.arn"] == {"stringValue": arn}


def test_metadata_faults_mid_run(tmp_path: Path, otlp_sink: SinkProcess, fault_sidecar) -> None:  # type: ignore[no-untyped-def]
    emulator = EmulatorProcess(tmp_path, "--scenario", "fargate-cgroupv1")
    try:
        sidecar = fault_sidecar({
            "ECS_CONTAINER_METADATA_URI_V4": emulator.uri,
            "ECS_OTEL_OTLP_ENDPOINT": otlp_sink.url,
            "ECS_OTEL_OTLP_COMPRESSION": "none",
            "ECS_OTEL_STATS_INTERVAL": "1",
            "ECS_OTEL_STATS_TIMEOUT": "0.5",
            "ECS_OTEL_BATCH_TIMEOUT": "0.1",
        })
        arn = sidecar.status()["task_attributes"]["aws.ecs.task.arn"]
        m = sidecar.wait_metrics(lambda m: m.get_value(SCRAPES, scraper="ecs_stats", outcome="ok") >= 1)
        for fault, reason in (("500", "http_500"), ("malformed", "malformed"), ("hang", "timeout")):
            before = errors(m, reason)
            emulator.set_fault(fault)
            m = sidecar.wait_metrics(lambda m, r=reason, b=before: errors(m, r) > b, timeout_s=15)
            assert_enriched(sidecar, otlp_sink, arn, f"svc-{fault}")
        emulator.set_fault(None)
        ok_before = m.get_value(SCRAPES, scraper="ecs_stats", outcome="ok")
        metric_requests = len(otlp_sink.received("metrics"))
        sidecar.wait_metrics(lambda m: m.get_value(SCRAPES, scraper="ecs_stats", outcome="ok") > ok_before + 1,
                             timeout_s=15)
        otlp_sink.wait_for("metrics", lambda r: len(r) > metric_requests, timeout_s=15)  # stats flow again
        emulator.stop()  # the endpoint vanishes
        m = sidecar.wait_metrics(lambda m: errors(m, "connection") >= 2, timeout_s=15)
        assert sidecar.proc.poll() is None
        assert sidecar.get("/healthz")[0] == 200
        assert sidecar.status()["task_attributes"]["aws.ecs.task.arn"] == arn
        assert_enriched(sidecar, otlp_sink, arn, "svc-gone")
    finally:
        emulator.stop()
