"""``opentelemetry-instrument`` integration: ``OTEL_PYTHON_DISTRO=ecs_otel OTEL_PYTHON_CONFIGURATOR=ecs_otel``.

The configurator runs the same one-time set-up as ``import ecs_otel.auto`` but leaves the
instrumentors to ``opentelemetry-instrument``, whose loop hands each one to
:meth:`EcsOtelDistro.load_instrumentor`; that arms it through :mod:`ecs_otel.instrumentation`, so
libraries the app never imports are never loaded, and a later ``import ecs_otel.auto`` finds
everything done.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]


class EcsOtelDistro(BaseDistro):
    _settings: Any = None

    def _configure(self, **kwargs: Any) -> None:
        import os

        # Runs before the instrumentors are loaded: stable HTTP semantic conventions by default,
        # as with ``import ecs_otel.auto``.
        os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http")

    def load_instrumentor(self, entry_point: Any, **kwargs: Any) -> None:
        from ecs_otel._setup import current
        from ecs_otel.instrumentation import handle_entry_point
        from ecs_otel.settings import Settings

        state = current()
        if state is not None:
            settings = state.settings
        else:
            # Another configurator is in charge: read the environment once for all entry points, so a
            # bad ECS_OTEL_* value is one warning, not one per instrumentor.
            if self._settings is None:
                self._settings = Settings.from_env()
            settings = self._settings
        if settings.disabled or not settings.instrumentation:
            return
        handle_entry_point(entry_point, settings.disabled_instrumentations, **kwargs)


class EcsOtelConfigurator:
    """Entry point ``opentelemetry_configurator``: ``configure(**kwargs)`` is called once at start-up."""

    def configure(self, **kwargs: Any) -> None:
        from ecs_otel._setup import configure

        try:
            configure(instrument=False)
        except Exception:
            pass
