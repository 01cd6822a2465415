"""``cloudwatch``: metrics and logs to Amazon CloudWatch, over its OTLP endpoints or its classic APIs.

Metrics (``ECS_OTEL_CLOUDWATCH_MODE``): ``emf`` (default) writes Embedded Metric Format events
with ``PutLogEvents`` (cumulative series become deltas, see :mod:`sidecar.exporters.cloudwatch._internal.delta`);
``otlp`` posts OTLP to ``https://monitoring.<region>.amazonaws.com/v1/metrics`` (SigV4
``monitoring``).

Logs (``ECS_OTEL_CLOUDWATCH_LOGS_MODE``): ``otlp`` (default) posts OTLP to
``https://logs.<region>.amazonaws.com/v1/logs`` (SigV4 ``logs``) with the ``x-aws-log-group`` and
``x-aws-log-stream`` headers; ``api`` writes each record as a log event with ``PutLogEvents``.

Log groups the exporter creates get a retention (30 days unless configured).

Container Insights (``ECS_OTEL_CLOUDWATCH_CONTAINER_INSIGHTS``, EMF mode only): the ``ecs_stats``
metrics of each batch are also written under Container Insights' names, units and dimensions
(:mod:`sidecar.exporters.cloudwatch._internal.container_insights`) to its own log group and stream, with a delta table of its
own. That second output is best effort: it is written only after the regular EMF events were
accepted, and its failures are counted and logged, never retried, because retrying the batch
would write the regular events twice.

Application Signals (``ECS_OTEL_CLOUDWATCH_APPLICATION_SIGNALS``, EMF mode, on by default): the
``Latency``/``Error``/``Fault`` histograms an app records with ``OTEL_AWS_APPLICATION_SIGNALS_ENABLED=true``
leave the regular output and are written as the CloudWatch agent writes them, to
``/aws/application-signals/data`` in namespace ``ApplicationSignals``
(:mod:`sidecar.exporters.cloudwatch._internal.application_signals`), best effort in the same way as
Container Insights.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Literal

from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from sidecar.aws import AwsApi, AwsApiError, session_for
from sidecar.config import ConfigError, setting
from sidecar.config import environment_variables as V
from sidecar.context import SidecarContext
from sidecar.exporters.cloudwatch._internal.application_signals import LOG_GROUP as AS_LOG_GROUP
from sidecar.exporters.cloudwatch._internal.application_signals import LOG_STREAM as AS_LOG_STREAM
from sidecar.exporters.cloudwatch._internal.application_signals import ApplicationSignalsEmf, split
from sidecar.exporters.cloudwatch._internal.batching import Filtered, LogEvent, acceptable
from sidecar.exporters.cloudwatch._internal.container_insights import LOG_GROUP as CI_LOG_GROUP
from sidecar.exporters.cloudwatch._internal.container_insights import LOG_STREAM as CI_LOG_STREAM
from sidecar.exporters.cloudwatch._internal.container_insights import ContainerInsightsEmf
from sidecar.exporters.cloudwatch._internal.delta import CumulativeToDelta
from sidecar.exporters.cloudwatch._internal.emf import EmfBuilder
from sidecar.exporters.cloudwatch._internal.log_records import log_events
from sidecar.exporters.cloudwatch._internal.naming import render
from sidecar.exporters.cloudwatch._internal.stream import RETENTION_DAYS, LogStreamWriter, PutResult
from sidecar.exporters.otlp_http import OtlpHttpSender
from sidecar.otlp.signals import Signal
from sidecar.pipeline.exporter import Exporter, ExportOutcome

#: Batches larger than this (encoded bytes) are translated in a worker thread.
_THREAD_BYTES = 256 * 1024


def _version() -> str:
    """The installed distribution's version, for the ``Telemetry.Agent`` field."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ecs-otel")
    except PackageNotFoundError:
        return "unknown"


