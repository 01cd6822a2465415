"""The app's side of "the sidecar is down": one rate-limited warning that says what to do, one line on recovery.

Without this, every failed batch printed the OpenTelemetry exporter's retry warnings, its final error and
(depending on the HTTP stack) urllib3's retry warnings: a dozen lines a minute, without a logger name off
ECS, none of them saying which process should be listening where. Now:

* While one of our exports runs, a filter on the exporter's and urllib3's loggers (those loggers only, not a
  level change) drops their records about *not reaching* the endpoint (connection refused or reset, time-out,
  name resolution, gRPC ``UNAVAILABLE``) and notes the reason, and holds back their "failed to export"
  records until the export's outcome is known. A failed export whose reason is still unknown is settled by
  one TCP connection attempt to the endpoint (bounded by :data:`PROBE_TIMEOUT_S`). When the endpoint could
  not be reached the held records are dropped; otherwise (a ``401`` for a wrong token, a ``413``) they are
  logged as they were: that is not this case. Records from other threads, or from the application's own
  use of urllib3, are never touched: the filter only acts inside our export call, on its thread.
* When such an export fails, the ``ecs_otel`` logger says so at ``WARNING``: the endpoint, the reason, what
  is being dropped and how to fix it; at most once per :data:`WARN_INTERVAL_S` per endpoint (host and port),
  with the counts since the last report.
* The first successful export afterwards logs one ``INFO`` line with what was dropped meanwhile.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

_logger = logging.getLogger("ecs_otel")

PROBE_TIMEOUT_S = 1.0
"""Budget of the one connection attempt that tells "unreachable" from "answered with an error"."""
WARN_INTERVAL_S = 60.0
"""At most one "unreachable" warning per endpoint in this many seconds (the first failure reports at once)."""

#: Loggers that report an OTLP export's connection failures, across SDK versions and HTTP stacks.
NOISY_LOGGERS: tuple[str, ...] = (
    "urllib3.connectionpool",
    "opentelemetry.exporter.otlp.common.http",
    "opentelemetry.exporter.otlp.proto.http._common",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http.metric_exporter",
    "opentelemetry.exporter.otlp.proto.http._log_exporter",
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
)

_UNREACHABLE = (
    ("connection refused", "connection refused"),
    ("errno 111", "connection refused"),
    ("failed to establish a new connection", "connection refused"),
    ("connect call failed", "connection refused"),
    ("connection reset", "connection reset"),
    ("connection aborted", "connection reset"),
    ("remotedisconnected", "connection reset"),
    ("remote end closed connection", "connection reset"),
    ("name or service not known", "host name not found"),
    ("nodename nor servname", "host name not found"),
    ("temporary failure in name resolution", "host name not found"),
    ("no route to host", "no route to host"),
    ("network is unreachable", "network unreachable"),
    ("timed out", "timed out"),
    ("timeout", "timed out"),
    ("statuscode.unavailable", "gRPC UNAVAILABLE"),
    ("max retries exceeded", "connection failed"),
    ("newconnectionerror", "connection failed"),
)
_AFTERMATH = ("failed to export", "shutdown in progress", "max retries or shutdown", "retrying (")

_UNITS = {"traces": ("span", "spans"), "logs": ("log record", "log records"), "metrics": ("metric export",
                                                                                         "metric exports")}

_current = threading.local()


def unreachable_reason(message: str) -> str | None:
    """The short reason when ``message`` is about not reaching the endpoint, else ``None``."""
    low = message.lower()
    for needle, reason in _UNREACHABLE:
        if needle in low:
            return reason
    return None


@dataclass
class _Counts:
    batches: int = 0
    items: int = 0


@dataclass
class EndpointHealth:
    """One OTLP endpoint (scheme, host and port; every signal sent there): its state and what was dropped."""

    base: str
    protocol: str
    clock: Callable[[], float] = time.monotonic
    down: bool = False
    reason: str = ""
    last_warning: float | None = None
    since_warning: dict[str, _Counts] = field(default_factory=dict)
    while_down: dict[str, _Counts] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def failed(self, signal: str, endpoint: str, items: int, reason: str) -> None:
        with self.lock:
            self.down, self.reason = True, reason
            for table in (self.since_warning, self.while_down):
                counts = table.setdefault(signal, _Counts())
                counts.batches += 1
                counts.items += items
            now = self.clock()
            if self.last_warning is not None and now - self.last_warning < WARN_INTERVAL_S:
                return
            self.last_warning = now
            dropped, self.since_warning = self.since_warning, {}
        _logger.warning("%s", self._unreachable_message(endpoint, reason, dropped))

    def succeeded(self) -> None:
        if not self.down:  # the common case: no lock
            return
        with self.lock:
            if not self.down:
                return
            self.down = False
            dropped, self.while_down, self.since_warning = self.while_down, {}, {}
            self.last_warning = None
        _logger.info("ecs_otel: the OTLP endpoint %s answers again; dropped while it was unreachable: %s",
                     self.base, _describe(dropped))

    def _unreachable_message(self, endpoint: str, reason: str, dropped: dict[str, _Counts]) -> str:
        port_setting = "ECS_OTEL_OTLP_GRPC_PORT" if self.protocol == "grpc" else "ECS_OTEL_OTLP_HTTP_PORT"
        return (
            f"ecs_otel: cannot reach the OTLP endpoint {endpoint} ({reason}); dropping {_describe(dropped)} "
            f"so far, and more until it answers. Is the ecs-otel sidecar container running in this task and "
            f"listening there (its {port_setting}; ECS_OTEL_RECEIVER_HOST=0.0.0.0 in bridge mode)? If the "
            f"collector is elsewhere, set OTEL_EXPORTER_OTLP_ENDPOINT. "
            f"(Reported at most every {WARN_INTERVAL_S:.0f} s; one INFO line follows once it is reachable again.)"
        )


def _describe(dropped: dict[str, _Counts]) -> str:
    parts = []
    for signal, counts in dropped.items():
        one, many = _UNITS.get(signal, ("item", "items"))
        if signal == "metrics":
            parts.append(f"{counts.batches} {one if counts.batches == 1 else many}")
        else:
            parts.append(f"{counts.items} {one if counts.items == 1 else many} "
                         f"({counts.batches} batch{'' if counts.batches == 1 else 'es'})")
    return ", ".join(parts) or "nothing"


_registry: dict[tuple[str, str], EndpointHealth] = {}
_registry_lock = threading.Lock()


def health_for(endpoint: str, protocol: str) -> EndpointHealth:
    """The shared state of ``endpoint``'s host and port (traces, metrics and logs sent there share it)."""
    parts = urllib.parse.urlsplit(endpoint if "://" in endpoint else "http://" + endpoint)
    base = f"{parts.scheme}://{parts.netloc}"
    with _registry_lock:
        health = _registry.get((base, protocol))
        if health is None:
            health = _registry[(base, protocol)] = EndpointHealth(base, protocol)
        return health


