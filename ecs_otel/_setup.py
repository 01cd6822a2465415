"""The one-time set-up behind ``ecs_otel.configure()`` and ``import ecs_otel.auto``.

Order matters for start-up time and safety: settings → ECS metadata (bounded) → resource →
providers (exporters built lazily in their worker threads) → propagators → logging →
instrumentation (armed per library, see :mod:`ecs_otel.instrumentation`) → exit/fork hooks.
Everything runs under one lock and at most once per process; a failure anywhere is one warning and
the app goes on with whatever was set up.

The library's own records logged before logging is set up (the "not on ECS" line, a metadata warning) are
held and replayed once it is, so they come out in the configured format and at the configured level instead
of being filtered by a root logger still at its ``WARNING`` default (see :class:`_HeldDiagnostics`).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ecs_otel.settings import Settings

_logger = logging.getLogger("ecs_otel")
_lock = threading.RLock()
_state: Configuration | None = None


@dataclass
class Configuration:
    """What ``configure()`` set up (returned to the caller; also kept as the process's state)."""

    settings: Settings
    enabled: bool
    on_ecs: bool = False
    resource: Any = None
    tracer_provider: Any = None
    meter_provider: Any = None
    logger_provider: Any = None
    coordinator: Any = None
    exporters: list[Any] = field(default_factory=list)
    open_spans: Any = None  # the OpenSpanTracker (spans ended at shutdown, spans it could not track)
    task: Any = None
    container: Any = None
    problems: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per set-up step, for debugging

    def shutdown(self, timeout_s: float | None = None) -> bool:
        if self.coordinator is None:
            return True
        return bool(self.coordinator.shutdown(timeout_s))


def current() -> Configuration | None:
    return _state


def configure(*, instrument: bool = True, **overrides: Any) -> Configuration:
    """Set up once; later calls return the first result unchanged (and never raise)."""
    global _state
    with _lock:
        if _state is not None:
            if overrides:
                _logger.debug("ecs_otel: already configured; ignoring overrides %s", sorted(overrides))
            return _state
        try:
            settings = Settings.from_env(None, **overrides)
        except TypeError:
            raise  # a wrong keyword is a programming error in the caller's code, reported at once
        except Exception as exc:
            _logger.warning("ecs_otel: bad configuration, telemetry disabled: %s", exc)
            _state = Configuration(settings=Settings(disabled=True), enabled=False)
            return _state
        if settings.disabled:
            _state = Configuration(settings=settings, enabled=False)
            return _state
        config = Configuration(settings=settings, enabled=True)
        _state = config
        try:
            _configure(config, instrument=instrument)
        except Exception as exc:
            _logger.warning("ecs_otel: configuration failed, continuing without (part of) telemetry: %s: %s",
                            type(exc).__name__, exc)
        return config


# --------------------------------------------------------------------------------------------------
def _step(config: Configuration, name: str, fn: Any, *args: Any) -> Any:
    started = time.monotonic()
    try:
        return fn(*args)
    except Exception as exc:
        config.problems.append(f"{name}: {exc}")
        _logger.warning("ecs_otel: %s set-up failed, skipped: %s: %s", name, type(exc).__name__, exc)
        return None
    finally:
        config.timings[name.replace("ECS ", "")] = time.monotonic() - started


def _already_configured_elsewhere() -> str | None:
    """Name of the TracerProvider someone else installed (another distro/configurator), if any."""
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    if isinstance(provider, trace.ProxyTracerProvider) or type(provider).__name__ == "NoOpTracerProvider":
        return None
    return f"{type(provider).__module__}.{type(provider).__name__}"


def _configure(config: Configuration, instrument: bool) -> None:
    settings = config.settings
    other = _already_configured_elsewhere()
    if other is not None:
        # e.g. opentelemetry-instrument with another configurator: a second pipeline would only
        # produce "Overriding of current TracerProvider" warnings and duplicate exports.
        _logger.warning("ecs_otel: OpenTelemetry is already configured (%s); ecs_otel leaves it as it is", other)
        config.enabled = False
        return
    from ecs_otel.lifecycle import ShutdownCoordinator, register_fork_hook

    with _held_diagnostics() as held:
        _step(config, "ECS metadata", _fetch_metadata, config)
        config.resource = _step(config, "resource", _build_resource, config)
        if config.resource is None:
            from opentelemetry.sdk.resources import Resource

            config.resource = Resource.create({})
        config.coordinator = ShutdownCoordinator(timeout_s=settings.shutdown_timeout_s)
        _step(config, "propagators", _setup_propagators, settings)
        _step(config, "traces", _setup_traces, config)
        _step(config, "metrics", _setup_metrics, config)
    _step(config, "logging", _setup_logging, config)
    held.replay()
    _step(config, "logs", _setup_logs, config)
    if settings.application_signals:
        _step(config, "application signals", _setup_app_signals_instrumentation)
    if instrument and settings.instrumentation:
        from ecs_otel.instrumentation import instrument_installed

        # Stable HTTP semantic conventions (http.request.method, url.path …) unless the user chose;
        # read by the instrumentors when they instrument, so it must be set before.
        os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http")
        _step(config, "instrumentation", instrument_installed, settings.disabled_instrumentations)
    config.coordinator.install()
    register_fork_hook(lambda: _after_fork(config))


class _HeldDiagnostics(logging.Handler):
    """Holds the ``ecs_otel`` loggers' records until logging is set up (bounded), then replays them.

    Without it the "not on ECS" line, logged while detecting the environment, met a root logger at its
    ``WARNING`` default and was gone before ``ECS_OTEL_LOG_LEVEL=DEBUG`` was applied.
    """

    LIMIT = 200

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.records: list[logging.LogRecord] = []
        self.dropped = 0

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.records) < self.LIMIT:
            self.records.append(record)
        else:
            self.dropped += 1

    def replay(self) -> None:
        """Each held record through its own logger, as if logged now: levels, filters and handlers apply."""
        records, self.records = self.records, []
        for record in records:
            try:
                logger = logging.getLogger(record.name)
                if logger.isEnabledFor(record.levelno):
                    logger.handle(record)
            except Exception:  # a broken handler of the app's must not break configure()
                pass
        if self.dropped:
            _logger.debug("ecs_otel: %d set-up diagnostics were not kept", self.dropped)


