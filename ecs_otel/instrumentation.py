"""Automatic instrumentation from ``opentelemetry_instrumentor`` entry points, activated on first import.

``opentelemetry-instrument`` loads every installed instrumentor at start-up, which imports each
instrumented library (botocore, flask, aiohttp …) whether the app uses it or not. Here an
instrumentor whose library is not imported yet is armed with a post-import hook instead: it runs
right after that library's top-level module executes, before the app can use it. Libraries
already imported, and instrumentors we cannot map to a module, are instrumented immediately.

Rules kept from ``opentelemetry-instrument``: ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS`` (names, or
``*``), the dependency-conflict check against the instrumentation's ``instruments`` extra, and
an instrumentor that fails is skipped with one warning. Each entry point is handled once per
process, and an instrumentor that reports itself already instrumented is left alone, so a second
pass (``import ecs_otel.auto`` under ``opentelemetry-instrument``) logs nothing.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import logging
import sys
import threading
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

_logger = logging.getLogger("ecs_otel")

#: Entry-point name → top-level module it instruments, where the two differ.
MODULE_ALIASES: dict[str, str | None] = {
    "aiohttp-client": "aiohttp",
    "aiohttp-server": "aiohttp",
    "aio-pika": "aio_pika",
    "boto3sqs": "boto3",
    "confluent-kafka": "confluent_kafka",
    "grpc_client": "grpc",
    "grpc_server": "grpc",
    "grpc_aio_client": "grpc",
    "grpc_aio_server": "grpc",
    "kafka": "kafka",
    "mysqlclient": "MySQLdb",
    "openai-v2": "openai",
    "tortoiseorm": "tortoise",
    "urllib": "urllib.request",
    # process-wide instrumentors: nothing to wait for
    "logging": None,
    "threading": None,
    "asyncio": None,
    "system_metrics": None,
    "aws-lambda": None,
}

def _logging_kwargs() -> dict[str, Any]:
    """The OTLP log bridge is ours (only with OTEL_LOGS_EXPORTER=otlp), so the logging instrumentor
    only stamps trace ids on records, unless the user set its own switch explicitly."""
    import os

    kwargs: dict[str, Any] = {"inject_trace_context": True}
    if "OTEL_PYTHON_LOG_AUTO_INSTRUMENTATION" not in os.environ:
        kwargs["enable_log_auto_instrumentation"] = False
    return kwargs


#: Extra keyword arguments for particular instrumentors' ``instrument()``.
INSTRUMENT_KWARGS: dict[str, Callable[[], dict[str, Any]]] = {"logging": _logging_kwargs}

#: Instrumentors activated with the first library instrumentor rather than at start-up. The
#: logging one only stamps ``otelTraceID`` on records (ecs_otel's JSON lines carry trace ids
#: themselves); it runs at start-up when OTEL_PYTHON_LOG_CORRELATION=true asks for it.
DEFERRED = frozenset({"logging"})
_deferred: list[Callable[[], None]] = []

_lock = threading.RLock()
_handled: dict[str, str] = {}  # entry-point name → "instrumented" | "armed" | "skipped" | "failed" | "disabled"


def status() -> dict[str, str]:
    """What happened to each instrumentor entry point so far (for tests and debugging)."""
    with _lock:
        return dict(_handled)


class _HookLoader(importlib.abc.Loader):
    """Delegates to the real loader, then runs the hooks armed for the module."""

    def __init__(self, loader: Any, finder: _PostImportFinder) -> None:
        self._loader = loader
        self._finder = finder

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        # Keep introspection (importlib.resources, pkgutil) pointing at the real loader.
        try:
            module.__loader__ = self._loader
            if module.__spec__ is not None:
                module.__spec__.loader = self._loader
        except AttributeError:
            pass
        self._finder.fire(module.__name__)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class _PostImportFinder(importlib.abc.MetaPathFinder):
    def __init__(self) -> None:
        self._hooks: dict[str, list[Callable[[], None]]] = {}
        self._local = threading.local()

    def arm(self, module: str, hook: Callable[[], None]) -> None:
        with _lock:
            self._hooks.setdefault(module, []).append(hook)

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname not in self._hooks:
            return None
        busy: set[str] = self._local.__dict__.setdefault("busy", set())
        if fullname in busy:
            return None
        busy.add(fullname)
        try:
            for finder in sys.meta_path:
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    break
            else:
                return None
        finally:
            busy.discard(fullname)
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _HookLoader(spec.loader, self)
        return spec

    def fire(self, module: str) -> None:
        with _lock:
            hooks = self._hooks.pop(module, [])
        for hook in hooks:
            hook()


_finder: _PostImportFinder | None = None


def _get_finder() -> _PostImportFinder:
    global _finder
    with _lock:
        if _finder is None:
            _finder = _PostImportFinder()
            sys.meta_path.insert(0, _finder)
        return _finder


def _target_module(name: str) -> str | None:
    if name in MODULE_ALIASES:
        return MODULE_ALIASES[name]
    return name.replace("-", "_")


def _module_findable(module: str) -> bool:
    top = module.split(".")[0]
    if top in sys.modules:
        return True
    for finder in sys.meta_path:
        if finder is _finder or not hasattr(finder, "find_spec"):
            continue
        try:
            if finder.find_spec(top, None) is not None:
                return True
        except Exception:
            continue
    return False


def _wanted_now(name: str) -> bool:
    import os

    if name == "logging":
        return os.environ.get("OTEL_PYTHON_LOG_CORRELATION", "").strip().lower() == "true" or \
            "OTEL_PYTHON_LOG_AUTO_INSTRUMENTATION" in os.environ
    return True


def _run_deferred() -> None:
    with _lock:
        pending = list(_deferred)
        _deferred.clear()
    for activate in pending:
        activate()


def _activate(entry_point: Any, skip_dep_check: bool = False, **kwargs: Any) -> None:
    """Dependency check, load, instrument: one warning (never a traceback) when anything fails."""
    name = entry_point.name
    if name not in DEFERRED:
        _run_deferred()
    try:
        if not skip_dep_check:
            from opentelemetry.instrumentation.dependencies import get_dist_dependency_conflicts

            dist = getattr(entry_point, "dist", None)
            conflict = get_dist_dependency_conflicts(dist) if dist is not None else None
            if conflict:
                _logger.debug("ecs_otel: instrumentation %s skipped: %s", name, conflict)
                _handled[name] = "skipped"
                return
        instrumentor = entry_point.load()()
        if getattr(instrumentor, "is_instrumented_by_opentelemetry", False):
            _handled[name] = "instrumented"
            return
        extra = INSTRUMENT_KWARGS[name]() if name in INSTRUMENT_KWARGS else {}
        instrumentor.instrument(skip_dep_check=True, **{**extra, **kwargs})
        _handled[name] = "instrumented"
    except ModuleNotFoundError as exc:
        _logger.debug("ecs_otel: instrumentation %s skipped: %s", name, exc)
        _handled[name] = "skipped"
    except Exception as exc:
        _logger.warning("ecs_otel: instrumentation %s failed and was skipped: %s: %s",
                        name, type(exc).__name__, exc)
        _handled[name] = "failed"


def handle_entry_point(entry_point: Any, disabled: Iterable[str] = (), **kwargs: Any) -> None:
    """Instrument now or when its library is first imported; each entry point only once."""
    name = entry_point.name
    disabled = set(disabled)
    with _lock:
        if name in _handled:
            return
        if "*" in disabled or name in disabled:
            _handled[name] = "disabled"
            return
        _handled[name] = "pending"
    module = _target_module(name)
    if name in DEFERRED and not _wanted_now(name):
        # Process-wide instrumentors nobody asked for explicitly ride along with the first library
        # instrumentor that activates (which loads the same instrumentation base modules anyway).
        with _lock:
            _handled[name] = "armed"
            _deferred.append(lambda: _activate(entry_point, **kwargs))
        return
    if module is not None and not _module_findable(module):
        # The instrumented library is not installed: loading the instrumentor would only cost time
        # (and may import unrelated libraries, as aiobotocore's does with botocore).
        _logger.debug("ecs_otel: instrumentation %s skipped: module %s not installed", name, module)
        with _lock:
            _handled[name] = "skipped"
        return
    if module is None or module.split(".")[0] in sys.modules:
        _activate(entry_point, **kwargs)
        return
    with _lock:
        _handled[name] = "armed"
    top = module.split(".")[0]
    _get_finder().arm(top, lambda: _activate(entry_point, **kwargs))
    # Imported by another thread between the check and the arming: fire now.
    if top in sys.modules:
        _get_finder().fire(top)


def instrument_installed(disabled: Iterable[str] = ()) -> None:
    """Handle every installed ``opentelemetry_instrumentor`` entry point."""
    from importlib.metadata import entry_points

    disabled = tuple(disabled)
    try:
        eps = list(entry_points(group="opentelemetry_instrumentor"))
    except Exception as exc:
        _logger.warning("ecs_otel: cannot list instrumentors: %s", exc)
        return
    for ep in eps:
        handle_entry_point(ep, disabled)
