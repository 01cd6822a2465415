"""Where things are, for tests at any depth: a test module's own path no longer says where the repository is."""

from __future__ import annotations

from pathlib import Path

#: The repository's top level (the working directory of every process the tests start).
REPO_ROOT = Path(__file__).resolve().parents[2]
#: Real ECS metadata documents, copied from shared/fixtures/ecs (see PROVENANCE.md there).
ECS_FIXTURES = REPO_ROOT / "tests" / "fixtures" / "ecs"
