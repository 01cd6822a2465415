"""Application Signals: the CloudWatch agent's half, inside the cloudwatch exporter (EMF mode).

An app with ``OTEL_AWS_APPLICATION_SIGNALS_ENABLED=true`` (ecs_otel's library, or ADOT's) sends
histograms ``Latency``, ``Error`` and ``Fault`` whose points carry ``aws.local.service``,
``aws.span.kind`` and the rest of the ``aws.*`` family. The CloudWatch agent turns them into
Application Signals; this module does the same, in four steps:

1. **select** (:func:`split`): those three metrics, recognised by a point carrying ``aws.span.kind``,
   leave the regular EMF output (they would otherwise be published twice, and billed twice);
2. **normalise** as the agent's ``awsapplicationsignals`` processor does: ``aws.*`` attributes are
   renamed to their dimension names (``Service``, ``Operation``, ``RemoteService``…),
   ``aws.span.kind`` becomes ``Telemetry.Source`` (``ServerSpan``, ``ClientSpan``…), and
   ``Environment`` is resolved (the app's ``deployment.environment``, else the configured
   environment, else ``ecs:<cluster>``, else ``ecs:default``); ECS, platform and telemetry fields are
   added as plain fields;
3. **bound** (:class:`OperationLimiter`): per (Environment, Service), at most ``max_operations``
   operations (and dependency operations) are published as they are, the rest fold into
   ``AllOtherOperations`` / ``AllOtherRemoteOperations`` and are counted. Folding happens after the
   cumulative-to-delta step, then the folded points are merged, so no interval is counted twice;
4. **encode** as EMF in namespace ``ApplicationSignals`` for log group
   ``/aws/application-signals/data``, with the agent's dimension sets per telemetry source and no
   roll-up. The names and sets follow the CloudWatch agent's translator configuration
   ``translator/translate/otel/exporter/awsemf/appsignals_config_generic.yaml`` (aws/amazon-cloudwatch-agent;
   the set used outside Kubernetes, ECS included) and its normaliser
   ``plugins/processors/awsapplicationsignals/internal/normalizer/attributesnormalizer.go``.

``Error`` and ``Fault`` are published as statistic sets (their Sum is the count, their Average the
rate); ``Latency`` with Values/Counts, so percentiles are available.

One addition to the agent's output (on by default, ``version_dimension``): service entries are also
published with ``[Environment, Service, Version]``, ``Version`` being the app's ``service.version``
(which ecs_otel sets to the image tag or the task definition revision). That is what a per-version
fault-rate alarm needs, e.g. the one ECS watches to roll a deployment back
(``examples/deployment-alarm.json``). The agent has no such set; without it a deployment's faults
are diluted in the service's.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    AggregationTemporality,
    HistogramDataPoint,
    Metric,
)

from sidecar.exporters.cloudwatch._internal.batching import LogEvent
from sidecar.exporters.cloudwatch._internal.delta import CumulativeToDelta
from sidecar.exporters.cloudwatch._internal.emf import EmfBuilder
from sidecar.otlp.attributes import to_dict

NAMESPACE = "ApplicationSignals"
LOG_GROUP = "/aws/application-signals/data"
#: One stream per task, as for the other EMF outputs.
LOG_STREAM = "{task_id}"
#: Lower-cased name → the name published. The OpenTelemetry Python SDK lower-cases instrument names
#: (names are case-insensitive in the specification), so ``Latency`` may arrive as ``latency``.
METRIC_NAMES: dict[str, str] = {"latency": "Latency", "error": "Error", "fault": "Fault"}
SPAN_KIND = "aws.span.kind"
OTHER_OPERATIONS = "AllOtherOperations"
OTHER_REMOTE_OPERATIONS = "AllOtherRemoteOperations"
DELTA = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
CUMULATIVE = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE

#: ``aws.*`` metric attribute → the agent's dimension (or field) name.
RENAMES: dict[str, str] = {
    "aws.local.service": "Service",
    "aws.local.operation": "Operation",
    "aws.local.environment": "Environment",
    "aws.remote.service": "RemoteService",
    "aws.remote.operation": "RemoteOperation",
    "aws.remote.environment": "RemoteEnvironment",
    "aws.remote.target": "RemoteResourceIdentifier",
    "aws.remote.resource.identifier": "RemoteResourceIdentifier",
    "aws.remote.resource.type": "RemoteResourceType",
    "aws.remote.db.user": "RemoteDbUser",
    "aws.remote.resource.cfn.primary.identifier": "RemoteResourceCfnPrimaryIdentifier",
}
#: ``aws.span.kind`` → ``Telemetry.Source``.
TELEMETRY_SOURCES: dict[str, str] = {
    "SERVER": "ServerSpan",
    "LOCAL_ROOT": "LocalRootSpan",
    "CLIENT": "ClientSpan",
    "PRODUCER": "ProducerSpan",
    "CONSUMER": "ConsumerSpan",
}
SERVICE_SOURCES = frozenset({"ServerSpan", "LocalRootSpan"})
#: The dimension carrying the resource's ``service.version`` (our addition, see the module doc).
VERSION = "Version"
#: Service entries' extra set: one series per deployed version (three metrics per version).
VERSION_DIMENSION_SET: list[str] = ["Environment", "Service", VERSION]
#: The agent's metric declarations: service entries …
SERVICE_DIMENSION_SETS: list[list[str]] = [
    ["Environment", "Service", "Operation"],
    ["Environment", "Service"],
]
#: … and dependency calls (a set applies only when a point has all its keys).
DEPENDENCY_DIMENSION_SETS: list[list[str]] = [
    ["Environment", "Service", "Operation", "RemoteService", "RemoteOperation", "RemoteResourceIdentifier",
     "RemoteResourceType"],
    ["Environment", "Service", "Operation", "RemoteService", "RemoteOperation"],
    ["Environment", "Service", "RemoteService"],
    ["Environment", "Service", "RemoteService", "RemoteOperation", "RemoteResourceIdentifier", "RemoteResourceType"],
    ["Environment", "Service", "RemoteService", "RemoteOperation"],
    ["Environment", "Service", "RemoteService", "RemoteResourceIdentifier", "RemoteResourceType"],
    ["RemoteService", "RemoteResourceIdentifier", "RemoteResourceType"],
    ["RemoteService"],
]  # fmt: skip
#: Resource attribute → field copied onto every point (the agent's ECS resolver and normaliser).
RESOURCE_FIELDS: dict[str, str] = {
    "aws.ecs.task.family": "ECS.TaskDefinitionFamily",
    "aws.ecs.task.revision": "ECS.TaskDefinitionRevision",
}
#: Length limits the agent applies before publishing (Application Signals SLOs; CloudWatch dimensions).
_MAX_ENVIRONMENT, _MAX_SERVICE, _MAX_VALUE = 259, 255, 1024


def is_application_signals(metric: Metric) -> bool:
    kind = metric.WhichOneof("data")
    if metric.name.lower() not in METRIC_NAMES or kind not in ("histogram", "sum", "gauge"):
        return False
    points = getattr(metric, kind).data_points
    return any(kv.key == SPAN_KIND for p in points[:1] for kv in p.attributes)


def split(request: ExportMetricsServiceRequest) -> tuple[ExportMetricsServiceRequest, ExportMetricsServiceRequest]:
    """(everything else, the Application Signals metrics); the input is not modified."""
    if not any(is_application_signals(m) for rm in request.resource_metrics for sm in rm.scope_metrics
               for m in sm.metrics):  # fmt: skip
        return request, ExportMetricsServiceRequest()
    rest, selected = ExportMetricsServiceRequest(), ExportMetricsServiceRequest()
    for rm in request.resource_metrics:
        for out, keep in ((rest, False), (selected, True)):
            target_rm = None
            for sm in rm.scope_metrics:
                metrics = [m for m in sm.metrics if is_application_signals(m) == keep]
                if not metrics:
                    continue
                if target_rm is None:
                    target_rm = out.resource_metrics.add(schema_url=rm.schema_url)
                    target_rm.resource.CopyFrom(rm.resource)
                target_sm = target_rm.scope_metrics.add(schema_url=sm.schema_url)
                target_sm.scope.CopyFrom(sm.scope)
                target_sm.metrics.extend(metrics)
    return rest, selected


def _cluster(resource: Mapping[str, Any], task: Mapping[str, Any]) -> str:
    """Cluster name from the app's resource (cluster ARN, else task ARN), else the sidecar's own task."""
    for attrs in (resource, task):
        if attrs.get("aws.ecs.cluster.name"):
            return str(attrs["aws.ecs.cluster.name"])
        if attrs.get("aws.ecs.cluster.arn"):
            return str(attrs["aws.ecs.cluster.arn"]).rsplit("/", 1)[-1]
        arn = str(attrs.get("aws.ecs.task.arn") or "")
        if ":task/" in arn:
            parts = arn.split(":task/", 1)[1].split("/")
            if len(parts) == 2:
                return parts[0]
    return ""


def _task_id(resource: Mapping[str, Any], task: Mapping[str, Any]) -> str:
    for attrs in (resource, task):
        if attrs.get("aws.ecs.task.id"):
            return str(attrs["aws.ecs.task.id"])
        arn = str(attrs.get("aws.ecs.task.arn") or "")
        if ":task/" in arn:
            return arn.rsplit("/", 1)[-1]
    return ""


def environment(resource: Mapping[str, Any], configured: str, task: Mapping[str, Any]) -> str:
    """The app's ``deployment.environment[.name]``, else ``configured``, else ``ecs:<cluster>``, else ``ecs:default``."""
    for key in ("deployment.environment.name", "deployment.environment"):
        if resource.get(key):
            return str(resource[key])[:_MAX_ENVIRONMENT]
    if configured:
        return configured[:_MAX_ENVIRONMENT]
    return f"ecs:{_cluster(resource, task) or 'default'}"[:_MAX_ENVIRONMENT]