class CloudWatchExporter(Exporter):
    name = "cloudwatch"
    signals = frozenset({Signal.METRICS, Signal.LOGS})

    @dataclass
    class Settings:
        mode: Literal["emf", "otlp"] = setting(
            "emf",
            help="Metrics: emf (Embedded Metric Format through PutLogEvents) or otlp (CloudWatch's OTLP endpoint).",
            env=V.ECS_OTEL_CLOUDWATCH_MODE,
        )
        logs_mode: Literal["otlp", "api"] = setting(
            "otlp",
            help="Logs: otlp (CloudWatch Logs' OTLP endpoint) or api (PutLogEvents).",
            env=V.ECS_OTEL_CLOUDWATCH_LOGS_MODE,
        )
        region: str = setting(
            "", help="AWS region; empty: the sidecar's region.", env=V.ECS_OTEL_CLOUDWATCH_REGION
        )
        namespace: str = setting(
            "ECS/OTel", help="EMF metric namespace.", env=V.ECS_OTEL_CLOUDWATCH_NAMESPACE
        )
        metrics_log_group: str = setting(
            "/ecs/{family}/metrics",
            help="EMF log group; {family}, {task_id}, {cluster}, {service}, {container} are filled from the task.",
            env=V.ECS_OTEL_CLOUDWATCH_METRICS_LOG_GROUP,
        )
        metrics_log_stream: str = setting(
            "{task_id}",
            help="EMF log stream (same placeholders).",
            env=V.ECS_OTEL_CLOUDWATCH_METRICS_LOG_STREAM,
        )
        log_group: str = setting(
            "/ecs/{family}",
            help="Log group for log records (both logs modes).",
            env=V.ECS_OTEL_CLOUDWATCH_LOG_GROUP,
        )
        log_stream: str = setting(
            "otel/{task_id}", help="Log stream for log records.", env=V.ECS_OTEL_CLOUDWATCH_LOG_STREAM
        )
        retention_days: int = setting(
            30,
            help="Retention given to log groups the exporter creates (0: never expire). Existing groups keep theirs.",
            env=V.ECS_OTEL_CLOUDWATCH_RETENTION_DAYS,
        )
        resource_dimensions: list[str] = setting(  # noqa: RUF009 - setting() builds a default_factory
            ["service.name"],
            help="EMF: resource attributes added to each point's attributes as dimensions.",
            env=V.ECS_OTEL_CLOUDWATCH_RESOURCE_DIMENSIONS,
        )
        dimension_sets: list[str] = setting(  # noqa: RUF009 - setting() builds a default_factory
            [],
            help="EMF: dimension sets as keys joined by '+' (e.g. service.name+http.route); a set is used when "
            "the point has all its keys. Empty: one set of all the point's dimensions.",
            env=V.ECS_OTEL_CLOUDWATCH_DIMENSION_SETS,
        )
        dimension_rollup: Literal["none", "zero", "single", "zero_and_single"] = setting(
            "none",
            help="EMF: also publish with no dimensions and/or each single dimension (each set is billed as a metric).",
            env=V.ECS_OTEL_CLOUDWATCH_DIMENSION_ROLLUP,
        )
        metric_names: list[str] = setting(  # noqa: RUF009 - setting() builds a default_factory
            [],
            help="EMF: regular expressions; only matching metric names are published (empty: all).",
            env=V.ECS_OTEL_CLOUDWATCH_METRIC_NAMES,
        )
        histogram_format: Literal["values", "statistic_set"] = setting(
            "values",
            help="EMF histograms: Values/Counts (percentiles available) or statistic sets (min/max/sum/count).",
            env=V.ECS_OTEL_CLOUDWATCH_HISTOGRAM_FORMAT,
        )
        max_series: int = setting(
            20_000,
            help="EMF: cumulative series remembered for delta conversion; the least recently seen are forgotten.",
            env=V.ECS_OTEL_CLOUDWATCH_MAX_SERIES,
        )
        logs_format: Literal["json", "body"] = setting(
            "json",
            help="Logs api mode: one JSON object per record (body, severity, trace ids, attributes) or the body alone.",
            env=V.ECS_OTEL_CLOUDWATCH_LOGS_FORMAT,
        )
        container_insights: bool = setting(
            False,
            help="EMF mode: also write the ecs_stats metrics under Container Insights names and dimensions "
            "(namespace ECS/ContainerInsights, log group /aws/ecs/containerinsights/{cluster}/performance). "
            "Leave the cluster's own Container Insights off, or the same metrics are published twice.",
            env=V.ECS_OTEL_CLOUDWATCH_CONTAINER_INSIGHTS,
        )
        application_signals: bool = setting(
            True,
            help="EMF mode: publish the Application Signals metrics apps record (OTEL_AWS_APPLICATION_SIGNALS_ENABLED"
            "=true) as the CloudWatch agent does: log group /aws/application-signals/data, namespace "
            "ApplicationSignals, the agent's dimensions. Off: they go out as ordinary EMF metrics.",
            env=V.ECS_OTEL_CLOUDWATCH_APPLICATION_SIGNALS,
        )
        application_signals_environment: str = setting(
            "",
            help="Application Signals Environment when the app sets no deployment.environment; empty: "
            "ecs:<cluster> (as the CloudWatch agent on ECS).",
            env=V.ECS_OTEL_APPLICATION_SIGNALS_ENVIRONMENT,
        )
        application_signals_max_operations: int = setting(
            500,
            help="Application Signals: operations (and dependency operations) per service published as they are; "
            "later ones fold into AllOtherOperations / AllOtherRemoteOperations (counted).",
            env=V.ECS_OTEL_APPLICATION_SIGNALS_MAX_OPERATIONS,
        )
        application_signals_version_dimension: bool = setting(
            True,
            help="Application Signals: also publish service entries with [Environment, Service, Version] "
            "(Version: the app's service.version), for per-version alarms such as ECS deployment rollback. "
            "Three more metrics per deployed version; not something the CloudWatch agent writes.",
            env=V.ECS_OTEL_APPLICATION_SIGNALS_VERSION_DIMENSION,
        )
        timeout: float = setting(10.0, help="Seconds for one AWS request.", env=V.ECS_OTEL_CLOUDWATCH_TIMEOUT)

    def __init__(self, settings: CloudWatchExporter.Settings, context: SidecarContext) -> None:
        self.settings = settings
        self.context = context
        self.logger = context.logger.getChild("cloudwatch")
        if settings.retention_days and settings.retention_days not in RETENTION_DAYS:
            raise ConfigError(
                V.ECS_OTEL_CLOUDWATCH_RETENTION_DAYS,
                f"0 or one of {', '.join(map(str, sorted(RETENTION_DAYS)))}",
                settings.retention_days,
            )
        ns = settings.namespace
        if not (1 <= len(ns) <= 255 and ns.isascii() and ns.isprintable() and ns.strip() and ns[0] != ":"):
            # CloudWatch's namespace rule; every event would be refused, so refuse the configuration instead.
            raise ConfigError(
                V.ECS_OTEL_CLOUDWATCH_NAMESPACE, "1 to 255 printable ASCII characters, not starting with ':'", ns
            )
        self.aws = session_for(settings.region, context, "exporters.cloudwatch.region")
        task = context.task_attributes
        self.metrics_group = render(
            settings.metrics_log_group, task, "exporters.cloudwatch.metrics_log_group", group=True
        )
        self.metrics_stream = render(
            settings.metrics_log_stream, task, "exporters.cloudwatch.metrics_log_stream", group=False
        )
        self.log_group = render(settings.log_group, task, "exporters.cloudwatch.log_group", group=True)
        self.log_stream = render(settings.log_stream, task, "exporters.cloudwatch.log_stream", group=False)
        self.api = AwsApi("logs", self.aws, logger=self.logger, timeout_s=settings.timeout)
        self.metrics_writer = LogStreamWriter(
            self.api, self.metrics_group, self.metrics_stream, settings.retention_days, self.logger
        )
        self.logs_writer = LogStreamWriter(
            self.api, self.log_group, self.log_stream, settings.retention_days, self.logger
        )
        start_ns = time.time_ns()
        self.delta = CumulativeToDelta(start_ns, settings.max_series)
        self.emf = EmfBuilder(
            namespace=settings.namespace,
            delta=self.delta,
            resource_dimensions=settings.resource_dimensions,
            dimension_sets=[tuple(k for k in s.split("+") if k) for s in settings.dimension_sets],
            rollup=settings.dimension_rollup,
            metric_names=settings.metric_names,
            histogram_format=settings.histogram_format,
        )
        self.insights: ContainerInsightsEmf | None = None
        self.insights_writer: LogStreamWriter | None = None
        if settings.container_insights and settings.mode == "emf":
            self.insights = ContainerInsightsEmf(start_ns, settings.max_series)
            self.insights_writer = LogStreamWriter(
                self.api,
                render(CI_LOG_GROUP, task, "exporters.cloudwatch.container_insights", group=True),
                render(CI_LOG_STREAM, task, "exporters.cloudwatch.container_insights", group=False),
                settings.retention_days,
                self.logger,
            )
        self.app_signals: ApplicationSignalsEmf | None = None
        self.app_signals_writer: LogStreamWriter | None = None
        if settings.application_signals and settings.mode == "emf":
            self.app_signals = ApplicationSignalsEmf(
                start_ns,
                settings.max_series,
                task,
                environment=settings.application_signals_environment,
                max_operations=settings.application_signals_max_operations,
                version_dimension=settings.application_signals_version_dimension,
                agent=f"ecs-otel-sidecar/{_version()}",
            )
            self.app_signals_writer = LogStreamWriter(
                self.api,
                AS_LOG_GROUP,
                render(AS_LOG_STREAM, task, "exporters.cloudwatch.application_signals", group=False),
                settings.retention_days,
                self.logger,
            )
        self.metrics_otlp: OtlpHttpSender | None = None
        self.logs_otlp: OtlpHttpSender | None = None
        if settings.mode == "otlp":
            self.metrics_otlp = self._otlp("monitoring", {})
        if settings.logs_mode == "otlp":
            headers = {"x-aws-log-group": self.log_group, "x-aws-log-stream": self.log_stream}
            self.logs_otlp = self._otlp("logs", headers)
        self._logs_stream_checked = False
        #: Side streams whose last write failed (a warning per streak, an info line on recovery).
        self._failing: set[str] = set()
        self._emf_lock = asyncio.Lock()
        t = context.telemetry
        self._events = t.counter(
            "ecs_otel_sidecar_cloudwatch_log_events_total",
            "Log events (EMF or log records) by stream kind and outcome: sent, rejected, failed, too_old, "
            "too_new, too_large, truncated.",
            ("kind", "outcome"),
        )
        self._calls = t.counter(
            "ecs_otel_sidecar_cloudwatch_put_log_events_calls_total", "PutLogEvents calls made.", ("kind",)
        )
        self._emf_dropped = t.counter(
            "ecs_otel_sidecar_cloudwatch_emf_dropped_total",
            "EMF points or metrics left out because CloudWatch would refuse them, by reason: non_finite, "
            "out_of_range, inconsistent, invalid_point, metric_name, name_conflict, no_dimension_set.",
            ("reason",),
        )
        self._emf_repaired = t.counter(
            "ecs_otel_sidecar_cloudwatch_emf_dimensions_repaired_total",
            "EMF dimensions repaired or left out to be valid, by reason: escaped, cut, empty_value, invalid_name.",
            ("reason",),
        )
        self._baselines = t.counter(
            "ecs_otel_sidecar_cloudwatch_delta_baselines_total",
            "Cumulative points withheld as baselines (series that started before the sidecar).",
        )
        self._evicted = t.counter(
            "ecs_otel_sidecar_cloudwatch_delta_evicted_series_total",
            "Cumulative series forgotten to respect max_series.",
        )
        series = t.gauge(
            "ecs_otel_sidecar_cloudwatch_delta_series", "Cumulative series remembered for deltas."
        )
        t.on_collect(lambda: series.set(len(self.delta) + (len(self.insights.delta) if self.insights else 0)
                                        + (len(self.app_signals.delta) if self.app_signals else 0)))
        self._folded = t.counter(
            "ecs_otel_sidecar_application_signals_folded_points_total",
            "Application Signals points whose operation was folded into AllOtherOperations "
            "(application_signals_max_operations per service reached).",
        )

    def _otlp(self, service: str, headers: dict[str, str]) -> OtlpHttpSender:
        exporter = OtlpHttpSender(
            OtlpHttpSender.Settings(
                sigv4_service=service,
                region=self.aws.region or "",
                timeout=self.settings.timeout,
                headers=headers,
            ),
            self.context,
        )
        exporter.name = self.name
        return exporter

    def destination(self, signal: Signal) -> str:
        otlp = self.metrics_otlp if signal is Signal.METRICS else self.logs_otlp
        if otlp is not None:
            group = "" if signal is Signal.METRICS else f" (log group {self.log_group})"
            return otlp.destination(signal) + group
        if signal is Signal.METRICS:
            return f"EMF to log group {self.metrics_group} ({self.aws.region})"
        return f"log group {self.log_group}, stream {self.log_stream} ({self.aws.region})"

    async def start(self) -> None:
        if self.settings.container_insights and self.insights is None:
            self.logger.warning(
                "container_insights is ignored: Container Insights names need mode=emf (mode is %s)",
                self.settings.mode,
            )
        await self.api.start()
        for otlp in (self.metrics_otlp, self.logs_otlp):
            if otlp is not None:
                await otlp.start()

    async def shutdown(self, deadline: float) -> None:
        for otlp in (self.metrics_otlp, self.logs_otlp):
            if otlp is not None:
                await otlp.shutdown(deadline)
        await self.api.close()

    async def export(self, signal: Signal, batch: Message) -> ExportOutcome:
        if signal is Signal.METRICS:
            if self.metrics_otlp is not None:
                return await self.metrics_otlp.export(signal, batch)
            assert isinstance(batch, ExportMetricsServiceRequest)
            return await self.export_emf(batch)
        if signal is Signal.LOGS:
            if self.logs_otlp is not None:
                await self._ensure_logs_stream()
                return await self.logs_otlp.export(signal, batch)
            assert isinstance(batch, ExportLogsServiceRequest)
            return await self.export_log_events(batch)
        return ExportOutcome.fail(f"cloudwatch does not export {signal.value}")

    async def _ensure_logs_stream(self) -> None:
        """CloudWatch's OTLP logs endpoint needs the group and stream to exist: create them once."""
        if self._logs_stream_checked:
            return
        self._logs_stream_checked = True
        try:
            await self.logs_writer.ensure()
        except AwsApiError as err:
            self.logger.warning(
                "could not create log group %s / stream %s (%s); OTLP logs need them to exist",
                self.log_group,
                self.log_stream,
                err.code,
            )

    async def export_emf(self, batch: ExportMetricsServiceRequest) -> ExportOutcome:
        now_ms = int(time.time() * 1000)
        signals: list[LogEvent] = []
        if self.app_signals is not None:
            batch, selected = split(batch)
            if selected.resource_metrics:
                async with self._emf_lock:
                    folded = self.app_signals.limiter.folded
                    signals = self.app_signals.build(selected, now_ms)
                    self._folded.inc(self.app_signals.limiter.folded - folded)
        builders = [self.emf] + ([self.insights.emf] if self.insights else [])
        deltas = [b.delta for b in builders]
        before = [(b.stats.baselines, d.evicted) for b, d in zip(builders, deltas, strict=True)]
        dropped = [b.stats.dropped.copy() for b in builders]
        repaired = [b.stats.repaired.copy() for b in builders]
        async with self._emf_lock:  # the delta tables are not shared between threads
            if batch.ByteSize() > _THREAD_BYTES:
                events, insights = await asyncio.to_thread(self._build_emf, batch, now_ms)
            else:
                events, insights = self._build_emf(batch, now_ms)
        for b, d, (baselines, evicted) in zip(builders, deltas, before, strict=True):
            self._baselines.inc(b.stats.baselines - baselines)
            self._evicted.inc(d.evicted - evicted)
        for b, was_dropped, was_repaired in zip(builders, dropped, repaired, strict=True):
            for reason, n in (b.stats.dropped - was_dropped).items():
                self._emf_dropped.inc(n, reason=reason)
            for reason, n in (b.stats.repaired - was_repaired).items():
                self._emf_repaired.inc(n, reason=reason)
        outcome = await self._write("metrics", self.metrics_writer, events, now_ms, truncate_large=False)
        if insights and self.insights_writer is not None and not outcome.retryable:
            # After the regular events: a retried batch rebuilds the same deltas (the delta table
            # remembers the points it has seen), so Container Insights loses nothing by waiting.
            await self._write_best_effort("container_insights", "Container Insights", self.insights_writer,
                                          insights, now_ms)
        if signals and self.app_signals_writer is not None and not outcome.retryable:
            await self._write_best_effort("application_signals", "Application Signals", self.app_signals_writer,
                                          signals, now_ms)
        return outcome

    def _build_emf(
        self, batch: ExportMetricsServiceRequest, now_ms: int
    ) -> tuple[list[LogEvent], list[LogEvent]]:
        events = self.emf.build(batch, now_ms)
        insights = self.insights.build(batch, now_ms) if self.insights is not None else []
        return events, insights

    async def _write_best_effort(self, kind: str, label: str, writer: LogStreamWriter | None,
                                 events: list[LogEvent], now_ms: int) -> None:
        """A side stream (Container Insights, Application Signals): counted, never retried.

        One warning per streak of failures (the counters keep the full tally), one line on recovery.
        """
        assert writer is not None
        outcome = await self._write(kind, writer, events, now_ms, truncate_large=False)
        failing = kind in self._failing
        if not outcome.ok and not failing:
            self.logger.warning("%s events not written to %s (counted, not retried): %s", label, writer.group,
                                outcome.reason)
        elif outcome.ok and failing:
            self.logger.info("%s events written to %s again", label, writer.group)
        if outcome.ok:
            self._failing.discard(kind)
        else:
            self._failing.add(kind)

    async def export_log_events(self, batch: ExportLogsServiceRequest) -> ExportOutcome:
        now_ms = int(time.time() * 1000)
        events = list(log_events(batch, self.settings.logs_format))
        return await self._write("logs", self.logs_writer, events, now_ms, truncate_large=True)

    async def _write(
        self, kind: str, writer: LogStreamWriter, events: list[LogEvent], now_ms: int, truncate_large: bool
    ) -> ExportOutcome:
        filtered = Filtered()
        ready = acceptable(events, now_ms, filtered, truncate_large)
        for outcome in ("too_old", "too_new", "too_large", "truncated"):
            self._events.inc(getattr(filtered, outcome), kind=kind, outcome=outcome)
        refused = filtered.too_old + filtered.too_new + filtered.too_large
        if not ready:
            return ExportOutcome.success(rejected=refused if kind == "logs" else 0)
        result: PutResult = await writer.put(ready)
        self._calls.inc(result.calls, kind=kind)
        self._events.inc(result.sent, kind=kind, outcome="sent")
        self._events.inc(result.rejected, kind=kind, outcome="rejected")
        self._events.inc(result.failed, kind=kind, outcome="failed")
        if result.sent == 0 and result.retryable:
            return ExportOutcome.retry(str(result.last_error))
        if result.sent == 0 and result.last_error is not None:
            return ExportOutcome.fail(str(result.last_error))
        # For logs, one event is one item; EMF events carry several points, so only logs report a count.
        lost = refused + result.rejected + result.failed if kind == "logs" else 0
        return ExportOutcome.success(rejected=lost, reason=str(result.last_error or ""))
