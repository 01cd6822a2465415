"""Library settings: the environment (plus ``configure(**overrides)``) read once into a frozen value.

Every variable the library reads is declared here once, as a ``setting(default, help=, env=)`` field of
:class:`LibraryVariables`, :class:`LoggingVariables` or :class:`OtelVariables` (the same declaration style as the
sidecar's, from :mod:`ecs_otel._setting`), and named by a constant in :mod:`ecs_otel.environment_variables`.
The settings reference (docs/reference/library.md) is generated from these declarations rather than kept in sync
by hand. Values are parsed with the sidecar's coercion table (``inf``, ``nan`` and out-of-bounds numbers are
refused alike), but the reaction differs: a bad value is reported once, as a warning naming the variable, and
replaced by its default, because a typo in a task definition must not stop the app.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal, get_type_hints

from ecs_otel import environment_variables as V
from ecs_otel._setting import (
    BOUNDS,
    HELP,
    Bounds,
    SettingError,
    coerce,
    env_variables,
    field_default,
    read_environment,
    setting,
)

_logger = logging.getLogger("ecs_otel")


@dataclass(frozen=True)
class LibraryVariables:
    """The library's own ``ECS_OTEL_*`` variables that :meth:`Settings.from_env` reads."""

    metadata_timeout_s: float = setting(
        1.0,
        help="Seconds: total budget for ECS task metadata requests at start-up (retry included); "
        "import never blocks longer than this. At most 30: a larger value is one warning, then 30.",
        env=V.ECS_OTEL_METADATA_TIMEOUT, gt=0,
    )
    shutdown_timeout_s: float = setting(
        5,
        help="Seconds: budget to flush traces, metrics and logs on exit or SIGTERM (ECS waits 30 s before SIGKILL).",
        env=V.ECS_OTEL_SHUTDOWN_TIMEOUT, ge=0,
    )
    metric_cardinality_limit: int = setting(
        2000,
        help="Distinct attribute sets kept per metric stream in the SDK; measurements for new sets beyond it go to one "
        "series with `otel.metric.overflow=true`.",
        env=V.ECS_OTEL_METRIC_CARDINALITY_LIMIT, ge=1,
    )
    receiver_token: str | None = setting(
        None,
        help="When set, sent as `Authorization: Bearer <token>` on every OTLP export (the sidecar's receiver token).",
        env=V.ECS_OTEL_RECEIVER_TOKEN,
    )
    service_name_source: Literal["family", "container"] = setting(
        "family",
        help="Where the default `service.name` comes from when OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES "
        "set none: `family` (task definition family) or `container` (container name); off ECS, the program's name.",
        env=V.ECS_OTEL_SERVICE_NAME_SOURCE,
    )
    logging: Literal["auto", "true", "false"] = setting(
        "auto",
        help="`auto`: JSON logs on stdout when running on ECS; `true`: always; `false`: leave logging alone.",
        env=V.ECS_OTEL_LOGGING,
    )
    instrumentation: bool = setting(
        True,
        help="`false` disables automatic instrumentation (entry-point instrumentors) entirely.",
        env=V.ECS_OTEL_INSTRUMENTATION,
    )
    runtime_metrics: bool = setting(
        True,
        help="`false` disables the process.* and GC runtime metrics.",
        env=V.ECS_OTEL_RUNTIME_METRICS,
    )
    xray_sampling_endpoint: str = setting(
        "http://127.0.0.1:2000",
        help="Where `OTEL_TRACES_SAMPLER=xray` polls sampling rules and targets (the sidecar's X-Ray proxy, "
        "or an X-Ray-compatible endpoint).",
        env=V.ECS_OTEL_XRAY_SAMPLING_ENDPOINT,
    )
    xray_sampling_interval_s: float = setting(
        300,
        help="Seconds between sampling-rule polls for `OTEL_TRACES_SAMPLER=xray` (targets follow X-Ray's own interval).",
        env=V.ECS_OTEL_XRAY_SAMPLING_INTERVAL, ge=1,
    )


