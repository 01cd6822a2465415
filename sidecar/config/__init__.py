"""The sidecar's configuration: the library's settings mechanism (:mod:`ecs_otel._setting`), applied strictly.

Components declare ``Settings`` dataclasses with :func:`setting` (the same ``setting(default, help=, env=)`` the
library uses) and the loader builds them with :func:`load_settings` from a TOML table plus the environment,
using the one coercion table both halves share (:func:`coerce`, :func:`describe`). Anything wrong is a
:class:`ConfigError` naming the key or variable, and the sidecar stops with exit 2 before opening a port.
"""

from ecs_otel._setting import coerce, describe, load_settings, setting
from sidecar.config.errors import ConfigError

__all__ = ["ConfigError", "coerce", "describe", "load_settings", "setting"]
