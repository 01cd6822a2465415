from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.database import DirectoryBasedExampleDatabase

from tests.support.otlp_sink import SinkProcess

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "ecs"  # copied from shared/fixtures/ecs (see PROVENANCE.md)

# Hypothesis: the same examples on every run, everywhere (a fresh clone, a laptop, CI), and nothing written into
# the working tree. A randomised run that found a failure once made every later run in that clone fail through
# the saved `.hypothesis/` database, while other clones passed: a test suite that depends on luck and on history.
# `HYPOTHESIS_PROFILE=explore` searches randomly (more examples, a database under the system temp dir) for
# someone hunting bugs on purpose; whatever it finds becomes an explicit `@example` or a regression test.
HYPOTHESIS_HOME = Path(
    os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(Path(tempfile.gettempdir()) / "ecs-otel-hypothesis"))
)
set_hypothesis_home_dir(HYPOTHESIS_HOME)  # the unicode charmap cache too, not only the example database
settings.register_profile("deterministic", derandomize=True, database=None, print_blob=False)
settings.register_profile(
    "explore", derandomize=False, max_examples=1000,
    database=DirectoryBasedExampleDatabase(str(HYPOTHESIS_HOME / "examples")),
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))


@pytest.fixture
def otlp_sink(tmp_path: Path) -> Iterator[SinkProcess]:
    """A real OTLP/HTTP backend process on loopback that records what it receives."""
    sink = SinkProcess(tmp_path)
    try:
        yield sink
    finally:
        sink.stop()

from tests.support.emulator import ecs_emulator  # noqa: E402, F401 - shared fixture

#: Fixtures that start a real process (sidecar, emulator, OTLP sink, moto, AWS stub, browser).
_PROCESS_FIXTURES = frozenset({"otlp_sink", "ecs_emulator", "emulator", "sidecar_factory", "fault_sidecar", "moto",
                               "aws_env", "aws_stub", "chromium_page", "sidecar_with_stats", "stack", "sink"})
#: What a test module mentions when it starts processes itself.
_PROCESS_MARKS = ("subprocess", "tests.support.sidecar", "tests.support.emulator", "tests.support.otlp_sink",
                  "moto_process", "aws_stub")
_integration_modules: dict[str, bool] = {}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark integration tests (real processes on loopback), so `-m "not integration"` is the fast unit suite."""
    for item in items:
        path = str(item.path)
        if path not in _integration_modules:
            try:
                text = item.path.read_text()
            except OSError:
                text = ""
            _integration_modules[path] = any(mark in text for mark in _PROCESS_MARKS)
        if _integration_modules[path] or _PROCESS_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)