def _telemetry_sdk(resource: Mapping[str, Any]) -> str:
    """``name,version,language,mode`` as the agent writes ``Telemetry.SDK``."""
    name, version, language, mode = "-", "-", "-", "Manual"

    def clean(value: Any) -> str:
        return str(value).replace(" ", "")

    if resource.get("telemetry.sdk.name"):
        name = clean(resource["telemetry.sdk.name"])
    if resource.get("telemetry.sdk.version"):
        version = clean(resource["telemetry.sdk.version"])
    if resource.get("telemetry.sdk.language"):
        language = clean(resource["telemetry.sdk.language"])
    if resource.get("telemetry.distro.name"):
        name, mode = clean(resource["telemetry.distro.name"]), "Auto"
    distro_version = resource.get("telemetry.distro.version") or resource.get("telemetry.auto.version")
    if distro_version:
        version, mode = clean(distro_version), "Auto"
    return f"{name},{version},{language},{mode}"


def normalise(
    attrs: Mapping[str, Any],
    resource: Mapping[str, Any],
    env: str,
    task: Mapping[str, Any],
    agent: str,
    version: bool = False,
) -> dict[str, str]:
    """One point's attributes as the agent publishes them (dimensions and fields, all strings).

    ``version``: also ``Version`` from the resource's ``service.version`` (when it has one).
    """
    out: dict[str, str] = {}
    for key, value in attrs.items():
        if key == SPAN_KIND:
            out["Telemetry.Source"] = TELEMETRY_SOURCES.get(str(value), "")
            continue
        name = RENAMES.get(key, key)
        text = value if isinstance(value, str) else str(value)
        limit = _MAX_SERVICE if name in ("Service", "RemoteService") else (
            _MAX_ENVIRONMENT if name in ("Environment", "RemoteEnvironment") else _MAX_VALUE)  # fmt: skip
        out[name] = text[:limit]
    out.setdefault("Environment", env)
    if "Service" not in out and resource.get("service.name"):
        out["Service"] = str(resource["service.name"])[:_MAX_SERVICE]
    for key, name in RESOURCE_FIELDS.items():
        if resource.get(key) is not None:
            out[name] = str(resource[key])
    cluster, task_id = _cluster(resource, task), _task_id(resource, task)
    out["PlatformType"] = "AWS::ECS"
    if cluster:
        out["ECS.Cluster"] = cluster
    if task_id:
        out["ECS.TaskId"] = task_id
    out["Telemetry.SDK"] = _telemetry_sdk(resource)
    out["Telemetry.Agent"] = agent
    if version and resource.get("service.version") not in (None, ""):
        out[VERSION] = str(resource["service.version"])[:_MAX_VALUE]
    return out


