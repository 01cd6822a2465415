"""Declaring settings: the library's ``setting(default, help=, env=)``, re-used so both halves declare alike.

Every settings dataclass in the sidecar is declared with :func:`setting`, so the loader validates TOML and
environment values with the same coercion table as the library (:mod:`ecs_otel._setting`), and the
documentation's reference (docs/reference/sidecar.md) is generated from the same declarations (a test fails when
the two drift).
"""

from __future__ import annotations

from ecs_otel._setting import BOUNDS, ENV, HELP, setting

__all__ = ["BOUNDS", "ENV", "HELP", "setting"]
