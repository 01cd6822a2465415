from __future__ import annotations

from tests.support.emulator import ecs_emulator  # noqa: F401  (the lead also exposes it in tests/conftest.py)