@contextmanager
def _held_diagnostics() -> Iterator[_HeldDiagnostics]:
    """``ecs_otel`` at DEBUG into a holder only, for the steps before logging; restored as it was after."""
    holder = _HeldDiagnostics()
    saved = (list(_logger.handlers), _logger.level, _logger.propagate)
    _logger.handlers = [holder]
    _logger.setLevel(logging.DEBUG)
    _logger.propagate = False
    try:
        yield holder
    finally:
        handlers, level, propagate = saved
        _logger.handlers = [*handlers, *(h for h in _logger.handlers if h is not holder)]
        _logger.setLevel(level)
        _logger.propagate = propagate


def _setup_app_signals_instrumentation() -> None:
    """AWS SDK calls name the resource they touch (bucket, queue…), whoever loads the instrumentor."""
    from ecs_otel.instrumentation import INSTRUMENT_KWARGS
    from ecs_otel.tracing.app_signals import botocore_hooks

    INSTRUMENT_KWARGS.setdefault("botocore", botocore_hooks)


# -- metadata and resource ---------------------------------------------------------------------------


def _fetch_metadata(config: Configuration) -> None:
    """Task and container documents within ECS_OTEL_METADATA_TIMEOUT; keep whatever arrived in time."""
    from ecs_otel.metadata import on_ecs

    env = config.settings.environ
    if not on_ecs(env):
        _logger.debug("ecs_otel: not on ECS (no ECS_CONTAINER_METADATA_URI_V4); plain OpenTelemetry set-up")
        return  # skip even importing the HTTP client
    from ecs_otel.resource import detect

    found = detect(env, timeout_s=config.settings.metadata_timeout_s)
    config.on_ecs = found.on_ecs
    config.task, config.container = found.task, found.container
    if not found.on_ecs:
        _logger.debug("ecs_otel: not on ECS (no metadata endpoint URL); plain OpenTelemetry set-up")
    elif found.errors:
        _logger.warning("ecs_otel: ECS metadata incomplete (%s); continuing with what arrived", "; ".join(found.errors))


def default_service_name(config: Configuration) -> str:
    """Task family (or container name, per ECS_OTEL_SERVICE_NAME_SOURCE); off ECS the program's name."""
    task, container = config.task, config.container
    family = getattr(task, "family", None)
    cname = getattr(container, "name", None)
    name = cname or family if config.settings.service_name_source == "container" else family or cname
    if name:
        return str(name)
    program = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if program.endswith(".py"):
        program = program[:-3]
    if not program or program in ("-c", "-m", "python", "python3"):
        program = "python"
    return program