@dataclass
class OperationLimiter:
    """Per (Environment, Service): the first ``limit`` operations pass, later ones fold; forgotten after ``ttl_s``.

    Service entries are limited on ``Operation``; dependency calls on (Operation, RemoteService,
    RemoteOperation). Entries not seen for ``ttl_s`` expire, so a service that changed its routes
    gets its new operations back (the CloudWatch agent rotates its table for the same reason).
    """

    limit: int = 500
    ttl_s: float = 3600.0
    folded: int = 0
    _seen: dict[tuple[str, str, str], dict[str, float]] = field(default_factory=dict)

    #: Services (environment, service, kind) tracked at once: the names come from clients, so the table of
    #: tables is bounded too; past it, a new service's entries fold until old services expire.
    max_scopes: int = 1000

    def admit(self, scope: tuple[str, str, str], key: str, now: float) -> bool:
        seen = self._seen.get(scope)
        if seen is None:
            if len(self._seen) >= self.max_scopes:
                for old_scope in [sc for sc, entries in self._seen.items()
                                  if all(now - t > self.ttl_s for t in entries.values())]:
                    del self._seen[old_scope]
            if len(self._seen) >= self.max_scopes:
                self.folded += 1
                return False
            seen = self._seen[scope] = {}
        if key in seen:
            seen[key] = now
            return True
        if len(seen) >= self.limit:
            for old in [k for k, t in seen.items() if now - t > self.ttl_s]:
                del seen[old]
        if len(seen) < self.limit:
            seen[key] = now
            return True
        self.folded += 1
        return False

    def apply(self, dims: dict[str, str], now: float) -> dict[str, str]:
        source = dims.get("Telemetry.Source", "")
        service = (dims.get("Environment", ""), dims.get("Service", ""))
        if source in SERVICE_SOURCES:
            if not self.admit((*service, "service"), dims.get("Operation", ""), now):
                return {**dims, "Operation": OTHER_OPERATIONS}
            return dims
        key = "\x00".join((dims.get("Operation", ""), dims.get("RemoteService", ""), dims.get("RemoteOperation", "")))
        if not self.admit((*service, "dependency"), key, now):
            return {**dims, "Operation": OTHER_OPERATIONS, "RemoteOperation": OTHER_REMOTE_OPERATIONS}
        return dims

    def __len__(self) -> int:
        return sum(len(s) for s in self._seen.values())


