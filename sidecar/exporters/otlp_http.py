"""OTLP/HTTP protobuf sending, optionally SigV4-signed for AWS's OTLP endpoints: shared by the exporters.

The ``otlp`` exporter is this sender under its own name; the ``xray`` and ``cloudwatch`` exporters
build one for their OTLP modes (AWS's ``/v1/traces``, ``/v1/metrics``, ``/v1/logs`` endpoints). It
lives beside the components rather than in one of them so that no exporter imports another.

The batch is serialized once and compressed once; from then on only bytes move. Retries and
queues belong to the pipeline: :meth:`OtlpHttpSender.export` makes one attempt and reports an
:class:`~sidecar.pipeline.exporter.ExportOutcome` following the OTLP/HTTP rules (429, 502, 503
and 504 are retryable and may carry ``Retry-After``; other errors are not).
"""

from __future__ import annotations

import asyncio
import email.utils
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote, urlsplit

import aiohttp
from google.protobuf.message import DecodeError, Message

from sidecar.aws import AwsCredentialsError, AwsSession, session_for
from sidecar.config import ConfigError, setting
from sidecar.config import environment_variables as V
from sidecar.context import SidecarContext
from sidecar.otlp import compression, json_codec
from sidecar.otlp.compression import gzip_bytes
from sidecar.otlp.signals import Signal
from sidecar.pipeline.exporter import Exporter, ExportOutcome

#: RFC 9110 field names (tokens), and what a field value may not contain (control characters but HTAB).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")

#: Status codes the OTLP/HTTP specification calls retryable.
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})

#: Bodies above this size are compressed in a worker thread so the event loop keeps serving: about
#: 4 ms of compression either way (ISA-L level 1 deflates OTLP spans ~6x faster than zlib level 1).
#: Below it, the hand-off to a thread costs more than it saves.
_THREAD_COMPRESS_BYTES = {"isal": 4 << 20, "zlib": 512 << 10}
#: Response bodies are only read for partial-success and error details; cap what we hold.
_MAX_RESPONSE_BYTES = 64 * 1024

#: SigV4 service name → botocore client name, for ``AWS_ENDPOINT_URL_<SERVICE>`` lookup.
_CLIENT_FOR_SERVICE = {"xray": "xray", "logs": "logs", "monitoring": "cloudwatch"}