@dataclass(frozen=True)
class LoggingVariables:
    """The logging variables, read by :func:`ecs_otel.logging.configure_logging` (declared here so the
    reference lists them with the rest)."""

    log_level: str | None = setting(
        None,
        help="Levels: `INFO`, or per logger `INFO,botocore=WARNING,myapp.db=DEBUG`. Unset: root at INFO unless the app "
        "installed a root handler of its own, in which case levels are left alone.",
        env=V.ECS_OTEL_LOG_LEVEL,
    )
    log_format: Literal["json", "text"] | None = setting(
        None,
        help="`json` or `text`. Unset: `json` on ECS; outside ECS `text` when stdout is a terminal, else `json`.",
        env=V.ECS_OTEL_LOG_FORMAT,
    )
    log_max_bytes: int = setting(
        16384,
        help="Longest JSON line, newline included (1024 to 1048576); longer records are cut and marked "
        '`"truncated": true` (the awslogs driver splits lines over 16 KiB).',
        env=V.ECS_OTEL_LOG_MAX_BYTES, ge=1024, le=1048576,
    )


def _per_signal(signal: str, general: str, *, gt: float | None = None) -> Any:
    """The declaration of ``general``'s form for ``signal`` alone (``OTEL_EXPORTER_OTLP_<SIGNAL>_<OPTION>``):
    the same form and bounds, no default of its own."""
    return setting(
        None,
        help=f"As {general}, for {signal} alone; unset (or invalid: one warning), {general} applies.",
        env=general.replace("_OTLP_", f"_OTLP_{signal.upper()}_"), gt=gt,
    )


