"""The sidecar's configuration error: the library's :class:`~ecs_otel._setting.SettingError`, one class for both.

``key`` is the dotted TOML key or the environment variable's name; ``validate-config`` and start-up print it and
exit 2.
"""

from __future__ import annotations

from ecs_otel._setting import SettingError as ConfigError

__all__ = ["ConfigError"]
