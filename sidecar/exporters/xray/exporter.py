"""``xray``: traces to AWS X-Ray, as OTLP (default) or as classic segment documents.

``otlp`` posts OTLP/HTTP to ``https://xray.<region>.amazonaws.com/v1/traces`` signed with
SigV4 (service ``xray``; the account needs Transaction Search). ``segments`` translates each
span into a segment document (:mod:`sidecar.exporters.xray._internal.segment`) and calls ``PutTraceSegments``.

Either way, the exporter also runs what the X-Ray daemon used to offer on
``127.0.0.1:ECS_OTEL_XRAY_PROXY_PORT``: the sampling proxy (TCP) and the UDP segment
listener, so services still on an X-Ray SDK can share the sidecar while they migrate.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Literal

from google.protobuf.message import Message
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from sidecar.aws import AwsApi, AwsCredentialsError, session_for
from sidecar.config import ConfigError, setting
from sidecar.config import environment_variables as V
from sidecar.context import SidecarContext
from sidecar.exporters.otlp_http import OtlpHttpSender
from sidecar.exporters.xray._internal import otlp_limits
from sidecar.exporters.xray._internal.daemon import DaemonListener
from sidecar.exporters.xray._internal.proxy import SamplingProxy
from sidecar.exporters.xray._internal.segment import SegmentTranslator
from sidecar.exporters.xray._internal.sender import SegmentSender
from sidecar.otlp.signals import Signal, item_count
from sidecar.pipeline.exporter import Exporter, ExportOutcome


class XRayExporter(Exporter):
    name = "xray"
    signals = frozenset({Signal.TRACES})

    @dataclass
    class Settings:
        mode: Literal["otlp", "segments"] = setting(
            "otlp",
            help="otlp: OTLP/HTTP to X-Ray's OTLP endpoint (needs Transaction Search); "
            "segments: segment documents through PutTraceSegments.",
            env=V.ECS_OTEL_XRAY_MODE,
        )
        region: str = setting("", help="AWS region; empty: the sidecar's region.", env=V.ECS_OTEL_XRAY_REGION)
        indexed_attributes: list[str] = setting(  # noqa: RUF009 - setting() builds a default_factory
            [],
            help="segments mode: span (or resource) attributes sent as searchable annotations; the rest "
            "become metadata.",
            env=V.ECS_OTEL_XRAY_INDEXED_ATTRIBUTES,
        )
        index_all_attributes: bool = setting(
            False,
            help="segments mode: every string/number/bool span attribute becomes an annotation (max 50).",
            env=V.ECS_OTEL_XRAY_INDEX_ALL_ATTRIBUTES,
        )
        invalid_trace_ids: Literal["remap", "drop"] = setting(
            "remap",
            help="segments mode: trace ids whose first 32 bits are not a recent epoch (random W3C ids) are "
            "re-mapped to the time the trace was first seen, or dropped; both are counted.",
            env=V.ECS_OTEL_XRAY_INVALID_TRACE_IDS,
        )
        proxy_port: int = setting(
            2000,
            help="Port of the sampling proxy (TCP) and daemon-protocol listener (UDP); 0 picks a free "
            "port, -1 turns both off.",
            env=V.ECS_OTEL_XRAY_PROXY_PORT,
        )
        proxy_host: str = setting(
            "",
            help="Address the sampling proxy and daemon listener bind; empty: 127.0.0.1, even when "
            "ECS_OTEL_RECEIVER_HOST opens the receivers (they relay to AWS signed with the task role, and the "
            "UDP protocol has no token). Set `0.0.0.0` only for bridge-mode SDKs that need them.",
            env=V.ECS_OTEL_XRAY_PROXY_HOST,
        )
        timeout: float = setting(10.0, help="Seconds for one AWS request.", env=V.ECS_OTEL_XRAY_TIMEOUT)

    def __init__(self, settings: XRayExporter.Settings, context: SidecarContext) -> None:
        self.settings = settings
        self.context = context
        self.logger = context.logger.getChild("xray")
        self.aws = session_for(settings.region, context, "exporters.xray.region")
        try:
            self.api = AwsApi("xray", self.aws, logger=self.logger, timeout_s=settings.timeout)
        except AwsCredentialsError as e:
            raise ConfigError("exporters.xray.region", "an AWS region", str(e)) from None
        self.sender = SegmentSender(self.api)
        self.translator = SegmentTranslator(
            indexed_attributes=frozenset(settings.indexed_attributes),
            index_all_attributes=settings.index_all_attributes,
            invalid_trace_ids=settings.invalid_trace_ids,
        )
        self.otlp: OtlpHttpSender | None = None
        if settings.mode == "otlp":
            self.otlp = OtlpHttpSender(
                OtlpHttpSender.Settings(
                    sigv4_service="xray", region=self.aws.region or "", timeout=settings.timeout, compression="gzip"
                ),
                context,
            )
            self.otlp.name = self.name
        self.proxy = SamplingProxy(self.api, context.telemetry, self.logger)
        self.daemon = DaemonListener(self.sender, context.telemetry, self.logger)
        t = context.telemetry
        self._invalid = t.counter(
            "ecs_otel_sidecar_xray_invalid_trace_ids_total",
            "Spans whose trace id is not X-Ray's epoch format, by action (remapped, dropped).",
            ("action",),
        )
        self._documents = t.counter(
            "ecs_otel_sidecar_xray_documents_total",
            "Segment documents by outcome: sent, trimmed (metadata removed to fit 64 KB), too_large, "
            "rejected (UnprocessedTraceSegments), failed.",
            ("outcome",),
        )
        self._otlp_limits = t.counter(
            "ecs_otel_sidecar_xray_otlp_limits_total",
            "otlp mode: what X-Ray's OTLP endpoint limits cost, by reason: span_trimmed (attributes, events or "
            "links removed to fit 200 KB), span_dropped, resource_trimmed (resource/scope attributes removed to "
            "fit 16 KB), resource_dropped (spans under a resource that could not be made to fit).",
            ("reason",),
        )
        self._otlp_parts = t.counter(
            "ecs_otel_sidecar_xray_otlp_split_requests_total",
            "otlp mode: requests sent for batches that had to be split (over 10,000 spans or 5 MB).",
        )
        self._span_problems = t.counter(
            "ecs_otel_sidecar_xray_span_problems_total",
            "Spans translation had to alter or drop, by reason: invalid_id (dropped: trace id not 16 bytes or "
            "span id not 8), translation_error (dropped: building the document raised), invalid_parent_id "
            "(sent as a segment without parent), invalid_link (that link left out), field_truncated (a string "
            "cut to the segment schema's length limit: URL, user agent, annotation value …).",
            ("reason",),
        )

    def destination(self, signal: Signal) -> str:
        if self.otlp is not None:
            return self.otlp.destination(signal)
        return f"X-Ray PutTraceSegments ({self.aws.region})"

    async def start(self) -> None:
        await self.api.start()
        if self.otlp is not None:
            await self.otlp.start()
        await self._start_listeners()

    async def _start_listeners(self) -> None:
        port = self.settings.proxy_port
        if port < 0:
            return
        # Not ECS_OTEL_RECEIVER_HOST: opening the OTLP receivers must not also open a credentialed relay.
        host = self.settings.proxy_host or "127.0.0.1"
        try:
            bound = await self.proxy.start(host, port)
            await self.daemon.start(host, bound)
        except OSError as e:
            await self.proxy.stop()
            self.logger.warning(
                "X-Ray sampling proxy and daemon listener not started: %s:%d is taken (%s); traces are "
                "unaffected. Set ECS_OTEL_XRAY_PROXY_PORT to move them.",
                host,
                port,
                e.strerror or e,
            )
            return
        self.context.status["xray_proxy"] = {"host": host, "port": bound}
        self.logger.info("X-Ray sampling proxy (TCP) and daemon listener (UDP) on %s:%d", host, bound)

    async def shutdown(self, deadline: float) -> None:
        await self.proxy.stop()
        await self.daemon.stop(deadline)
        if self.otlp is not None:
            await self.otlp.shutdown(deadline)
        await self.api.close()

    async def export(self, signal: Signal, batch: Message) -> ExportOutcome:
        assert isinstance(batch, ExportTraceServiceRequest)
        if self.otlp is not None:
            return await self.export_otlp(signal, batch)
        return await self.export_segments(batch)

    async def export_otlp(self, signal: Signal, batch: ExportTraceServiceRequest) -> ExportOutcome:
        """One or more OTLP calls within X-Ray's endpoint limits (see ``otlp_limits``).

        Parts go out in order. A part refused for good (4xx) costs its own spans only; a retryable failure of
        the first part retries the whole batch (nothing was sent yet); a retryable failure of a later part
        counts the unsent spans as lost rather than retrying parts X-Ray already has.
        """
        assert self.otlp is not None
        if batch.ByteSize() > 1024 * 1024:
            split = await asyncio.to_thread(otlp_limits.split, batch)
        else:
            split = otlp_limits.split(batch)
        rejected, reasons, any_ok, failure = split.dropped_spans, [], False, None
        if split.dropped_spans:
            reasons.append(f"{split.dropped_spans} spans over X-Ray's OTLP limits")
        for i, part in enumerate(split.requests):
            outcome = await self.otlp.export(signal, part)
            if outcome.retryable and i == 0:
                return outcome  # the retried batch is split (and counted) again
            if not outcome.ok:
                failure = outcome
                unsent = split.requests[i:] if outcome.retryable else [part]
                rejected += sum(item_count(Signal.TRACES, p) for p in unsent)
                reasons.append(outcome.reason)
                if outcome.retryable:
                    break
                continue
            any_ok = True
            rejected += outcome.rejected
            if outcome.reason:
                reasons.append(outcome.reason)
        for reason, n in split.counts.items():
            self._otlp_limits.inc(n, reason=reason)
        if len(split.requests) > 1:
            self._otlp_parts.inc(len(split.requests))
        if failure is not None and not any_ok:
            return ExportOutcome.fail("; ".join(reasons))  # every part refused: a failure, as health sees it
        return ExportOutcome.success(rejected=rejected, reason="; ".join(reasons))

    def _problem_counts(self) -> dict[str, int]:
        stats = self.translator.stats
        return {
            "invalid_id": stats.invalid_span_ids_dropped,
            "translation_error": stats.translation_errors,
            "invalid_parent_id": stats.invalid_parent_ids_ignored,
            "invalid_link": stats.invalid_links_skipped,
            "field_truncated": stats.fields_truncated,
        }

    async def export_segments(self, batch: ExportTraceServiceRequest) -> ExportOutcome:
        stats = self.translator.stats
        before = (stats.invalid_trace_ids_remapped, stats.invalid_trace_ids_dropped, stats.documents_trimmed,
                  stats.documents_too_large)  # fmt: skip
        problems_before = self._problem_counts()
        spans = item_count(Signal.TRACES, batch)
        if spans > 500:
            docs = await asyncio.to_thread(self.translator.translate, batch, time.time())
        else:
            docs = self.translator.translate(batch, time.time())
        self._invalid.inc(stats.invalid_trace_ids_remapped - before[0], action="remapped")
        self._invalid.inc(stats.invalid_trace_ids_dropped - before[1], action="dropped")
        self._documents.inc(stats.documents_trimmed - before[2], outcome="trimmed")
        self._documents.inc(stats.documents_too_large - before[3], outcome="too_large")
        for reason, count in self._problem_counts().items():
            self._span_problems.inc(count - problems_before[reason], reason=reason)
        untranslated = spans - len(docs)
        if not docs:
            return ExportOutcome.success(rejected=untranslated, reason="no span could be translated")
        result = await self.sender.send(docs)
        self._documents.inc(result.sent, outcome="sent")
        self._documents.inc(result.rejected, outcome="rejected")
        self._documents.inc(result.failed, outcome="failed")
        if result.sent == 0 and result.retryable:
            return ExportOutcome.retry(str(result.last_error))
        if result.sent == 0 and result.last_error is not None:
            return ExportOutcome.fail(str(result.last_error))
        lost = untranslated + result.rejected + result.failed
        return ExportOutcome.success(rejected=lost, reason=str(result.last_error or ""))