def _build_resource(config: Configuration) -> Any:
    from opentelemetry.sdk.resources import Resource

    attrs: dict[str, Any] = {
        "service.instance.id": str(uuid.uuid4()),
        "process.pid": os.getpid(),
        "process.runtime.name": sys.implementation.name,
        "process.runtime.version": ".".join(str(p) for p in sys.version_info[:3]),
    }
    if config.task is not None:
        try:
            from ecs_otel.resource import container_attributes, resource_attributes, task_attributes

            try:
                attrs.update(resource_attributes(config.task, config.container))
            except Exception:
                attrs.update(task_attributes(config.task))
        except ImportError:
            pass
    elif config.container is not None:
        try:
            from ecs_otel.resource import container_attributes

            attrs.update(container_attributes(config.container))
        except ImportError:
            pass
    # OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME win over what we detected (spec precedence).
    from_env = Resource.create({})
    user_name = config.settings.service_name or _service_name_in_resource_attributes(config.settings.environ)
    merged = Resource(attrs).merge(from_env)
    final = dict(merged.attributes)
    final["service.name"] = user_name or default_service_name(config)
    if not final.get("service.version"):
        # Deployment-aware by default: every span and metric can be split by the deployed version.
        # OTEL_RESOURCE_ATTRIBUTES=service.version=… (already in `final`) wins.
        try:
            from ecs_otel.resource import default_service_version

            version = default_service_version(config.task, config.container)
        except Exception:
            version = None
        if version:
            final["service.version"] = version
    return Resource(final, merged.schema_url)


def _service_name_in_resource_attributes(env: Any) -> str | None:
    for item in env.get("OTEL_RESOURCE_ATTRIBUTES", "").split(","):
        key, _, value = item.partition("=")
        if key.strip() == "service.name" and value.strip():
            import urllib.parse

            return urllib.parse.unquote(value.strip())
    return None


# -- signals -----------------------------------------------------------------------------------------
def _setup_propagators(settings: Settings) -> None:
    if "opentelemetry.propagate" not in sys.modules:
        # opentelemetry.propagate resolves OTEL_PROPAGATORS through entry points when first imported,
        # and raises (for good: every later import raises again) on a name it cannot find, such as
        # `xray` when only ecs_otel provides it. Import it with the variable hidden; ours replaces it.
        saved = os.environ.pop("OTEL_PROPAGATORS", None)
        try:
            import opentelemetry.propagate  # noqa: F401
        finally:
            if saved is not None:
                os.environ["OTEL_PROPAGATORS"] = saved
    from opentelemetry.propagate import set_global_textmap

    from ecs_otel.tracing.propagator import build_propagator

    set_global_textmap(build_propagator(settings.propagators))


def _setup_traces(config: Configuration) -> None:
    settings = config.settings
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    from ecs_otel.exporting import LazyExporter, hold_processor_across_fork
    from ecs_otel.tracing.ids import XRayIdGenerator
    from ecs_otel.tracing.open_spans import OpenSpanTracker
    from ecs_otel.tracing.sampling import build_sampler

    sampler = build_sampler(settings, config.resource)
    if settings.application_signals:
        from ecs_otel.tracing.app_signals import RecordOnlySampler

        # Every span is recorded (metrics count them all); only sampled ones are exported.
        sampler = RecordOnlySampler(sampler)
    provider = TracerProvider(resource=config.resource, sampler=sampler, id_generator=XRayIdGenerator(),
                              shutdown_on_exit=False)
    # First processor: spans still open when the process stops (SIGTERM mid-request) are ended as
    # errors before the batch processors flush, instead of being lost with their traces.
    tracker = OpenSpanTracker()
    provider.add_span_processor(tracker)
    config.coordinator.before_flush(tracker.end_open_spans)
    config.open_spans = tracker
    if settings.application_signals:
        from ecs_otel.tracing.app_signals import AttributePropagator

        provider.add_span_processor(AttributePropagator())
    for name, exporter, endpoint in _exporters(config, "traces", settings.traces_exporter, LazyExporter,
                                               ConsoleSpanExporter):
        processor = BatchSpanProcessor(exporter, **settings.batch_processor_args("traces"))
        # A fork waits for this processor's export in progress (its lazy imports; see hold_across_fork).
        hold_processor_across_fork(processor)
        provider.add_span_processor(processor)
        config.coordinator.add(f"traces-{name}", lambda _remaining, p=processor: p.shutdown(),
                               _abort_of(exporter), endpoint,
                               flush=lambda remaining, p=processor: p.force_flush(int(remaining * 1000)),
                               prepare=getattr(exporter, "prepare", None))
    trace.set_tracer_provider(provider)
    config.tracer_provider = provider
    if hasattr(sampler, "start"):
        sampler.start()
        config.coordinator.on_shutdown(getattr(sampler, "stop", lambda: None))