@dataclass(frozen=True)
class OtelVariables:
    """The OpenTelemetry specification's variables the library honours (and the defaults it gives them)."""

    sdk_disabled: str = setting(
        "false",
        help="`true` turns the whole library off (no providers, no patches).",
        env=V.OTEL_SDK_DISABLED,
    )
    service_name: str = setting(
        "",
        help="`service.name`; default from the ECS task (see ECS_OTEL_SERVICE_NAME_SOURCE).",
        env=V.OTEL_SERVICE_NAME,
    )
    resource_attributes: str = setting(
        "",
        help="Extra resource attributes `k=v,k2=v2`; they win over detected ones.",
        env=V.OTEL_RESOURCE_ATTRIBUTES,
    )
    traces_exporter: str = setting(
        "otlp",
        help="`otlp`, `console` or `none`.",
        env=V.OTEL_TRACES_EXPORTER,
    )
    metrics_exporter: str = setting(
        "otlp",
        help="`otlp`, `console` or `none`.",
        env=V.OTEL_METRICS_EXPORTER,
    )
    logs_exporter: str = setting(
        "none",
        help="`otlp`, `console` or `none`. Deviation from the spec's `otlp`: on ECS logs already reach CloudWatch "
        "as JSON on stdout, so exporting them twice is opt-in.",
        env=V.OTEL_LOGS_EXPORTER,
    )
    exporter_otlp_protocol: Literal["http/protobuf", "grpc"] = setting(
        "http/protobuf",
        help="`http/protobuf` or `grpc`, also per signal (below).",
        env=V.OTEL_EXPORTER_OTLP_PROTOCOL,
    )
    exporter_otlp_traces_protocol: Literal["http/protobuf", "grpc"] | None = _per_signal("traces", V.OTEL_EXPORTER_OTLP_PROTOCOL)
    exporter_otlp_metrics_protocol: Literal["http/protobuf", "grpc"] | None = _per_signal("metrics", V.OTEL_EXPORTER_OTLP_PROTOCOL)
    exporter_otlp_logs_protocol: Literal["http/protobuf", "grpc"] | None = _per_signal("logs", V.OTEL_EXPORTER_OTLP_PROTOCOL)
    exporter_otlp_endpoint: str = setting(
        "http://127.0.0.1:4318",
        help="Base URL (`/v1/<signal>` appended; gRPC default `http://127.0.0.1:4317`). Per-signal "
        "OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT is used as is.",
        env=V.OTEL_EXPORTER_OTLP_ENDPOINT,
    )
    exporter_otlp_headers: str = setting(
        "",
        help="`k=v,k2=v2` (URL-encoded values), also per signal.",
        env=V.OTEL_EXPORTER_OTLP_HEADERS,
    )
    exporter_otlp_timeout: float = setting(
        10000,
        help="Milliseconds per export, as the specification says (the stock Python exporters read seconds); also "
        "per signal (below).",
        env=V.OTEL_EXPORTER_OTLP_TIMEOUT, gt=0,
    )
    exporter_otlp_traces_timeout: float | None = _per_signal("traces", V.OTEL_EXPORTER_OTLP_TIMEOUT, gt=0)
    exporter_otlp_metrics_timeout: float | None = _per_signal("metrics", V.OTEL_EXPORTER_OTLP_TIMEOUT, gt=0)
    exporter_otlp_logs_timeout: float | None = _per_signal("logs", V.OTEL_EXPORTER_OTLP_TIMEOUT, gt=0)
    exporter_otlp_compression: Literal["gzip", "none"] = setting(
        "none",
        help="`gzip` or `none`, also per signal (below).",
        env=V.OTEL_EXPORTER_OTLP_COMPRESSION,
    )
    exporter_otlp_traces_compression: Literal["gzip", "none"] | None = _per_signal("traces", V.OTEL_EXPORTER_OTLP_COMPRESSION)
    exporter_otlp_metrics_compression: Literal["gzip", "none"] | None = _per_signal("metrics", V.OTEL_EXPORTER_OTLP_COMPRESSION)
    exporter_otlp_logs_compression: Literal["gzip", "none"] | None = _per_signal("logs", V.OTEL_EXPORTER_OTLP_COMPRESSION)
    traces_sampler: str = setting(
        "parentbased_always_on",
        help="Standard samplers, plus `xray` (X-Ray centralized sampling rules; fallback 1 req/s + 5 %).",
        env=V.OTEL_TRACES_SAMPLER,
    )
    traces_sampler_arg: str = setting(
        "",
        help="Ratio for the `traceidratio` samplers.",
        env=V.OTEL_TRACES_SAMPLER_ARG,
    )
    propagators: str = setting(
        "tracecontext,baggage,xray",
        help="Propagators; `xray` is the ALB-tolerant X-Ray one.",
        env=V.OTEL_PROPAGATORS,
    )
    python_disabled_instrumentations: str = setting(
        "",
        help="Comma list of instrumentor entry-point names to skip.",
        env=V.OTEL_PYTHON_DISABLED_INSTRUMENTATIONS,
    )
    semconv_stability_opt_in: str = setting(
        "http",
        help="Set to `http` when unset, so instrumentations emit the stable HTTP semantic conventions.",
        env=V.OTEL_SEMCONV_STABILITY_OPT_IN,
    )
    bsp_schedule_delay: float = setting(
        5000,
        help="Span batch delay, ms.",
        env=V.OTEL_BSP_SCHEDULE_DELAY, gt=0,
    )
    bsp_export_timeout: float = setting(
        30000,
        help="Span batch export timeout, ms.",
        env=V.OTEL_BSP_EXPORT_TIMEOUT, gt=0,
    )
    bsp_max_queue_size: int = setting(
        2048,
        help="Spans held for export; more are dropped.",
        env=V.OTEL_BSP_MAX_QUEUE_SIZE, ge=1,
    )
    bsp_max_export_batch_size: int = setting(
        512,
        help="Spans per export (at most OTEL_BSP_MAX_QUEUE_SIZE).",
        env=V.OTEL_BSP_MAX_EXPORT_BATCH_SIZE, ge=1,
    )
    blrp_schedule_delay: float = setting(
        1000,
        help="Log batch delay, ms.",
        env=V.OTEL_BLRP_SCHEDULE_DELAY, gt=0,
    )
    blrp_export_timeout: float = setting(
        30000,
        help="Log batch export timeout, ms.",
        env=V.OTEL_BLRP_EXPORT_TIMEOUT, gt=0,
    )
    blrp_max_queue_size: int = setting(
        2048,
        help="Log records held for export; more are dropped.",
        env=V.OTEL_BLRP_MAX_QUEUE_SIZE, ge=1,
    )
    blrp_max_export_batch_size: int = setting(
        512,
        help="Log records per export (at most OTEL_BLRP_MAX_QUEUE_SIZE).",
        env=V.OTEL_BLRP_MAX_EXPORT_BATCH_SIZE, ge=1,
    )
    metrics_exemplar_filter: str = setting(
        "always_off",
        help="Deviation from the spec's `trace_based`: exemplars cost ~20 % per measurement and the sidecar's "
        "EMF/Prometheus outputs drop them; set `trace_based` to keep them.",
        env=V.OTEL_METRICS_EXEMPLAR_FILTER,
    )
    metric_export_interval: float = setting(
        60000,
        help="Metric export interval, ms.",
        env=V.OTEL_METRIC_EXPORT_INTERVAL, gt=0,
    )
    aws_application_signals_enabled: bool = setting(
        False,
        help="ADOT's switch: `true` records Application Signals RED metrics (`Latency`, `Error`, `Fault`) from every "
        "span, sampled or not, and adds the `aws.local.*`/`aws.remote.*` span attributes; the sidecar's "
        "`cloudwatch` exporter publishes them (see docs/application-signals.md).",
        env=V.OTEL_AWS_APPLICATION_SIGNALS_ENABLED,
    )
    metric_export_timeout: float = setting(
        30000,
        help="Metric export timeout, ms.",
        env=V.OTEL_METRIC_EXPORT_TIMEOUT, gt=0,
    )
    exporter_otlp_metrics_temporality_preference: Literal["cumulative", "delta", "lowmemory"] = setting(
        "cumulative",
        help="`cumulative`, `delta` (counters and histograms) or `lowmemory` (synchronous counters and histograms "
        "only); the sidecar's CloudWatch exporter turns cumulative series into deltas itself.",
        env=V.OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE,
    )


