"""ecs-otel: OpenTelemetry for Python services on Amazon ECS.

``import ecs_otel.auto`` (or ``ecs_otel.configure()``) sets up traces, metrics and logs from the
environment, once per process. Nothing here raises into the application except a wrong keyword
passed to :func:`configure`.

The public interface: this package's :func:`configure` and :func:`shutdown`; ``ecs_otel.auto``; the
``opentelemetry-instrument`` entry points in ``ecs_otel.distro``; ``ecs_otel.resource.EcsResourceDetector``;
``ecs_otel.logging`` (``JsonFormatter`` and the names in its ``__all__``); ``ecs_otel.settings.Settings`` (the
``configure()`` keywords); ``ecs_otel.environment_variables``; ``ecs_otel.metadata``; and
``python -m ecs_otel.emulator``. Everything else (modules starting with ``_``, and the set-up's parts:
exporting, export health, instrumentation loading, tracing, metrics, lifecycle, the OTLP encoder) is internal
and may change without notice.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "configure", "shutdown"]


def configure(**overrides: Any) -> Any:
    """Configure OpenTelemetry for this process; later calls are no-ops returning the first result.

    ``overrides`` are :class:`ecs_otel.settings.Settings` field names (e.g. ``service_name="api"``,
    ``traces_exporter="console"``, ``shutdown_timeout_s=2``); they win over the environment.
    """
    from ecs_otel._setup import configure as _configure

    return _configure(**overrides)


def shutdown(timeout_s: float | None = None) -> bool:
    """Flush and stop all providers within ``timeout_s`` (default ``ECS_OTEL_SHUTDOWN_TIMEOUT``).

    Returns True when everything was flushed in time. Safe to call more than once, and before
    ``configure()`` (then it does nothing).
    """
    from ecs_otel._setup import current

    state = current()
    if state is None:
        return True
    try:
        return state.shutdown(timeout_s)
    except Exception:
        return False