class _ExportScope:
    """What the filter knows about the export running on this thread, and the records it held back."""

    __slots__ = ("held", "reason")

    def __init__(self) -> None:
        self.reason: str | None = None
        self.held: list[logging.LogRecord] = []


class UnreachableFilter(logging.Filter):
    """Drops connection-failure records logged during one of our exports (see the module docstring)."""

    def filter(self, record: logging.LogRecord) -> bool:
        scope: _ExportScope | None = getattr(_current, "scope", None)
        if scope is None:
            return True
        try:
            message = record.getMessage()
        except Exception:
            return True
        low = message.lower()
        if not any(a in low for a in _AFTERMATH):
            reason = unreachable_reason(message)
            if reason is None:
                return True
            if scope.reason is None or scope.reason == "connection failed":
                scope.reason = reason
            return False
        if len(scope.held) < 16:
            scope.held.append(record)  # logged after the export unless the endpoint was unreachable
        return False


_FILTER = UnreachableFilter()
_installed: set[str] = set()
_install_lock = threading.Lock()


def install_filter(extra_loggers: Iterable[logging.Logger | None] = ()) -> None:
    """Attach the filter to :data:`NOISY_LOGGERS` and to the given loggers (each once)."""
    with _install_lock:
        loggers = [logging.getLogger(name) for name in NOISY_LOGGERS]
        loggers += [lg for lg in extra_loggers if isinstance(lg, logging.Logger)]
        for logger in loggers:
            if logger.name not in _installed:
                logger.addFilter(_FILTER)
                _installed.add(logger.name)


def loggers_of(exporter: Any) -> list[logging.Logger | None]:
    """The loggers a built exporter reports through: its module's and its HTTP client's, if it has one."""
    found: list[logging.Logger | None] = []
    for cls in type(exporter).__mro__:
        if cls.__module__.startswith("opentelemetry."):
            found.append(logging.getLogger(cls.__module__))
    client = getattr(exporter, "_client", None)
    found.append(getattr(client, "_logger", None))
    return found


def tracked_export(health: EndpointHealth, signal: str, endpoint: str, items: int,
                   call: Callable[[], Any], is_success: Callable[[Any], bool]) -> Any:
    """Run one export with the filter armed on this thread; report failure or recovery to ``health``."""
    scope = _ExportScope()
    previous = getattr(_current, "scope", None)
    _current.scope = scope
    try:
        result = call()
    finally:
        _current.scope = previous
    try:
        if is_success(result):
            health.succeeded()
        else:
            reason = scope.reason or probe(endpoint)
            if reason is not None:
                health.failed(signal, endpoint, items, reason)
                scope.held.clear()
        for record in scope.held:  # not the unreachable case: the exporter's own words, as it logged them
            logging.getLogger(record.name).handle(record)
    except Exception:  # reporting must never turn into an exception in the exporter's thread
        pass
    return result


def probe(endpoint: str, timeout_s: float = PROBE_TIMEOUT_S) -> str | None:
    """Why a TCP connection to ``endpoint``'s host and port fails, or ``None`` when it connects."""
    parts = urllib.parse.urlsplit(endpoint if "://" in endpoint else "http://" + endpoint)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    host = parts.hostname or "127.0.0.1"
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return None
    except OSError as exc:
        return unreachable_reason(f"{exc} {type(exc).__name__}") or (
            "connection refused" if isinstance(exc, ConnectionRefusedError) else "connection failed")
