from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from ecs_otel.logging import unconfigure_logging


@pytest.fixture
def clean_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Restore the root logger (handlers, level) and server loggers after a test that configures logging."""
    for var in ("ECS_OTEL_LOG_LEVEL", "ECS_OTEL_LOG_FORMAT", "ECS_OTEL_LOG_MAX_BYTES"):
        monkeypatch.delenv(var, raising=False)
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    touched = ["app", "app.db", "botocore", "gunicorn.error", "gunicorn.access", "uvicorn", "uvicorn.access"]
    saved_loggers = {
        name: (list(lg.handlers), lg.level, lg.propagate)
        for name in touched
        for lg in [logging.getLogger(name)]
    }
    try:
        yield
    finally:
        unconfigure_logging()
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for name, (handlers, level, propagate) in saved_loggers.items():
            lg = logging.getLogger(name)
            lg.handlers[:] = handlers
            lg.setLevel(level)
            lg.propagate = propagate