def _exporters(config: Configuration, signal: str, names: Iterable[str], otlp: Callable[[Any], Any],
               console: Callable[[], Any]) -> Iterator[tuple[str, Any, str | None]]:
    """Each exporter named in ``OTEL_<SIGNAL>_EXPORTER``, with the endpoint it sends to (``None`` for console).

    Unknown names are warned about and skipped rather than failing the app's start.
    """
    from ecs_otel.exporting import resolve_target

    settings = config.settings
    for name in names:
        if name == "otlp":
            target = resolve_target(signal, settings.environ, settings.receiver_token)
            exporter, endpoint = otlp(target), target.endpoint
        elif name == "console":
            exporter, endpoint = console(), None
        else:
            _logger.warning("ecs_otel: unknown OTEL_%s_EXPORTER %r ignored", signal.upper(), name)
            continue
        config.exporters.append(exporter)
        yield name, exporter, endpoint


def _abort_of(exporter: Any) -> Any:
    abort = getattr(exporter, "abort", None)
    if abort is not None:
        return abort
    return lambda: None


def _setup_metrics(config: Configuration) -> None:
    settings = config.settings
    from opentelemetry import metrics
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader

    from ecs_otel.exporting import hold_across_fork, lazy_metric_exporter
    from ecs_otel.metrics.cardinality import install as install_cardinality_limit

    readers = []
    endpoints: list[tuple[str, Any, str | None]] = []
    for name, exporter, endpoint in _exporters(config, "metrics", settings.metrics_exporter,
                                               lambda target: lazy_metric_exporter(target, settings.environ),
                                               ConsoleMetricExporter):
        reader = PeriodicExportingMetricReader(exporter, **settings.metric_reader_args())
        # The SDK keeps this lock across fork() (held if the master was exporting): wait for it instead.
        hold_across_fork(reader, "_export_lock")
        readers.append(reader)
        endpoints.append((name, exporter, endpoint))
    install_cardinality_limit(settings.metric_cardinality_limit)
    kwargs: dict[str, Any] = {}
    if not settings.environ.get("OTEL_METRICS_EXEMPLAR_FILTER", "").strip():
        # Exemplars cost ~20 % of every measurement and the sidecar's EMF/Prometheus outputs drop
        # them: off unless asked for (OTEL_METRICS_EXEMPLAR_FILTER=trace_based).
        from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter

        kwargs["exemplar_filter"] = AlwaysOffExemplarFilter()
    if settings.application_signals:
        from ecs_otel.metrics import app_signals

        kwargs["views"] = app_signals.views()
    provider = MeterProvider(resource=config.resource, metric_readers=readers, shutdown_on_exit=False, **kwargs)
    metrics.set_meter_provider(provider)
    config.meter_provider = provider
    if readers:
        first_endpoint = next((e for _, _, e in endpoints if e), None)
        aborts = [_abort_of(exp) for _, exp, _ in endpoints]
        prepares = [p for p in (getattr(exp, "prepare", None) for _, exp, _ in endpoints) if p is not None]

        def shutdown(remaining: float) -> None:
            provider.shutdown(timeout_millis=remaining * 1000)

        config.coordinator.add("metrics", shutdown, lambda: [a() for a in aborts], first_endpoint,
                               flush=lambda remaining: provider.force_flush(timeout_millis=remaining * 1000),
                               prepare=(lambda: [p() for p in prepares]) if prepares else None)
    if settings.application_signals and config.tracer_provider is not None:
        from ecs_otel.metrics.app_signals import ApplicationSignalsMetrics

        # With exemplars off (the default above) the processor may feed its series directly.
        config.tracer_provider.add_span_processor(
            ApplicationSignalsMetrics(provider, config.resource, exemplar_filter=kwargs.get("exemplar_filter"))
        )
    if settings.runtime_metrics:
        from ecs_otel.metrics.runtime import RuntimeMetrics

        RuntimeMetrics(provider.get_meter("ecs_otel.runtime"))


