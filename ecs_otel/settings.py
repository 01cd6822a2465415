"""Library settings: the environment (plus ``configure(**overrides)``) read once into a frozen value.

Every variable the library reads is declared here with its default and one line of help, so the
settings reference (docs/reference/library.md) is generated from :data:`LIBRARY_SETTINGS` and
:data:`OTEL_SETTINGS` rather than kept in sync by hand. Reading is forgiving: a malformed value is reported once (as a
warning) and replaced by its default, because a typo in a task definition must not stop the app.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

_logger = logging.getLogger("ecs_otel")


@dataclass(frozen=True)
class LibrarySetting:
    """One environment variable the library reads: its name, default (as written in env) and meaning."""

    name: str
    default: str
    help: str


LIBRARY_SETTINGS: tuple[LibrarySetting, ...] = (
    LibrarySetting(
        "ECS_OTEL_METADATA_TIMEOUT",
        "1.0",
        "Seconds: total budget for ECS task metadata requests at start-up (retry included); "
        "import never blocks longer than this. At most 30: a larger value is one warning, then 30.",
    ),
    LibrarySetting(
        "ECS_OTEL_SHUTDOWN_TIMEOUT",
        "5",
        "Seconds: budget to flush traces, metrics and logs on exit or SIGTERM (ECS waits 30 s before SIGKILL).",
    ),
    LibrarySetting(
        "ECS_OTEL_METRIC_CARDINALITY_LIMIT",
        "2000",
        "Distinct attribute sets kept per metric stream in the SDK; measurements for new sets beyond it go to one "
        "series with `otel.metric.overflow=true`.",
    ),
    LibrarySetting(
        "ECS_OTEL_RECEIVER_TOKEN",
        "",
        "When set, sent as `Authorization: Bearer <token>` on every OTLP export (the sidecar's receiver token).",
    ),
    LibrarySetting(
        "ECS_OTEL_SERVICE_NAME_SOURCE",
        "family",
        "Where the default `service.name` comes from when OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES "
        "set none: `family` (task definition family) or `container` (container name); off ECS, the program's name.",
    ),
    LibrarySetting(
        "ECS_OTEL_LOGGING",
        "auto",
        "`auto`: JSON logs on stdout when running on ECS; `true`: always; `false`: leave logging alone.",
    ),
    LibrarySetting(
        "ECS_OTEL_INSTRUMENTATION",
        "true",
        "`false` disables automatic instrumentation (entry-point instrumentors) entirely.",
    ),
    LibrarySetting(
        "ECS_OTEL_RUNTIME_METRICS",
        "true",
        "`false` disables the process.* and GC runtime metrics.",
    ),
    LibrarySetting(
        "ECS_OTEL_XRAY_SAMPLING_ENDPOINT",
        "http://127.0.0.1:2000",
        "Where `OTEL_TRACES_SAMPLER=xray` polls sampling rules and targets (the sidecar's X-Ray proxy, "
        "or an X-Ray-compatible endpoint).",
    ),
    LibrarySetting(
        "ECS_OTEL_XRAY_SAMPLING_INTERVAL",
        "300",
        "Seconds between sampling-rule polls for `OTEL_TRACES_SAMPLER=xray` (targets follow X-Ray's own interval).",
    ),
    # Read by ecs_otel.logging.configure_logging; declared here so the docs reference lists them with the rest.
    LibrarySetting(
        "ECS_OTEL_LOG_LEVEL",
        "",
        "Levels: `INFO`, or per logger `INFO,botocore=WARNING,myapp.db=DEBUG`. Unset: root at INFO unless the app "
        "installed a root handler of its own, in which case levels are left alone.",
    ),
    LibrarySetting(
        "ECS_OTEL_LOG_FORMAT",
        "",
        "`json` or `text`. Unset: `json` on ECS; outside ECS `text` when stdout is a terminal, else `json`.",
    ),
    LibrarySetting(
        "ECS_OTEL_LOG_MAX_BYTES",
        "16384",
        "Longest JSON line, newline included (1024 to 1048576); longer records are cut and marked "
        '`"truncated": true` (the awslogs driver splits lines over 16 KiB).',
    ),
)

OTEL_SETTINGS: tuple[LibrarySetting, ...] = (
    LibrarySetting("OTEL_SDK_DISABLED", "false", "`true` turns the whole library off (no providers, no patches)."),
    LibrarySetting(
        "OTEL_SERVICE_NAME", "", "`service.name`; default from the ECS task (see ECS_OTEL_SERVICE_NAME_SOURCE)."
    ),
    LibrarySetting("OTEL_RESOURCE_ATTRIBUTES", "", "Extra resource attributes `k=v,k2=v2`; they win over detected ones."),
    LibrarySetting("OTEL_TRACES_EXPORTER", "otlp", "`otlp`, `console` or `none`."),
    LibrarySetting("OTEL_METRICS_EXPORTER", "otlp", "`otlp`, `console` or `none`."),
    LibrarySetting(
        "OTEL_LOGS_EXPORTER",
        "none",
        "`otlp`, `console` or `none`. Deviation from the spec's `otlp`: on ECS logs already reach CloudWatch "
        "as JSON on stdout, so exporting them twice is opt-in.",
    ),
    LibrarySetting(
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "http/protobuf",
        "`http/protobuf` or `grpc` (also per signal: OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_PROTOCOL).",
    ),
    LibrarySetting(
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "http://127.0.0.1:4318",
        "Base URL (`/v1/<signal>` appended; gRPC default `http://127.0.0.1:4317`). Per-signal "
        "OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT is used as is.",
    ),
    LibrarySetting("OTEL_EXPORTER_OTLP_HEADERS", "", "`k=v,k2=v2` (URL-encoded values), also per signal."),
    LibrarySetting(
        "OTEL_EXPORTER_OTLP_TIMEOUT",
        "10000",
        "Milliseconds per export, as the specification says (the stock Python exporters read seconds); also per signal.",
    ),
    LibrarySetting("OTEL_EXPORTER_OTLP_COMPRESSION", "none", "`gzip` or `none`, also per signal."),
    LibrarySetting(
        "OTEL_TRACES_SAMPLER",
        "parentbased_always_on",
        "Standard samplers, plus `xray` (X-Ray centralized sampling rules; fallback 1 req/s + 5 %).",
    ),
    LibrarySetting("OTEL_TRACES_SAMPLER_ARG", "", "Ratio for the `traceidratio` samplers."),
    LibrarySetting(
        "OTEL_PROPAGATORS", "tracecontext,baggage,xray", "Propagators; `xray` is the ALB-tolerant X-Ray one."
    ),
    LibrarySetting(
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "", "Comma list of instrumentor entry-point names to skip."
    ),
    LibrarySetting(
        "OTEL_SEMCONV_STABILITY_OPT_IN",
        "http",
        "Set to `http` when unset, so instrumentations emit the stable HTTP semantic conventions.",
    ),
    LibrarySetting("OTEL_BSP_SCHEDULE_DELAY", "5000", "Span batch delay, ms."),
    LibrarySetting("OTEL_BSP_EXPORT_TIMEOUT", "30000", "Span batch export timeout, ms."),
    LibrarySetting("OTEL_BSP_MAX_QUEUE_SIZE", "2048", "Spans held for export; more are dropped."),
    LibrarySetting(
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "512", "Spans per export (at most OTEL_BSP_MAX_QUEUE_SIZE)."
    ),
    LibrarySetting("OTEL_BLRP_SCHEDULE_DELAY", "1000", "Log batch delay, ms."),
    LibrarySetting("OTEL_BLRP_EXPORT_TIMEOUT", "30000", "Log batch export timeout, ms."),
    LibrarySetting("OTEL_BLRP_MAX_QUEUE_SIZE", "2048", "Log records held for export; more are dropped."),
    LibrarySetting(
        "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "512", "Log records per export (at most OTEL_BLRP_MAX_QUEUE_SIZE)."
    ),
    LibrarySetting(
        "OTEL_METRICS_EXEMPLAR_FILTER",
        "always_off",
        "Deviation from the spec's `trace_based`: exemplars cost ~20 % per measurement and the sidecar's "
        "EMF/Prometheus outputs drop them; set `trace_based` to keep them.",
    ),
    LibrarySetting("OTEL_METRIC_EXPORT_INTERVAL", "60000", "Metric export interval, ms."),
    LibrarySetting(
        "OTEL_AWS_APPLICATION_SIGNALS_ENABLED",
        "false",
        "ADOT's switch: `true` records Application Signals RED metrics (`Latency`, `Error`, `Fault`) from every "
        "span, sampled or not, and adds the `aws.local.*`/`aws.remote.*` span attributes; the sidecar's "
        "`cloudwatch` exporter publishes them (see docs/application-signals.md).",
    ),
    LibrarySetting("OTEL_METRIC_EXPORT_TIMEOUT", "30000", "Metric export timeout, ms."),
)

_DEFAULTS = {s.name: s.default for s in (*LIBRARY_SETTINGS, *OTEL_SETTINGS)}

#: Upper bound of ECS_OTEL_METADATA_TIMEOUT, seconds: start-up must not wait minutes on a hanging endpoint.
MAX_METADATA_TIMEOUT_S = 30.0  # the metadata client caps the variable the same way (MAX_TIMEOUT_S)

#: The SDK's numeric tuning variables, each validated on its own: name -> True for a count (whole
#: number >= 1), False for milliseconds (a finite number > 0). The SDK refuses a bad value by raising
#: in the processor's constructor, which turned a whole signal off; here a bad value is one warning
#: and that variable's default, the others keep their values.
TUNING_VARIABLES: dict[str, bool] = {
    "OTEL_BSP_SCHEDULE_DELAY": False,
    "OTEL_BSP_EXPORT_TIMEOUT": False,
    "OTEL_BSP_MAX_QUEUE_SIZE": True,
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": True,
    "OTEL_BLRP_SCHEDULE_DELAY": False,
    "OTEL_BLRP_EXPORT_TIMEOUT": False,
    "OTEL_BLRP_MAX_QUEUE_SIZE": True,
    "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE": True,
    "OTEL_METRIC_EXPORT_INTERVAL": False,
    "OTEL_METRIC_EXPORT_TIMEOUT": False,
}
#: Export timeouts (milliseconds) validated the same way. A bad per-signal value is dropped, so the
#: signal uses OTEL_EXPORTER_OTLP_TIMEOUT (its default, per the specification).
OTLP_TIMEOUT_VARIABLES: tuple[str, ...] = (
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
    "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT",
)
_BATCH_PREFIX = {"traces": "OTEL_BSP", "logs": "OTEL_BLRP"}


def _tuning_value(raw: str, count: bool) -> float:
    """The value of one tuning variable, or ValueError when the specification does not allow it."""
    value = float(int(raw)) if count else float(raw)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(raw)
    return value


def _read_tuning(env: dict[str, str]) -> dict[str, float]:
    """Validate every tuning variable; a bad one is warned about, removed from ``env`` and defaulted.

    Removing it matters for the OTLP timeouts, which the exporters resolve from ``env`` per signal:
    the bad value is then warned about here, once, and never seen again.
    """
    values: dict[str, float] = {}
    for name, count in TUNING_VARIABLES.items():
        raw = env.get(name, "").strip()
        default = float(_DEFAULTS[name])
        if not raw:
            values[name] = default
            continue
        try:
            values[name] = _tuning_value(raw, count)
        except ValueError:
            _warn_bad(name, raw, _DEFAULTS[name])
            env.pop(name, None)
            values[name] = default
    for name in OTLP_TIMEOUT_VARIABLES:
        raw = env.get(name, "").strip()
        if not raw:
            continue
        try:
            _tuning_value(raw, False)
        except ValueError:
            fallback = "OTEL_EXPORTER_OTLP_TIMEOUT" if name != "OTEL_EXPORTER_OTLP_TIMEOUT" else _DEFAULTS[name]
            _warn_bad(name, raw, fallback)
            env.pop(name, None)
    for prefix in _BATCH_PREFIX.values():
        batch, queue = f"{prefix}_MAX_EXPORT_BATCH_SIZE", f"{prefix}_MAX_QUEUE_SIZE"
        if values[batch] > values[queue]:
            if env.get(batch, "").strip():  # the user chose both: say which one gives way
                _logger.warning("ecs_otel: %s=%d is larger than %s=%d; using %d", batch, values[batch], queue,
                                values[queue], values[queue])
            values[batch] = values[queue]
    return values


def _default_tuning() -> dict[str, float]:
    return {name: float(_DEFAULTS[name]) for name in TUNING_VARIABLES}


def _warn_bad(name: str, raw: str, default: str) -> None:
    _logger.warning("ecs_otel: ignoring %s=%r (invalid); using %s", name, raw, default)


def _raw(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    return value if value else _DEFAULTS.get(name, "")


def _float(env: Mapping[str, str], name: str, minimum: float = 0.0) -> float:
    raw = _raw(env, name)
    try:
        value = float(raw)
        if not math.isfinite(value) or value < minimum:
            raise ValueError(raw)
        return value
    except ValueError:
        _warn_bad(name, raw, _DEFAULTS[name])
        return float(_DEFAULTS[name])


def _int(env: Mapping[str, str], name: str, minimum: int = 1) -> int:
    raw = _raw(env, name)
    try:
        value = int(raw)
        if value < minimum:
            raise ValueError(raw)
        return value
    except ValueError:
        _warn_bad(name, raw, _DEFAULTS[name])
        return int(_DEFAULTS[name])


def _metadata_timeout(env: Mapping[str, str]) -> float:
    value = _float(env, "ECS_OTEL_METADATA_TIMEOUT")
    if value > MAX_METADATA_TIMEOUT_S:
        _logger.warning("ecs_otel: ECS_OTEL_METADATA_TIMEOUT=%g is above the %g s limit; using %g",
                        value, MAX_METADATA_TIMEOUT_S, MAX_METADATA_TIMEOUT_S)
        value = MAX_METADATA_TIMEOUT_S
    return value


def _bool(env: Mapping[str, str], name: str) -> bool:
    raw = _raw(env, name).lower()
    if raw in ("true", "1", "yes", "on"):
        return True
    if raw in ("false", "0", "no", "off"):
        return False
    _warn_bad(name, raw, _DEFAULTS[name])
    return _DEFAULTS[name] == "true"


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str:
    raw = _raw(env, name).lower()
    if raw in allowed:
        return raw
    _warn_bad(name, raw, _DEFAULTS[name])
    return _DEFAULTS[name]


def _names(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in _raw(env, name).split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    """What the library will do, decided once at configure time."""

    disabled: bool = False
    service_name: str | None = None
    metadata_timeout_s: float = 1.0
    shutdown_timeout_s: float = 5.0
    metric_cardinality_limit: int = 2000
    receiver_token: str | None = None
    service_name_source: str = "family"
    logging: str = "auto"
    instrumentation: bool = True
    runtime_metrics: bool = True
    traces_exporter: tuple[str, ...] = ("otlp",)
    metrics_exporter: tuple[str, ...] = ("otlp",)
    logs_exporter: tuple[str, ...] = ()
    propagators: tuple[str, ...] = ("tracecontext", "baggage", "xray")
    sampler: str = "parentbased_always_on"
    sampler_arg: str = ""
    disabled_instrumentations: tuple[str, ...] = ()
    xray_sampling_endpoint: str = "http://127.0.0.1:2000"
    xray_sampling_interval_s: float = 300.0
    application_signals: bool = False
    #: Validated TUNING_VARIABLES (numbers); passed to the SDK explicitly so it never reads a bad one itself.
    tuning: Mapping[str, float] = field(default_factory=_default_tuning, compare=False)
    #: The environment as read, minus the tuning variables whose values were refused.
    environ: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    def batch_processor_args(self, signal: str) -> dict[str, Any]:
        """Keyword arguments for ``BatchSpanProcessor`` (``traces``) or ``BatchLogRecordProcessor`` (``logs``)."""
        prefix = _BATCH_PREFIX[signal]
        t = {**_default_tuning(), **self.tuning}
        return {
            "schedule_delay_millis": t[f"{prefix}_SCHEDULE_DELAY"],
            "export_timeout_millis": t[f"{prefix}_EXPORT_TIMEOUT"],
            "max_queue_size": int(t[f"{prefix}_MAX_QUEUE_SIZE"]),
            "max_export_batch_size": int(min(t[f"{prefix}_MAX_EXPORT_BATCH_SIZE"], t[f"{prefix}_MAX_QUEUE_SIZE"])),
        }

    def metric_reader_args(self) -> dict[str, float]:
        """Keyword arguments for ``PeriodicExportingMetricReader``."""
        t = {**_default_tuning(), **self.tuning}
        return {"export_interval_millis": t["OTEL_METRIC_EXPORT_INTERVAL"],
                "export_timeout_millis": t["OTEL_METRIC_EXPORT_TIMEOUT"]}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read the environment, then apply ``overrides`` (field names of this class) on top."""
        env = dict(os.environ if environ is None else environ)
        tuning = _read_tuning(env)

        def exporters(name: str) -> tuple[str, ...]:
            chosen = tuple(n.lower() for n in _names(env, name))
            return tuple(n for n in chosen if n != "none")

        values: dict[str, Any] = {
            "disabled": _raw(env, "OTEL_SDK_DISABLED").lower() == "true",
            "service_name": env.get("OTEL_SERVICE_NAME", "").strip() or None,
            "metadata_timeout_s": _metadata_timeout(env),
            "shutdown_timeout_s": _float(env, "ECS_OTEL_SHUTDOWN_TIMEOUT"),
            "metric_cardinality_limit": _int(env, "ECS_OTEL_METRIC_CARDINALITY_LIMIT"),
            "receiver_token": env.get("ECS_OTEL_RECEIVER_TOKEN", "").strip() or None,
            "service_name_source": _choice(env, "ECS_OTEL_SERVICE_NAME_SOURCE", ("family", "container")),
            "logging": _choice(env, "ECS_OTEL_LOGGING", ("auto", "true", "false")),
            "instrumentation": _bool(env, "ECS_OTEL_INSTRUMENTATION"),
            "runtime_metrics": _bool(env, "ECS_OTEL_RUNTIME_METRICS"),
            "traces_exporter": exporters("OTEL_TRACES_EXPORTER"),
            "metrics_exporter": exporters("OTEL_METRICS_EXPORTER"),
            "logs_exporter": exporters("OTEL_LOGS_EXPORTER"),
            "propagators": tuple(n.lower() for n in _names(env, "OTEL_PROPAGATORS")),
            "sampler": _raw(env, "OTEL_TRACES_SAMPLER").lower(),
            "sampler_arg": env.get("OTEL_TRACES_SAMPLER_ARG", "").strip(),
            "disabled_instrumentations": _names(env, "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"),
            "xray_sampling_endpoint": _raw(env, "ECS_OTEL_XRAY_SAMPLING_ENDPOINT").rstrip("/"),
            "xray_sampling_interval_s": _float(env, "ECS_OTEL_XRAY_SAMPLING_INTERVAL", minimum=1.0),
            "application_signals": _bool(env, "OTEL_AWS_APPLICATION_SIGNALS_ENABLED"),
            "tuning": tuning,
            "environ": env,
        }
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise TypeError(f"unknown ecs_otel setting(s): {', '.join(sorted(unknown))}")
        for key, value in overrides.items():
            if key.endswith("_exporter") or key in ("propagators", "disabled_instrumentations"):
                value = tuple(value.split(",")) if isinstance(value, str) else tuple(value)
                if key.endswith("_exporter"):
                    value = tuple(v for v in value if v and v != "none")
            values[key] = value
        return cls(**values)


def settings_table(settings: tuple[LibrarySetting, ...] = LIBRARY_SETTINGS) -> str:
    """A Markdown table for ``settings`` (``python -c 'from ecs_otel.settings import *; …'``)."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for s in settings:
        default = f"`{s.default}`" if s.default else "(unset)"
        rows.append(f"| `{s.name}` | {default} | {s.help} |")
    return "\n".join(rows)