@dataclass(frozen=True)
class LibrarySetting:
    """One environment variable the library reads, as the reference lists it: name, default as written, meaning."""

    name: str
    default: str
    help: str


def _text(value: Any) -> str:
    """A declared default as it would be written in the environment (``""`` for none)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _listing(*classes: type) -> tuple[LibrarySetting, ...]:
    return tuple(LibrarySetting(name, _text(field_default(f)), f.metadata[HELP])
                 for cls in classes for name, f in env_variables(cls))


#: Every ``ECS_OTEL_*`` variable the library reads, in declaration order (what the reference lists).
LIBRARY_SETTINGS: tuple[LibrarySetting, ...] = _listing(LibraryVariables, LoggingVariables)
#: The standard ``OTEL_*`` variables the library honours, with the defaults it gives them.
OTEL_SETTINGS: tuple[LibrarySetting, ...] = _listing(OtelVariables)
#: Variable name → its declared field, for the variables parsed one at a time (tuning, timeouts).
_FIELDS: dict[str, dataclasses.Field[Any]] = {
    name: f for cls in (LibraryVariables, LoggingVariables, OtelVariables) for name, f in env_variables(cls)
}
_HINTS: dict[str, Any] = {**get_type_hints(LibraryVariables), **get_type_hints(LoggingVariables),
                          **get_type_hints(OtelVariables)}

_DEFAULTS = {s.name: s.default for s in (*LIBRARY_SETTINGS, *OTEL_SETTINGS)}

#: Upper bound of ECS_OTEL_METADATA_TIMEOUT, seconds: start-up must not wait minutes on a hanging endpoint.
#: A larger value is clamped (one warning), not refused: the user asked for a long wait and gets the longest.
MAX_METADATA_TIMEOUT_S = 30.0

#: The SDK's numeric tuning variables, each validated on its own: name -> True for a count (whole
#: number >= 1), False for milliseconds (a finite number > 0), as :class:`OtelVariables` declares them. The
#: SDK refuses a bad value by raising in the processor's constructor, which turned a whole signal off; here a
#: bad value is one warning and that variable's default, the others keep their values.
TUNING_VARIABLES: dict[str, bool] = {
    name: _HINTS[f.name] is int
    for name, f in env_variables(OtelVariables)
    if name.startswith(("OTEL_BSP_", "OTEL_BLRP_", "OTEL_METRIC_EXPORT_"))
}
#: The OTLP exporter options that exist per signal: ``OTEL_EXPORTER_OTLP_<SIGNAL>_<OPTION>`` wins over
#: ``OTEL_EXPORTER_OTLP_<OPTION>``, whose default applies when neither is set (as the specification says).
#: Variable -> the general variable it falls back to (itself for the general one). A bad value is dropped
#: with one warning, so the signal uses the next in line.
OTLP_OPTION_VARIABLES: dict[str, str] = {
    f"OTEL_EXPORTER_OTLP_{signal}{option}": f"OTEL_EXPORTER_OTLP_{option}"
    for option in ("PROTOCOL", "TIMEOUT", "COMPRESSION") for signal in ("", "TRACES_", "METRICS_", "LOGS_")
}
#: The export timeouts among them (milliseconds).
OTLP_TIMEOUT_VARIABLES: tuple[str, ...] = tuple(n for n in OTLP_OPTION_VARIABLES if n.endswith("_TIMEOUT"))
_BATCH_PREFIX = {"traces": "OTEL_BSP", "logs": "OTEL_BLRP"}


def parse_variable(declared: str, raw: str, key: str | None = None) -> Any:
    """``raw`` (stripped, non-empty) as the declaration of ``declared`` says, or SettingError naming ``key``
    (default: ``declared``). For readers that report a refusal their own way (the logging set-up)."""
    f = _FIELDS[declared]
    bounds: Bounds | None = f.metadata.get(BOUNDS)
    return coerce(_HINTS[f.name], raw, key or declared, from_env=True, bounds=bounds)


def _on_bad(error: SettingError, default: Any) -> None:
    """The library's reaction to a refused value: one warning naming the variable (never an exception)."""
    _warn_bad(error.key, str(error.got), _text(default))


