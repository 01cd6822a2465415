"""``import ecs_otel.auto``: configure everything from the environment, once.

Put it first in the application's entry module (before the libraries it instruments are
imported, though those imported earlier are instrumented too). Importing it again, or also
running under ``opentelemetry-instrument`` with ``OTEL_PYTHON_DISTRO=ecs_otel``, changes nothing.
"""

from ecs_otel._setup import configure as _configure

try:
    _configure()
except TypeError:  # pragma: no cover - only reachable with overrides, which auto never passes
    pass