_REJECTED_FIELD = {
    Signal.TRACES: "rejected_spans",
    Signal.METRICS: "rejected_data_points",
    Signal.LOGS: "rejected_log_records",
}


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date; ``None`` when absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class OtlpHttpSender(Exporter):
    """Sends each batch as one OTLP/HTTP request to ``<endpoint>/v1/<signal>``.

    An :class:`~sidecar.pipeline.exporter.Exporter` itself, so an exporter that composes one hands it
    batches as it would hand them to any exporter; ``name`` labels its counters with the owner's name.
    """

    name = "otlp"

    @dataclass
    class Settings:
        endpoint: str = setting(
            "",
            help="Base URL of the OTLP/HTTP backend; /v1/traces, /v1/metrics, /v1/logs are appended. "
            "May be empty when sigv4_service is set: the AWS endpoint for the region is used.",
            env=V.ECS_OTEL_OTLP_ENDPOINT,
        )
        compression: Literal["gzip", "none"] = setting(
            "gzip", help="Request body compression.", env=V.ECS_OTEL_OTLP_COMPRESSION
        )
        compression_level: int = setting(
            1,
            help="gzip level 1-9; measured on OTLP spans, 1 costs under half the CPU of 6 for ~5 % larger bodies.",
            env=V.ECS_OTEL_OTLP_COMPRESSION_LEVEL,
        )
        headers: dict[str, str] = setting(  # noqa: RUF009 - setting() builds a default_factory
            {},
            help="Extra request headers, k=v,k=v (values may be percent-encoded, as in OTEL_EXPORTER_OTLP_HEADERS).",
            env=V.ECS_OTEL_OTLP_HEADERS,
        )
        timeout: float = setting(
            10.0, help="Seconds for one request, connect included.", env=V.ECS_OTEL_OTLP_TIMEOUT
        )
        sigv4_service: str = setting(
            "",
            help="Sign requests with SigV4 for this AWS service (xray, logs, monitoring); empty: no signing.",
            env=V.ECS_OTEL_OTLP_SIGV4_SERVICE,
        )
        region: str = setting(
            "", help="AWS region for signing; empty: the sidecar's region.", env=V.ECS_OTEL_OTLP_REGION
        )
        max_connections: int = setting(
            8, help="Concurrent connections to the backend.", env=V.ECS_OTEL_OTLP_MAX_CONNECTIONS
        )

        def check(self, key: Callable[[str], str]) -> None:
            """Header names must be HTTP tokens and values free of control characters (RFC 9110).

            Otherwise every export would fail locally, batch after batch; the value itself is
            never shown (headers carry API keys).
            """
            for header, value in self.headers.items():
                if not _TOKEN.fullmatch(header.strip()):
                    raise ConfigError(key("headers"), "header names made of letters, digits and !#$%&'*+-.^_`|~",
                                      header)
                if _BAD_VALUE.search(unquote(value.strip())):
                    raise ConfigError(key("headers"), "header values without control characters (CR, LF, NUL, ...)",
                                      f"a control character in the value of {header.strip()!r}")

    def __init__(self, settings: OtlpHttpSender.Settings, context: SidecarContext) -> None:
        self.settings = settings
        self.context = context
        if not 1 <= settings.compression_level <= 9:
            raise ConfigError(
                "exporters.otlp.compression_level", "an integer from 1 to 9", settings.compression_level
            )
        if settings.timeout <= 0:
            raise ConfigError("exporters.otlp.timeout", "a positive number of seconds", settings.timeout)
        self.aws: AwsSession | None = None
        if settings.sigv4_service:
            self.aws = session_for(settings.region, context, "exporters.otlp.region", " for SigV4 signing")
        self.endpoint = self._base_endpoint()
        self.urls = {s: self.endpoint + s.path for s in Signal}
        self._static_headers = {"Content-Type": "application/x-protobuf", "User-Agent": "ecs-otel-sidecar"}
        if settings.compression == "gzip":
            self._static_headers["Content-Encoding"] = "gzip"
        for k, v in settings.headers.items():
            self._static_headers[k.strip()] = unquote(v.strip())
        self._session: aiohttp.ClientSession | None = None
        self._bytes_sent = context.telemetry.counter(
            "ecs_otel_sidecar_exporter_sent_bytes_total",
            "Request body bytes sent by HTTP exporters (after compression).",
            ("exporter", "signal"),
        )
        self._responses = context.telemetry.counter(
            "ecs_otel_sidecar_exporter_responses_total",
            "HTTP exporter attempts by outcome: a status code, 'timeout' or 'connection_error'.",
            ("exporter", "signal", "status"),
        )

    def destination(self, signal: Signal) -> str:
        return self.urls[signal]

    def _base_endpoint(self) -> str:
        endpoint = self.settings.endpoint.strip()
        service = self.settings.sigv4_service
        if not endpoint and self.aws is not None:
            default = f"https://{service}.{self.aws.region}.amazonaws.com"
            endpoint = self.aws.endpoint_url(_CLIENT_FOR_SERVICE.get(service, service), default)
        if not endpoint:
            raise ConfigError(
                V.ECS_OTEL_OTLP_ENDPOINT,
                "a base URL such as https://collector.example:4318 (exporters.otlp.endpoint)",
            )
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(V.ECS_OTEL_OTLP_ENDPOINT, "an http:// or https:// base URL", endpoint)
        return endpoint.rstrip("/")

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self.settings.max_connections, enable_cleanup_closed=True
                ),
                timeout=aiohttp.ClientTimeout(total=self.settings.timeout),
                auto_decompress=True,
                skip_auto_headers=("Accept-Encoding",),
            )

    async def shutdown(self, deadline: float) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def _compress(self, raw: bytes) -> bytes:
        if self.settings.compression != "gzip":
            return raw
        if len(raw) >= _THREAD_COMPRESS_BYTES[compression.backend()]:
            return await asyncio.to_thread(gzip_bytes, raw, self.settings.compression_level)
        return gzip_bytes(raw, self.settings.compression_level)

    async def export(self, signal: Signal, batch: Message) -> ExportOutcome:
        return await self.send(signal, await self._compress(batch.SerializeToString()))

    async def export_encoded(self, signal: Signal, body: bytes) -> ExportOutcome:
        """Send an already encoded ``Export*ServiceRequest`` (the pipeline queue's fast path).

        The queue holds requests as wire bytes; taking them as they are saves a decode and a
        re-encode per batch, the largest per-span cost left in the sidecar's hot path.
        """
        return await self.send(signal, await self._compress(body))

    async def send(
        self, signal: Signal, body: bytes, extra_headers: dict[str, str] | None = None
    ) -> ExportOutcome:
        """POST an already serialized (and compressed, per settings) body; one attempt."""
        if self._session is None:
            await self.start()
        assert self._session is not None
        url = self.urls[signal]
        headers = self._static_headers if not extra_headers else {**self._static_headers, **extra_headers}
        if self.aws is not None:
            try:
                headers = await self.aws.sign("POST", url, headers, body, self.settings.sigv4_service)
            except AwsCredentialsError as e:
                self._responses.inc(exporter=self.name, signal=signal.value, status="no_credentials")
                return ExportOutcome.retry(str(e))
        try:
            async with self._session.post(url, data=body, headers=headers, allow_redirects=False) as resp:
                status = resp.status
                self._responses.inc(exporter=self.name, signal=signal.value, status=str(status))
                payload = await _read_capped(resp)
                if 200 <= status < 300:
                    self._bytes_sent.inc(len(body), exporter=self.name, signal=signal.value)
                    return self._success(signal, resp.content_type, payload)
                reason = f"HTTP {status} from {url}{_detail(resp.content_type, payload)}"
                if status in RETRYABLE_STATUSES:
                    return ExportOutcome.retry(reason, parse_retry_after(resp.headers.get("Retry-After")))
                return ExportOutcome.fail(reason)
        except TimeoutError:
            self._responses.inc(exporter=self.name, signal=signal.value, status="timeout")
            return ExportOutcome.retry(f"timeout after {self.settings.timeout:g}s posting to {url}")
        except aiohttp.ClientError as e:
            self._responses.inc(exporter=self.name, signal=signal.value, status="connection_error")
            return ExportOutcome.retry(f"{type(e).__name__} posting to {url}: {e}")

    def _success(self, signal: Signal, content_type: str, payload: bytes) -> ExportOutcome:
        if not payload:
            return ExportOutcome.success()
        try:
            if content_type == "application/json":
                response = json_codec.decode(signal.response_type, payload)
            else:
                response = signal.response_type()
                response.ParseFromString(payload)
        except (DecodeError, ValueError):
            return ExportOutcome.success(reason="unparseable success response ignored")
        partial = response.partial_success  # type: ignore[attr-defined]
        rejected = int(getattr(partial, _REJECTED_FIELD[signal]))
        return ExportOutcome.success(rejected=rejected, reason=partial.error_message)


async def _read_capped(resp: aiohttp.ClientResponse) -> bytes:
    """The response body, or its first ``_MAX_RESPONSE_BYTES`` (a hostile backend cannot grow us)."""
    chunks: list[bytes] = []
    size = 0
    while size < _MAX_RESPONSE_BYTES:
        chunk = await resp.content.read(_MAX_RESPONSE_BYTES - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _detail(content_type: str, payload: bytes) -> str:
    """A short, printable excerpt of an error body (a google.rpc.Status or text)."""
    if not payload:
        return ""
    if content_type.startswith("text/") or content_type == "application/json":
        text = payload[:200].decode("utf-8", "replace").strip()
        return f": {text}" if text else ""
    return ""
