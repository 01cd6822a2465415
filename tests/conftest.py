from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.otlp_sink import SinkProcess

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "ecs"  # copied from shared/fixtures/ecs (see PROVENANCE.md)


@pytest.fixture
def otlp_sink(tmp_path: Path) -> Iterator[SinkProcess]:
    """A real OTLP/HTTP backend process on loopback that records what it receives."""
    sink = SinkProcess(tmp_path)
    try:
        yield sink
    finally:
        sink.stop()

from tests.support.emulator import ecs_emulator  # noqa: E402, F401 - shared fixture
