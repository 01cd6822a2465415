"""Inside an (emulated) ECS task: task attributes and region at start, enrichment, ecs_stats scraping."""

from __future__ import annotations

from pathlib import Path

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

from tests.sidecar.test_e2e_ingest import send_with_sdk, spans_of_trace
from tests.support.emulator import EmulatorProcess
from tests.support.otlp_sink import SinkProcess


def test_sidecar_in_a_task_enriches_spans_and_scrapes_task_stats(tmp_path: Path, otlp_sink: SinkProcess,
                                                                  sidecar_factory) -> None:  # type: ignore[no-untyped-def]
    emulator = EmulatorProcess(tmp_path, "--scenario", "fargate-cgroupv1")
    try:
        sidecar = sidecar_factory({
            "ECS_CONTAINER_METADATA_URI_V4": emulator.uri,
            "ECS_OTEL_OTLP_ENDPOINT": otlp_sink.url,
            "ECS_OTEL_OTLP_COMPRESSION": "none",
            "ECS_OTEL_STATS_INTERVAL": "1",
            "ECS_OTEL_BATCH_TIMEOUT": "0.2",
        })
        snap = sidecar.status()
        attrs = snap["task_attributes"]
        assert attrs["cloud.platform"] == "aws_ecs"
        arn = attrs["aws.ecs.task.arn"]
        assert snap["region"] == arn.split(":")[3]
        assert snap["pipeline"]["metrics"]["receivers"][-1] == "scraper_ecs_stats"

        trace_id = send_with_sdk(OTLPSpanExporter(endpoint=sidecar.http_url + "/v1/traces"), "shop", ["x"])
        got = spans_of_trace(otlp_sink, trace_id, 2)
        for span in got:
            resource = span["_resource"]
            assert resource["service.name"] == {"stringValue": "shop"}  # the app's own value is kept
            assert resource["aws.ecs.task.arn"] == {"stringValue": arn}
            assert resource["cloud.region"] == {"stringValue": snap["region"]}

        def metric_names(requests: list[dict]) -> set[str]:
            return {m["name"] for r in requests for rm in r["body"].get("resourceMetrics", [])
                    for sm in rm.get("scopeMetrics", []) for m in sm.get("metrics", [])}

        requests = otlp_sink.wait_for("metrics", lambda r: "ecs.task.memory.utilized" in metric_names(r), 30)
        assert "container.cpu.usage.vcpu" in metric_names(requests)
        status, body = sidecar.get("/cardinality")  # the default metrics chain ends with the cardinality processor
        assert status == 200, body
        assert snap["pipeline"]["metrics"]["processors"] == ["enrich", "redaction", "cardinality"]
        m = sidecar.metrics()
        assert m.get_value("ecs_otel_sidecar_receiver_accepted_items_total", receiver="scraper_ecs_stats",
                           signal="metrics") > 0
    finally:
        emulator.stop()
