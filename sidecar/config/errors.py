from __future__ import annotations


class ConfigError(Exception):
    """A bad configuration value. ``key`` is the dotted TOML key or the env variable name."""

    def __init__(self, key: str, expected: str, got: object = None) -> None:
        self.key = key
        self.expected = expected
        self.got = got
        shown = "" if got is None else f", got {got!r}"
        super().__init__(f"{key}: expected {expected}{shown}")