def read_variable(env: Mapping[str, str], name: str) -> Any:
    """One declared variable from ``env``, as its declaration says; a bad value is one warning and the default.

    For variables read where they are used rather than by :meth:`Settings.from_env`. Never raises.
    """
    default = field_default(_FIELDS[name])
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return parse_variable(name, raw)
    except SettingError as exc:
        _on_bad(exc, default)
        return default


def _read_tuning(env: dict[str, str]) -> dict[str, float]:
    """Validate every tuning variable; a bad one is warned about, removed from ``env`` and defaulted.

    Removing it matters for the OTLP timeouts, which the exporters resolve from ``env`` per signal:
    the bad value is then warned about here, once, and never seen again.
    """
    values: dict[str, float] = {}
    for name in TUNING_VARIABLES:
        raw = env.get(name, "").strip()
        default = float(_DEFAULTS[name])
        if not raw:
            values[name] = default
            continue
        try:
            values[name] = float(parse_variable(name, raw))
        except SettingError:
            _warn_bad(name, raw, _DEFAULTS[name])
            env.pop(name, None)
            values[name] = default
    for name in OTLP_OPTION_VARIABLES:
        if env.get(name, "").strip() and _otlp_value(env, name) is None:
            env.pop(name, None)
    for prefix in _BATCH_PREFIX.values():
        batch, queue = f"{prefix}_MAX_EXPORT_BATCH_SIZE", f"{prefix}_MAX_QUEUE_SIZE"
        if values[batch] > values[queue]:
            if env.get(batch, "").strip():  # the user chose both: say which one gives way
                _logger.warning("ecs_otel: %s=%d is larger than %s=%d; using %d", batch, values[batch], queue,
                                values[queue], values[queue])
            values[batch] = values[queue]
    return values


def _otlp_value(env: Mapping[str, str], name: str) -> Any:
    """One OTLP option variable as declared, ``None`` when unset or refused (then with one warning naming it
    and what applies instead: the general variable for a per-signal one, else the general one's default)."""
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        return parse_variable(name, raw)
    except SettingError:
        general = OTLP_OPTION_VARIABLES[name]
        _warn_bad(name, raw, general if name != general else _DEFAULTS[name])
        return None