def _setup_logs(config: Configuration) -> None:
    settings = config.settings
    if not settings.logs_exporter:
        return
    from opentelemetry._logs import set_logger_provider
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, ConsoleLogExporter

    from ecs_otel.exporting import LazyExporter, hold_processor_across_fork
    from ecs_otel.logging.otlp import masked_logging_handler

    provider = LoggerProvider(resource=config.resource, shutdown_on_exit=False)
    for name, exporter, endpoint in _exporters(config, "logs", settings.logs_exporter, LazyExporter,
                                               ConsoleLogExporter):
        processor = BatchLogRecordProcessor(exporter, **settings.batch_processor_args("logs"))
        hold_processor_across_fork(processor)
        provider.add_log_record_processor(processor)
        config.coordinator.add(f"logs-{name}", lambda _remaining, p=processor: p.shutdown(),
                               _abort_of(exporter), endpoint,
                               flush=lambda remaining, p=processor: p.force_flush(int(remaining * 1000)),
                               prepare=getattr(exporter, "prepare", None))
    set_logger_provider(provider)
    config.logger_provider = provider
    handler = masked_logging_handler(provider)  # the stdout lines' masking, for the exported records too
    handler._ecs_otel = True  # type: ignore[attr-defined]
    root = logging.getLogger()
    if not root.handlers:
        # Python prints warnings through its last-resort handler only while the root logger has no
        # handler; adding the OTLP bridge alone would silence an app that never configured logging.
        fallback = logging.StreamHandler(sys.stderr)
        fallback.setLevel(logging.WARNING)
        fallback._ecs_otel = True  # type: ignore[attr-defined]
        root.addHandler(fallback)
    root.addHandler(handler)
    if root.level > logging.INFO and not _root_configured_by_app(root):
        root.setLevel(logging.INFO)


def _root_configured_by_app(root: logging.Logger) -> bool:
    return any(not getattr(h, "_ecs_otel", False) for h in root.handlers)


def _setup_logging(config: Configuration) -> None:
    mode = config.settings.logging
    if mode == "false" or (mode == "auto" and not config.on_ecs):
        _library_diagnostics()
        return
    try:
        from ecs_otel.logging import configure_logging
    except ImportError:
        _logger.debug("ecs_otel: ecs_otel.logging not available; stdout logging left alone")
        return
    attributes = dict(config.resource.attributes) if config.resource is not None else {}
    configure_logging(service=attributes.get("service.name"), ecs_context=attributes, on_ecs=True)


def _library_diagnostics() -> None:
    """Logging left to the application (off ECS with ``ECS_OTEL_LOGGING=auto``, or ``false``): an explicit
    ``ECS_OTEL_LOG_LEVEL`` still sets the level of the library's own ``ecs_otel`` logger (its ``ecs_otel=``
    entry, else its root level), and nothing else, so ``ECS_OTEL_LOG_LEVEL=DEBUG`` shows why ECS detection
    was skipped without taking over the application's logging. When the application has no handler of its
    own on the root logger (yet), the library's lines go to stderr as text through a handler of the
    ``ecs_otel`` logger alone; otherwise they go wherever the application's handlers send them.
    """
    raw = os.environ.get("ECS_OTEL_LOG_LEVEL", "").strip()
    if not raw:
        return
    from ecs_otel.logging.levels import parse_level_spec

    try:
        spec = parse_level_spec(raw)
    except ValueError as exc:
        _logger.warning("ecs_otel: ECS_OTEL_LOG_LEVEL: %s; levels left unchanged", exc)
        return
    level = spec.loggers.get("ecs_otel", spec.root)
    if level is None:
        return
    _logger.setLevel(level)
    root = logging.getLogger()
    apps = [h for h in root.handlers
            if not getattr(h, "_ecs_otel", False) and not type(h).__module__.startswith(("opentelemetry.", "_pytest."))]
    if apps or any(getattr(h, "_ecs_otel", False) for h in _logger.handlers):
        return
    from ecs_otel.logging.text import TextFormatter

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(TextFormatter())
    handler._ecs_otel = True  # type: ignore[attr-defined]
    _logger.addHandler(handler)
    _logger.propagate = False  # the root's last-resort or fallback handler would print warnings twice


# -- fork ----------------------------------------------------------------------------------------------
def _after_fork(config: Configuration) -> None:
    """In a forked worker: own identity, fresh connections, exit hooks armed again."""
    from opentelemetry.sdk.resources import Resource

    update = Resource({"service.instance.id": str(uuid.uuid4()), "process.pid": os.getpid()})
    config.resource = config.resource.merge(update)
    for provider in (config.tracer_provider, config.meter_provider, config.logger_provider):
        fn = getattr(provider, "_update_resource", None)
        if fn is not None:
            fn(update)
    for exporter in config.exporters:
        reset = getattr(exporter, "reset_after_fork", None)
        if reset is not None:
            reset()
    if config.open_spans is not None:
        config.open_spans.reset_after_fork()
    if config.coordinator is not None:
        config.coordinator.after_fork_in_child()
    sampler = getattr(config.tracer_provider, "sampler", None)
    restart = getattr(sampler, "restart_after_fork", None)
    if restart is not None:
        restart()