@dataclass
class _Acc:
    """One merged delta histogram point."""

    start_ns: int
    time_ns: int
    count: float = 0.0
    total: float = 0.0
    lo: float | None = None
    hi: float | None = None
    bounds: tuple[float, ...] = ()
    buckets: list[float] = field(default_factory=list)


class ApplicationSignalsEmf:
    """Application Signals metrics of a batch → EMF events for :data:`LOG_GROUP` (see the module doc)."""

    def __init__(
        self,
        process_start_ns: int,
        max_series: int,
        task: Mapping[str, Any],
        environment: str = "",
        max_operations: int = 500,
        agent: str = "ecs-otel-sidecar",
        version_dimension: bool = True,
    ) -> None:
        self.delta = CumulativeToDelta(process_start_ns, max_series)
        self.task = dict(task)
        self.configured_environment = environment
        self.agent = agent
        self.version_dimension = version_dimension
        self.limiter = OperationLimiter(limit=max(int(max_operations), 1))
        self.baselines = 0
        common = dict(namespace=NAMESPACE, delta=self.delta, resource_dimensions=(),
                      statistic_set_metrics=frozenset({"Error", "Fault"}))  # fmt: skip
        service_sets = SERVICE_DIMENSION_SETS + ([VERSION_DIMENSION_SET] if version_dimension else [])
        self.service_emf = EmfBuilder(dimension_sets=service_sets, **common)  # type: ignore[arg-type]
        self.dependency_emf = EmfBuilder(dimension_sets=DEPENDENCY_DIMENSION_SETS, **common)  # type: ignore[arg-type]

    def build(self, selected: ExportMetricsServiceRequest, now_ms: int) -> list[LogEvent]:
        """EMF events for ``selected`` (the second half of :func:`split`)."""
        if not selected.resource_metrics:
            return []
        now = time.monotonic()
        merged: dict[tuple[Any, ...], _Acc] = {}
        units: dict[str, str] = {}
        for rm in selected.resource_metrics:
            resource = to_dict(rm.resource.attributes)
            env = environment(resource, self.configured_environment, self.task)
            rkey = tuple(sorted((k, repr(v)) for k, v in resource.items()))
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    if metric.WhichOneof("data") != "histogram":
                        continue  # the three are histograms in ADOT's SDKs and ours
                    name = METRIC_NAMES[metric.name.lower()]
                    units.setdefault(name, metric.unit)
                    data = metric.histogram
                    for p in data.data_points:
                        self._merge(merged, name, rkey, resource, env, p,
                                    data.aggregation_temporality == CUMULATIVE, now)  # fmt: skip
        service_req, dependency_req = ExportMetricsServiceRequest(), ExportMetricsServiceRequest()
        outputs: dict[tuple[str, bool], Metric] = {}
        for (name, dims_key), acc in merged.items():
            dims = dict(dims_key)
            is_service = dims.get("Telemetry.Source") in SERVICE_SOURCES
            found = outputs.get((name, is_service))
            if found is not None:
                metric = found
            else:
                req = service_req if is_service else dependency_req
                if not req.resource_metrics:
                    req.resource_metrics.add().scope_metrics.add().scope.name = "ecs_otel.sidecar.application_signals"
                metric = req.resource_metrics[0].scope_metrics[0].metrics.add(name=name, unit=units.get(name, ""))
                metric.histogram.aggregation_temporality = DELTA
                outputs[(name, is_service)] = metric
            q: HistogramDataPoint = metric.histogram.data_points.add(
                start_time_unix_nano=acc.start_ns, time_unix_nano=acc.time_ns, count=round(acc.count),
                sum=acc.total, explicit_bounds=list(acc.bounds), bucket_counts=[round(c) for c in acc.buckets],
            )  # fmt: skip
            if acc.lo is not None and acc.hi is not None:
                q.min, q.max = acc.lo, acc.hi
            q.attributes.extend(KeyValue(key=k, value=AnyValue(string_value=v)) for k, v in sorted(dims.items()))
        events = self.service_emf.build(service_req, now_ms) + self.dependency_emf.build(dependency_req, now_ms)
        events.sort(key=lambda e: e.timestamp_ms)
        return events

    def _merge(
        self,
        merged: dict[tuple[Any, ...], _Acc],
        name: str,
        rkey: Any,
        resource: Mapping[str, Any],
        env: str,
        p: HistogramDataPoint,
        cumulative: bool,
        now: float,
    ) -> None:
        attrs = to_dict(p.attributes)
        bounds = tuple(p.explicit_bounds)
        buckets = [float(c) for c in p.bucket_counts]
        count, total = float(p.count), p.sum
        if cumulative:
            # Delta per *original* series first; folding several series into one comes after.
            key = (rkey, name, tuple(sorted((k, repr(v)) for k, v in attrs.items())), bounds)
            d = self.delta.delta(key, p.start_time_unix_nano, (count, total, *buckets), p.time_unix_nano)
            if d is None:
                self.baselines += 1
                return
            count, total, buckets = d[0], d[1], list(d[2:])
        if count <= 0:
            return
        dims = self.limiter.apply(normalise(attrs, resource, env, self.task, self.agent, self.version_dimension), now)
        mkey = (name, tuple(sorted(dims.items())))
        acc = merged.get(mkey)
        lo = p.min if p.HasField("min") else None
        hi = p.max if p.HasField("max") else None
        if acc is None:
            merged[mkey] = _Acc(p.start_time_unix_nano, p.time_unix_nano, count, total, lo, hi, bounds, buckets)
            return
        acc.count += count
        acc.total += total
        acc.time_ns = max(acc.time_ns, p.time_unix_nano)
        acc.lo = None if acc.lo is None or lo is None else min(acc.lo, lo)
        acc.hi = None if acc.hi is None or hi is None else max(acc.hi, hi)
        if acc.bounds == bounds and len(acc.buckets) == len(buckets):
            acc.buckets = [a + b for a, b in zip(acc.buckets, buckets, strict=True)]
        else:  # different layouts cannot be merged bucket by bucket: keep the statistics only
            acc.bounds, acc.buckets = (), [acc.count]