def otlp_option(env: Mapping[str, str], signal: str, option: str) -> Any:
    """``OTEL_EXPORTER_OTLP_<SIGNAL>_<OPTION>``, else ``OTEL_EXPORTER_OTLP_<OPTION>``, else the latter's default,
    for ``signal`` (``traces``, ``metrics``, ``logs``) and ``option`` (``PROTOCOL``, ``TIMEOUT``, ``COMPRESSION``).

    Each is parsed as declared: a bad value is one warning naming the variable, then the next in line.
    :meth:`Settings.from_env` removes refused values from ``Settings.environ``, so exporters built from it
    warn about none of them again. Never raises.
    """
    general = f"OTEL_EXPORTER_OTLP_{option}"
    for name in (f"OTEL_EXPORTER_OTLP_{signal.upper()}_{option}", general):
        value = _otlp_value(env, name)
        if value is not None:
            return value
    return field_default(_FIELDS[general])


def otlp_timeout_s(env: Mapping[str, str], signal: str) -> float:
    """The export timeout of ``signal`` in seconds, for the exporters (see :func:`otlp_option`).

    The specification's variables are milliseconds (the stock Python exporters read seconds); the default is
    10 s. ``inf``, ``nan``, ``0`` and text are refused: an infinite timeout would let one hanging export hold
    the batch worker forever.
    """
    return float(otlp_option(env, signal, "TIMEOUT")) / 1000.0


def _default_tuning() -> dict[str, float]:
    return {name: float(_DEFAULTS[name]) for name in TUNING_VARIABLES}


def _warn_bad(name: str, raw: str, default: str) -> None:
    _logger.warning("ecs_otel: ignoring %s=%r (invalid); using %s", name, raw, default)


def _raw(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    return value if value else _DEFAULTS.get(name, "")


def _capped_metadata_timeout(value: float) -> float:
    if value > MAX_METADATA_TIMEOUT_S:
        _logger.warning("ecs_otel: %s=%g is above the %g s limit; using %g", V.ECS_OTEL_METADATA_TIMEOUT,
                        value, MAX_METADATA_TIMEOUT_S, MAX_METADATA_TIMEOUT_S)
        return MAX_METADATA_TIMEOUT_S
    return float(value)


def metadata_timeout(env: Mapping[str, str]) -> float:
    """``ECS_OTEL_METADATA_TIMEOUT`` in seconds, as :class:`Settings` reads it: a bad value (``inf``, ``nan``,
    not > 0, not a number) is one warning naming the variable and the default; above 30 s, one warning and 30.

    The metadata client reads the variable through this function, so the detector, ``configure()`` and the
    logging set-up agree on the value and on the warning. Never raises.
    """
    return _capped_metadata_timeout(read_variable(env, V.ECS_OTEL_METADATA_TIMEOUT))


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

        declared = read_environment(LibraryVariables, env, _on_bad)
        values: dict[str, Any] = {
            "disabled": _raw(env, V.OTEL_SDK_DISABLED).lower() == "true",
            "service_name": env.get(V.OTEL_SERVICE_NAME, "").strip() or None,
            "metadata_timeout_s": _capped_metadata_timeout(declared.metadata_timeout_s),
            "shutdown_timeout_s": float(declared.shutdown_timeout_s),
            "metric_cardinality_limit": declared.metric_cardinality_limit,
            "receiver_token": declared.receiver_token or None,
            "service_name_source": declared.service_name_source,
            "logging": declared.logging,
            "instrumentation": declared.instrumentation,
            "runtime_metrics": declared.runtime_metrics,
            "traces_exporter": exporters(V.OTEL_TRACES_EXPORTER),
            "metrics_exporter": exporters(V.OTEL_METRICS_EXPORTER),
            "logs_exporter": exporters(V.OTEL_LOGS_EXPORTER),
            "propagators": tuple(n.lower() for n in _names(env, V.OTEL_PROPAGATORS)),
            "sampler": _raw(env, V.OTEL_TRACES_SAMPLER).lower(),
            "sampler_arg": env.get(V.OTEL_TRACES_SAMPLER_ARG, "").strip(),
            "disabled_instrumentations": _names(env, V.OTEL_PYTHON_DISABLED_INSTRUMENTATIONS),
            "xray_sampling_endpoint": declared.xray_sampling_endpoint.rstrip("/"),
            "xray_sampling_interval_s": float(declared.xray_sampling_interval_s),
            "application_signals": read_variable(env, V.OTEL_AWS_APPLICATION_SIGNALS_ENABLED),
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
