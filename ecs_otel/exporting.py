"""OTLP exporters built the way the specification describes, created lazily and abortable at shutdown.

Why not just the stock constructors: they read ``OTEL_EXPORTER_OTLP_TIMEOUT`` as seconds (the
specification says milliseconds), default to ``localhost`` (which may resolve to ``::1`` while the
sidecar listens on IPv4) and retry for up to 10 s at exit when nothing listens. Importing them also
costs tens of milliseconds (protobuf, requests, maybe grpc) that we keep off the import path: the real
exporter is constructed on the first export, in the batch worker thread.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import urllib.parse
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ecs_otel import environment_variables as V
from ecs_otel.export_health import health_for, install_filter, loggers_of, tracked_export
from ecs_otel.settings import otlp_option, otlp_timeout_s, read_variable

_logger = logging.getLogger("ecs_otel")

SIGNAL_PATHS = {"traces": "v1/traces", "metrics": "v1/metrics", "logs": "v1/logs"}
DEFAULT_HTTP_ENDPOINT = "http://127.0.0.1:4318"
DEFAULT_GRPC_ENDPOINT = "http://127.0.0.1:4317"


@dataclass(frozen=True)
class OtlpTarget:
    """Where and how one signal is exported, resolved from the environment."""

    signal: str
    protocol: str
    endpoint: str
    headers: tuple[tuple[str, str], ...]
    timeout_s: float
    compression: str


def _get(env: Mapping[str, str], signal: str, suffix: str) -> str | None:
    for name in (f"OTEL_EXPORTER_OTLP_{signal.upper()}_{suffix}", f"OTEL_EXPORTER_OTLP_{suffix}"):
        value = env.get(name, "").strip()
        if value:
            return value
    return None


def parse_headers(raw: str | None) -> list[tuple[str, str]]:
    """``k=v,k2=v2`` with URL-encoded values (W3C baggage-like format the spec prescribes)."""
    out: list[tuple[str, str]] = []
    if not raw:
        return out
    for item in raw.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            _logger.warning("ecs_otel: ignoring malformed OTLP header entry %r", item.strip())
            continue
        out.append((urllib.parse.unquote(key.strip()).lower(), urllib.parse.unquote(value.strip())))
    return out


def resolve_target(signal: str, env: Mapping[str, str], token: str | None = None) -> OtlpTarget:
    protocol = otlp_option(env, signal, "PROTOCOL")
    specific = env.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT", "").strip()
    base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    if protocol == "grpc":
        endpoint = specific or base or DEFAULT_GRPC_ENDPOINT
    elif specific:
        endpoint = specific
    else:
        endpoint = (base or DEFAULT_HTTP_ENDPOINT).rstrip("/") + "/" + SIGNAL_PATHS[signal]
    headers = parse_headers(_get(env, signal, "HEADERS"))
    if token and not any(k == "authorization" for k, _ in headers):
        headers.append(("authorization", f"Bearer {token}"))
    compression = otlp_option(env, signal, "COMPRESSION")
    return OtlpTarget(
        signal=signal,
        protocol=protocol,
        endpoint=endpoint,
        headers=tuple(headers),
        timeout_s=otlp_timeout_s(env, signal),
        compression=compression,
    )


def build_otlp_exporter(target: OtlpTarget) -> Any:
    """Construct the stock exporter for ``target`` (imports grpc only for protocol=grpc)."""
    headers = dict(target.headers)
    if target.protocol == "grpc":
        import grpc

        compression = grpc.Compression.Gzip if target.compression == "gzip" else grpc.Compression.NoCompression
        insecure = not target.endpoint.startswith("https://")
        kwargs: dict[str, Any] = {
            "endpoint": target.endpoint,
            "headers": headers,
            "timeout": target.timeout_s,
            "compression": compression,
            "insecure": insecure,
        }
        if target.signal == "traces":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

            return OTLPSpanExporter(**kwargs)
        if target.signal == "metrics":
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

            return OTLPMetricExporter(**kwargs)
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter

        return OTLPLogExporter(**kwargs)

    from opentelemetry.exporter.otlp.proto.http import Compression

    http_kwargs: dict[str, Any] = {
        "endpoint": target.endpoint,
        "headers": headers,
        "timeout": target.timeout_s,
        "compression": Compression.Gzip if target.compression == "gzip" else Compression.NoCompression,
    }
    if target.signal == "traces":
        return _fast_http_span_exporter_class()(**http_kwargs)
    if target.signal == "metrics":
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
            OTLPMetricExporter as HttpMetricExporter,
        )

        return HttpMetricExporter(**http_kwargs)
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter

    return HttpLogExporter(**http_kwargs)


_FAST_CLASS: Any = None

#: Which encoder the OTLP/HTTP span exporter used: ``None`` until the first batch says, then ``"fast"``
#: (ecs_otel's encoder) or ``"stock"`` (the SDK's); ``reason`` says why when it is the stock one.
_SPAN_ENCODING: dict[str, str | None] = {"path": None, "reason": None}
_encoding_scope = threading.local()


def span_encoding() -> dict[str, str | None]:
    """Which span encoder exports use (``{"path": "fast" | "stock" | None, "reason": ...}``), for tests and debugging."""
    return dict(_SPAN_ENCODING)


def _note_span_encoding(path: str, reason: str | None = None) -> None:
    """Record the encoder in use; one debug line whenever it is first known or changes."""
    if _SPAN_ENCODING["path"] == path:
        return
    _SPAN_ENCODING.update(path=path, reason=reason)
    if path == "fast":
        _logger.debug("ecs_otel: OTLP/HTTP span export: fast path (ecs_otel's encoder, the stock exporter sends)")
    else:
        _logger.debug("ecs_otel: OTLP/HTTP span export: stock encoder (%s)", reason)


class _Encoded:
    """Stands in for the ``ExportTraceServiceRequest`` the stock encoder returns: already serialized bytes."""

    __slots__ = ("_data",)

    def __init__(self, data: bytes) -> None:
        self._data = data

    def SerializePartialToString(self, **_: Any) -> bytes:
        return self._data

    SerializeToString = SerializePartialToString

    def ByteSize(self) -> int:
        return len(self._data)


def _hook_encoder(module: Any) -> str | None:
    """Route ``module.encode_spans`` through ecs_otel's encoder while one of our exports runs.

    The stock OTLP/HTTP span exporter serializes a batch with ``encode_spans(spans).SerializePartialToString()``,
    ``encode_spans`` being the public function of ``opentelemetry-exporter-otlp-proto-common`` that the
    exporter's module imports by name (so from 1.30 to at least 1.45). The hook swaps that name for one
    that, only on a thread inside :class:`FastOTLPSpanExporter`'s ``export``, returns our bytes; every
    other caller (another exporter of the application's) still gets the stock encoder. No private
    attribute is read; returns why the hook cannot be installed, or ``None`` when it is.
    """
    from ecs_otel.otlp.spans import encode_spans as fast_encode

    original = getattr(module, "encode_spans", None)
    if not callable(original):
        return f"{module.__name__} has no encode_spans"
    if getattr(original, "_ecs_otel_hook", False):
        return None

    def encode_spans(spans: Any) -> Any:
        if getattr(_encoding_scope, "active", False):
            try:
                data = fast_encode(spans)
            except Exception as exc:  # an SDK span shape the fast encoder does not know: the stock one does
                _encoding_scope.failed = f"ecs_otel's encoder failed: {type(exc).__name__}: {exc}"
                return original(spans)
            _encoding_scope.used = True
            return _Encoded(data)
        return original(spans)

    encode_spans._ecs_otel_hook = True  # type: ignore[attr-defined]
    encode_spans.__wrapped__ = original  # type: ignore[attr-defined]
    module.encode_spans = encode_spans
    return None


def _fast_http_span_exporter_class() -> Any:
    """The stock OTLP/HTTP span exporter with our wire encoder (about 4x cheaper per span).

    Only the encoding is replaced: the stock ``export`` runs unchanged (size limit, sending, retries,
    compression, headers, its own metrics), and calls our encoder through :func:`_hook_encoder`. Which
    encoder a batch went through is recorded (:func:`span_encoding`, and one debug line), so an SDK
    release on which the fast path does not engage is visible instead of silently slower.
    """
    global _FAST_CLASS
    if _FAST_CLASS is not None:
        return _FAST_CLASS
    import importlib

    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
    from opentelemetry.sdk.trace.export import SpanExportResult

    module = importlib.import_module(HttpSpanExporter.__module__)
    problem = _hook_encoder(module)

    class FastOTLPSpanExporter(HttpSpanExporter):
        def export(self, spans: Sequence[Any]) -> SpanExportResult:
            if problem is not None:
                _note_span_encoding("stock", problem)
                return super().export(spans)
            scope = _encoding_scope
            scope.active, scope.used, scope.failed = True, False, None
            try:
                result = super().export(spans)
            finally:
                scope.active = False
            if scope.used:
                _note_span_encoding("fast")
            elif scope.failed is not None:
                _note_span_encoding("stock", scope.failed)
            elif spans and result == SpanExportResult.SUCCESS:
                # Sent without calling encode_spans: this release encodes by other means.
                _note_span_encoding("stock", f"{module.__name__}.OTLPSpanExporter does not call encode_spans")
            return result

    _FAST_CLASS = FastOTLPSpanExporter
    return _FAST_CLASS


#: (object, name of its lock attribute) for every lock a fork must wait for (see ``_hold_for_fork``).
_FORK_GUARDED: list[tuple[weakref.ref[Any], str]] = []
#: Locks taken before the current fork; released in parent and child once it is done.
_HELD_FOR_FORK: list[Any] = []
#: How long a fork waits, in all, for builds and exports in progress (normally milliseconds).
FORK_WAIT_S = 5.0


def hold_across_fork(owner: Any, attr: str) -> None:
    """Make every ``fork()`` wait until ``owner.<attr>`` (a lock) is free, and hold it while forking.

    For locks held while building an exporter or exporting. Both import modules lazily: the build
    imports requests, protobuf and the OTLP package; the first request imports more (requests
    imports ``netrc`` when it first looks for credentials). Each import runs under a
    per-module lock that ``fork()`` does not reset: a fork while another thread is inside one
    leaves it held forever in the child, by a thread that does not exist there. The worker's own
    first export then blocks on it, its exit flush waits out its budget, and its data is lost.
    Register the lock taken first (a processor's export lock) after the ones it nests (its
    exporter's build lock): ``_hold_for_fork`` takes them newest first, the order an export does.
    """
    _FORK_GUARDED.append((weakref.ref(owner), attr))


def _hold_for_fork() -> None:
    """Before ``fork()``: take every guarded lock, within ``FORK_WAIT_S`` in all, so no export is half done.

    Newest first: a processor or reader (registered after its exporter) takes its export lock
    before the exporter's build lock, so taking them in that order here cannot deadlock with an
    export. A wait is logged at debug level before it starts (it shows why a fork took a moment).
    """
    deadline = time.monotonic() + FORK_WAIT_S
    for ref, attr in reversed(_FORK_GUARDED):
        owner = ref()
        lock = getattr(owner, attr, None) if owner is not None else None
        if lock is None:
            continue
        try:
            taken = lock.acquire(blocking=False)
            if not taken:
                _logger.debug("ecs_otel: fork waits for an export in progress (%s)", type(owner).__name__)
                taken = lock.acquire(timeout=max(deadline - time.monotonic(), 0.0))
        except Exception:  # never break the app's fork
            taken = False
        if taken:
            _HELD_FOR_FORK.append(lock)
        else:  # an export that does not end: fork anyway rather than block the app
            _logger.debug("ecs_otel: forking while %s is still exporting", type(owner).__name__)
    _FORK_GUARDED[:] = [(ref, attr) for ref, attr in _FORK_GUARDED if ref() is not None]


def _release_after_fork() -> None:
    """After ``fork()``, in parent and child: release what ``_hold_for_fork`` took."""
    while _HELD_FOR_FORK:
        try:
            _HELD_FOR_FORK.pop().release()
        except RuntimeError:
            pass


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_hold_for_fork, after_in_parent=_release_after_fork,
                        after_in_child=_release_after_fork)


def hold_processor_across_fork(processor: Any) -> None:
    """A batch span/log processor: every fork waits for its export in progress (see ``hold_across_fork``).

    The SDK replaces the processor's export lock in the child, but not the import locks its
    export holds meanwhile. Register after the processor's exporter. SDK versions without this
    lock (``_batch_processor._export_lock``) are skipped: nothing to wait for there.
    """
    inner = getattr(processor, "_batch_processor", None)
    if inner is not None and hasattr(inner, "_export_lock"):
        hold_across_fork(inner, "_export_lock")


class LazyExporter:
    """Builds the real exporter on first use; ``abort()`` stops retries so exit stays in budget.

    Used for spans and log records (the batch processors only call ``export``/``shutdown``/
    ``force_flush``). After ``abort()`` further exports fail quietly instead of logging a warning
    per batch.
    """

    def __init__(self, target: OtlpTarget) -> None:
        self.target = target
        self._health = health_for(target.endpoint, target.protocol)
        self._inner: Any = None
        self._lock = threading.Lock()
        self._aborted = False
        self._failed_build = False
        self._pid = os.getpid()
        hold_across_fork(self, "_lock")

    def _get(self) -> Any:
        if self._pid != os.getpid():
            # Forked, and this runs before the fork hook reset us (the SDK restarts its batch thread
            # in the child before our hook runs): never send on the parent's connection.
            self.reset_after_fork()
        if self._inner is None and not self._failed_build:
            with self._lock:
                if self._inner is None and not self._failed_build:
                    try:
                        self._inner = build_otlp_exporter(self.target)
                        install_filter(loggers_of(self._inner))
                    except Exception as exc:  # never raise into the app's threads
                        self._failed_build = True
                        _logger.warning("ecs_otel: cannot build OTLP %s exporter: %s", self.target.signal, exc)
        return self._inner

    def prepare(self) -> None:
        """Build the real exporter now (unless aborted), so exports at interpreter exit need no imports.

        Called by the shutdown coordinator when the main thread finishes, before Python's thread
        pools refuse new work: importing the gRPC exporter then still works (it imports an SDK
        module that builds a ``Resource`` through a thread pool), which it no longer does in
        ``atexit``.
        """
        if not self._aborted:
            self._get()

    def tracked(self, items: int, call: Callable[[], Any]) -> Any:
        """``call()`` (one export by the built exporter), its connection failures reported as one warning."""
        return tracked_export(self._health, self.target.signal, self.target.endpoint, items, call, _succeeded)

    def export(self, batch: Sequence[Any]) -> Any:
        inner = None if self._aborted else self._get()
        if inner is None:
            return _failure(self.target.signal)
        return self.tracked(len(batch), lambda: inner.export(batch))

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True

    def reset_after_fork(self) -> None:
        """In a forked child: drop the parent's HTTP session/channel; the next export builds a new one."""
        self._inner = None
        self._lock = threading.Lock()
        self._aborted = False
        self._failed_build = False
        self._pid = os.getpid()

    def abort(self) -> None:
        """Interrupt any retry back-off in progress and refuse later exports."""
        self._aborted = True
        inner = self._inner
        if inner is not None:
            try:
                inner.shutdown()
            except Exception:
                pass

    def shutdown(self, timeout_millis: float = 30_000, **_: Any) -> None:
        if not self._aborted:
            self.abort()


def _succeeded(result: Any) -> bool:
    """SpanExportResult / LogRecordExportResult / MetricExportResult: each has a SUCCESS member."""
    return getattr(result, "name", None) == "SUCCESS"


def _failure(signal: str) -> Any:
    if signal == "traces":
        from opentelemetry.sdk.trace.export import SpanExportResult

        return SpanExportResult.FAILURE
    from opentelemetry.sdk._logs.export import LogRecordExportResult

    return LogRecordExportResult.FAILURE


def metric_temporality(env: Mapping[str, str]) -> dict[type, Any]:
    """OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: cumulative (default), delta or lowmemory, any case."""
    from opentelemetry.sdk.metrics import (
        Counter,
        Histogram,
        ObservableCounter,
        ObservableGauge,
        ObservableUpDownCounter,
        UpDownCounter,
    )
    from opentelemetry.sdk.metrics.export import AggregationTemporality

    pref = read_variable(env, V.OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE)  # a typo: one warning
    cumulative, delta = AggregationTemporality.CUMULATIVE, AggregationTemporality.DELTA
    table: dict[type, Any] = {k: cumulative for k in (Counter, UpDownCounter, Histogram, ObservableCounter,
                                     ObservableUpDownCounter, ObservableGauge)}
    if pref == "delta":
        table.update({Counter: delta, Histogram: delta, ObservableCounter: delta})
    elif pref == "lowmemory":
        table.update({Counter: delta, Histogram: delta})
    return table


def lazy_metric_exporter(target: OtlpTarget, env: Mapping[str, str]) -> Any:
    """A MetricExporter that builds the OTLP one on first export (the reader needs temporality up front)."""
    from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult

    class _LazyMetricExporter(MetricExporter):
        def __init__(self) -> None:
            super().__init__(preferred_temporality=metric_temporality(env))
            self._lazy = LazyExporter(target)

        def export(self, metrics_data: Any, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
            inner = None if self._lazy._aborted else self._lazy._get()
            if inner is None:
                return MetricExportResult.FAILURE
            return self._lazy.tracked(1, lambda: inner.export(metrics_data, timeout_millis=timeout_millis))

        def force_flush(self, timeout_millis: float = 10_000) -> bool:
            return True

        def abort(self) -> None:
            self._lazy.abort()

        def prepare(self) -> None:
            self._lazy.prepare()

        def reset_after_fork(self) -> None:
            self._lazy.reset_after_fork()

        def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
            self._lazy.shutdown()

    return _LazyMetricExporter()
