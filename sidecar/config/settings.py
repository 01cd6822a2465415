# ruff: noqa: RUF009  (setting() returns a dataclasses.field, which ruff cannot see)
"""The sidecar's own settings: where it listens, what it wires, how much it may hold.

Two tables: ``[sidecar]`` (receivers, status server, wiring, lifecycle, logging) and
``[pipeline]`` (queues, batching, retries, memory). Components have their own tables
(``[exporters.<name>]`` and so on), declared by the components themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ecs_otel._setting import setting
from ecs_otel.logging.formatter import MAX_MAX_BYTES, MIN_MAX_BYTES
from sidecar.config import environment_variables as V

#: A list setting whose only entry is this word means "nothing" (an empty env value means "unset").
NONE_WORD = "none"


@dataclass
class SidecarSettings:
    receiver_host: str = setting(
        "127.0.0.1",
        help="Address the OTLP receivers listen on; `0.0.0.0` for bridge-mode tasks.",
        env=V.ECS_OTEL_RECEIVER_HOST,
    )
    otlp_http_port: int = setting(
        4318, help="OTLP/HTTP receiver port (0 picks a free port).", env=V.ECS_OTEL_OTLP_HTTP_PORT, ge=0, le=65535
    )
    otlp_grpc_port: int = setting(
        4317, help="OTLP/gRPC receiver port (0 picks a free port, -1 disables gRPC).", env=V.ECS_OTEL_OTLP_GRPC_PORT,
        ge=-1, le=65535,
    )
    receiver_token: str | None = setting(
        None,
        help="When set, receivers require `Authorization: Bearer <token>` (401 / UNAUTHENTICATED otherwise).",
        env=V.ECS_OTEL_RECEIVER_TOKEN,
    )
    max_request_bytes: int = setting(
        8 * 1024 * 1024,
        help="Largest request body accepted, counted after decompression (413 / RESOURCE_EXHAUSTED above).",
        env=V.ECS_OTEL_MAX_REQUEST_BYTES, ge=1024,
    )
    header_read_timeout_s: float = setting(
        10.0, help="Seconds an OTLP/HTTP connection has to deliver a request's headers, from opening and from the "
        "end of its previous request (idle keep-alive included); the connection is closed after.",
        env=V.ECS_OTEL_HEADER_READ_TIMEOUT, gt=0,
    )
    body_read_timeout_s: float = setting(
        30.0, help="Seconds to read a whole OTLP/HTTP request body once its headers are in (408 after).",
        env=V.ECS_OTEL_BODY_READ_TIMEOUT, gt=0,
    )
    receiver_max_connections: int = setting(
        256, help="Open OTLP/HTTP connections at most; a new one beyond is answered 503 and closed (counted).",
        env=V.ECS_OTEL_RECEIVER_MAX_CONNECTIONS, ge=1,
    )
    status_host: str = setting("127.0.0.1", help="Address of the status server.", env=V.ECS_OTEL_STATUS_HOST)
    status_port: int = setting(
        13133, help="Status server port: /healthz, /metrics, / (0 picks a free port).", env=V.ECS_OTEL_STATUS_PORT,
        ge=0, le=65535,
    )
    traces_exporters: list[str] = setting(
        [],
        help="Exporters for traces (otlp, xray, debug, file); empty means `otlp` when "
        "ECS_OTEL_OTLP_ENDPOINT is set, else `debug`; `none` means no exporter.",
        env=V.ECS_OTEL_TRACES_EXPORTERS,
    )
    metrics_exporters: list[str] = setting(
        [],
        help="Exporters for metrics (otlp, cloudwatch, prometheus, debug, file); default as for traces.",
        env=V.ECS_OTEL_METRICS_EXPORTERS,
    )
    logs_exporters: list[str] = setting(
        [],
        help="Exporters for logs (otlp, cloudwatch, debug, file); default as for traces.",
        env=V.ECS_OTEL_LOGS_EXPORTERS,
    )
    traces_processors: list[str] = setting(
        ["enrich", "cardinality", "redaction"],
        help="Processor chain for traces, in order (`none` for no processors); on traces `cardinality` only "
        "normalises span names (`GET /users/123` → `GET /users/{id}`). `redaction` goes last so the bytes it "
        "screens are handed to the exporters' queues without a second encoding.",
        env=V.ECS_OTEL_TRACES_PROCESSORS,
    )
    metrics_processors: list[str] = setting(
        ["enrich", "redaction", "cardinality"], help="Processor chain for metrics, in order.",
        env=V.ECS_OTEL_METRICS_PROCESSORS,
    )
    logs_processors: list[str] = setting(
        ["enrich", "redaction"], help="Processor chain for logs, in order.", env=V.ECS_OTEL_LOGS_PROCESSORS
    )
    scrapers: list[str] | None = setting(
        None,
        help="Scrapers to run; unset means `ecs_stats` whenever ECS_CONTAINER_METADATA_URI_V4 is set; "
        "`none` disables them.",
        env=V.ECS_OTEL_SCRAPERS,
    )
    region: str | None = setting(
        None, help="AWS region; else AWS_REGION, AWS_DEFAULT_REGION, then the task ARN's region."
    )
    shutdown_timeout_s: float = setting(
        10.0, help="Seconds to flush all queues on SIGTERM/SIGINT before exiting.", env=V.ECS_OTEL_SHUTDOWN_TIMEOUT,
        gt=0,
    )
    log_level: str = setting(
        "INFO", help="Sidecar log level, optionally per logger: `INFO,botocore=WARNING`.", env=V.ECS_OTEL_LOG_LEVEL
    )
    log_format: Literal["json", "text"] = setting(
        "json", help="Sidecar log format: JSON lines or plain text.", env=V.ECS_OTEL_LOG_FORMAT
    )
    log_max_bytes: int = setting(
        16384, help="Longest log line the sidecar writes (bounds as in the app); longer messages are truncated.",
        env=V.ECS_OTEL_LOG_MAX_BYTES, ge=MIN_MAX_BYTES, le=MAX_MAX_BYTES,
    )
    log_repeat_limit: int = setting(
        10, help="Sidecar log lines of one kind (logger, level, message template) written per "
        "ECS_OTEL_LOG_REPEAT_INTERVAL; the rest are counted (`ecs_otel_sidecar_log_lines_suppressed_total`) and "
        "summarised in one line when the interval ends.", env=V.ECS_OTEL_LOG_REPEAT_LIMIT, ge=1
    )
    log_repeat_interval_s: float = setting(
        60.0, help="Seconds of the sidecar's log repeat-limiting window.", env=V.ECS_OTEL_LOG_REPEAT_INTERVAL, gt=0
    )

    def exporters_for(self, signal: str) -> list[str] | None:
        """The configured exporters; ``None`` when unset (the app then picks the default)."""
        names = getattr(self, f"{signal}_exporters")
        return _without_none(names) if names else None

    def processors_for(self, signal: str) -> list[str]:
        return _without_none(getattr(self, f"{signal}_processors"))


@dataclass
class PipelineSettings:
    queue_max_items: int = setting(
        100_000,
        help="Items (spans, data points, log records) one exporter queue may hold per signal; "
        "more are dropped (reason `queue_full`).",
        env=V.ECS_OTEL_QUEUE_MAX_ITEMS, ge=1,
    )
    queue_max_bytes: int = setting(
        32 * 1024 * 1024,
        help="Encoded bytes one exporter queue may hold per signal; more are dropped (reason `queue_full`).",
        env=V.ECS_OTEL_QUEUE_MAX_BYTES, ge=1,
    )
    batch_max_items: int = setting(
        2048,
        help="An exporter sends as soon as this many items are waiting (2048: ~11 MB less peak RSS "
        "than 8192 for the same CPU per span in bench/sidecar_vs_rotel.py).",
        env=V.ECS_OTEL_BATCH_MAX_ITEMS, ge=1,
    )
    batch_max_bytes: int = setting(
        4 * 1024 * 1024, help="Upper bound on the encoded size of one export.", env=V.ECS_OTEL_BATCH_MAX_BYTES, ge=1
    )
    batch_timeout_s: float = setting(
        1.0, help="Longest an item waits for a batch to fill before it is sent anyway (at most 5).",
        env=V.ECS_OTEL_BATCH_TIMEOUT, gt=0, le=5,
    )
    export_concurrency: int = setting(
        2, help="Exports in flight at once per exporter and signal.", env=V.ECS_OTEL_EXPORT_CONCURRENCY, ge=1
    )
    retry_initial_s: float = setting(
        0.5, help="First retry delay; doubles per attempt with full jitter.", env=V.ECS_OTEL_RETRY_INITIAL, gt=0
    )
    retry_max_interval_s: float = setting(
        30.0, help="Longest delay between two attempts (a backend's Retry-After may ask for more, up to max age).",
        env=V.ECS_OTEL_RETRY_MAX_INTERVAL, gt=0,
    )
    retry_max_age_s: float = setting(
        300.0,
        help="Give up on a batch (reason `expired`) once its oldest item waited this long.",
        env=V.ECS_OTEL_RETRY_MAX_AGE, gt=0,
    )
    memory_limit_mib: int = setting(
        0,
        help="Memory the sidecar may use before receivers answer 429 / RESOURCE_EXHAUSTED; 0 means 80% of the "
        "container limit (cgroup or task metadata), else 256 MiB.",
        env=V.ECS_OTEL_MEMORY_LIMIT_MIB, ge=0,
    )


def _without_none(names: list[str]) -> list[str]:
    if [n.strip().lower() for n in names] == [NONE_WORD]:
        return []
    return list(names)
