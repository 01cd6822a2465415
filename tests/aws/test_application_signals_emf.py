"""The cloudwatch exporter's Application Signals output, without AWS: selection, Environment, folding."""

from __future__ import annotations

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality

from sidecar.exporters.cloudwatch._internal.application_signals import (
    OTHER_OPERATIONS,
    ApplicationSignalsEmf,
    environment,
    split,
)
from tests.aws.aws_documents import validate_emf
from tests.aws.emf_schema import validate

START = 2_000_000_000_000_000_000  # after the converter's own start: first points count in full
CLUSTER_ARN = "arn:aws:ecs:us-east-1:123456789012:cluster/prod"


def _request(counts: dict[str, int], t: int) -> ExportMetricsServiceRequest:
    """Cumulative ``latency`` (lower-cased, as the Python SDK sends it) plus one unrelated gauge."""
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    for k, v in {"service.name": "shop", "aws.ecs.cluster.arn": CLUSTER_ARN}.items():
        rm.resource.attributes.append(KeyValue(key=k, value={"string_value": v}))
    sm = rm.scope_metrics.add()
    sm.metrics.add(name="queue.depth").gauge.data_points.add(as_int=3, time_unix_nano=START + t)
    metric = sm.metrics.add(name="latency", unit="ms")
    metric.histogram.aggregation_temporality = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
    for operation, n in counts.items():
        p = metric.histogram.data_points.add(start_time_unix_nano=START, time_unix_nano=START + t, count=n,
                                             sum=10.0 * n, explicit_bounds=[5.0], bucket_counts=[0, n], min=10, max=10)
        for k, v in {"aws.local.service": "shop", "aws.local.operation": operation, "aws.span.kind": "SERVER"}.items():
            p.attributes.append(KeyValue(key=k, value={"string_value": v}))
    return req


def test_split_moves_only_application_signals_metrics() -> None:
    rest, selected = split(_request({"GET /a": 1}, 1))
    assert [m.name for m in rest.resource_metrics[0].scope_metrics[0].metrics] == ["queue.depth"]
    assert [m.name for m in selected.resource_metrics[0].scope_metrics[0].metrics] == ["latency"]


def test_environment_precedence() -> None:
    resource = {"aws.ecs.cluster.arn": CLUSTER_ARN}
    assert environment(resource, "", {}) == "ecs:prod"
    assert environment(resource, "staging", {}) == "staging"
    assert environment({**resource, "deployment.environment": "blue"}, "staging", {}) == "blue"
    assert environment({}, "", {}) == "ecs:default"


def test_operations_beyond_the_limit_fold_after_the_delta_and_add_up() -> None:
    emf = ApplicationSignalsEmf(START - 1, 1000, {}, max_operations=2)
    totals: dict[str, float] = {}
    cumulative = {"GET /a": 0, "GET /b": 0, "GET /c": 0, "GET /d": 0}
    for t in range(1, 4):  # three exports of growing cumulative counts
        for i, op in enumerate(cumulative):
            cumulative[op] += i + 1
        _, selected = split(_request(dict(cumulative), t))
        for event in emf.build(selected, 0):
            validate_emf(event.message)
            doc = validate(event.message)
            assert doc["Environment"] == "ecs:prod" and doc["ECS.Cluster"] == "prod"
            assert doc["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "ApplicationSignals"
            totals[doc["Operation"]] = totals.get(doc["Operation"], 0) + doc["Latency"]["Count"]
    # Two operations kept, the other two folded into one series; every call counted exactly once.
    assert totals == {"GET /a": 3, "GET /b": 6, OTHER_OPERATIONS: 9 + 12}
    assert emf.limiter.folded == 6  # two folded series x three exports


def _versioned(version: str, faults: int, calls: int) -> ExportMetricsServiceRequest:
    """Delta ``Fault`` points of one service entry, from an app whose resource says ``service.version``."""
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    for k, v in {"service.name": "shop", "service.version": version, "aws.ecs.cluster.arn": CLUSTER_ARN}.items():
        rm.resource.attributes.append(KeyValue(key=k, value={"string_value": v}))
    metric = rm.scope_metrics.add().metrics.add(name="Fault")
    metric.histogram.aggregation_temporality = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
    p = metric.histogram.data_points.add(start_time_unix_nano=START, time_unix_nano=START + 1, count=calls,
                                         sum=float(faults), explicit_bounds=[], bucket_counts=[calls], min=0, max=1)
    for k, v in {"aws.local.service": "shop", "aws.local.operation": "GET /a", "aws.span.kind": "SERVER"}.items():
        p.attributes.append(KeyValue(key=k, value={"string_value": v}))
    return req


def test_service_entries_are_also_published_per_version() -> None:
    """Two task definition revisions serving side by side (a rolling deployment): each version's fault
    rate is its own series under [Environment, Service, Version], what a deployment alarm watches."""
    emf = ApplicationSignalsEmf(START - 1, 1000, {})
    docs = []
    for version, faults, calls in (("41", 0, 10), ("42", 3, 4)):
        _, selected = split(_versioned(version, faults, calls))
        for event in emf.build(selected, 0):
            validate_emf(event.message)
            docs.append(validate(event.message))
    by_version = {d["Version"]: d for d in docs}
    assert set(by_version) == {"41", "42"}
    for version, doc in by_version.items():
        assert ["Environment", "Service", "Version"] in doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
        fault = doc["Fault"]
        assert (fault["Sum"], fault["Count"]) == ({"41": (0, 10), "42": (3, 4)}[version])


def test_version_dimension_can_be_turned_off() -> None:
    emf = ApplicationSignalsEmf(START - 1, 1000, {}, version_dimension=False)
    _, selected = split(_versioned("42", 1, 2))
    (event,) = emf.build(selected, 0)
    doc = validate(event.message)
    assert "Version" not in doc
    assert doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Environment", "Service", "Operation"],
                                                                  ["Environment", "Service"]]


def test_services_tracked_are_bounded_and_expire() -> None:
    """Service names come from clients: the per-service tables are bounded as well as their operations."""
    from sidecar.exporters.cloudwatch._internal.application_signals import OperationLimiter

    limiter = OperationLimiter(limit=5, ttl_s=10.0, max_scopes=3)
    for i in range(3):
        assert limiter.admit(("ecs:c", f"svc-{i}", "service"), "GET /", now=0.0)
    assert not limiter.admit(("ecs:c", "svc-new", "service"), "GET /", now=1.0)  # folded, counted
    assert limiter.folded == 1 and len(limiter._seen) == 3
    assert limiter.admit(("ecs:c", "svc-new", "service"), "GET /", now=20.0)  # the old ones expired
    assert len(limiter._seen) == 1
