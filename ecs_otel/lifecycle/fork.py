"""Fork hooks: gunicorn/uvicorn workers (and multiprocessing 'fork') get their own telemetry state.

The SDK's batch processors and metric reader already restart their threads in the child. What is
left for us: a new ``service.instance.id`` and ``process.pid`` per worker (so cumulative series and
spans from workers never collide), fresh HTTP sessions in the exporters (a pooled connection
shared with the parent would interleave bytes on one socket), and our own pollers.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

_logger = logging.getLogger("ecs_otel")
_hooks: list[Callable[[], None]] = []
_lock = threading.Lock()
_installed = False


def _run_child_hooks() -> None:
    for hook in list(_hooks):
        try:
            hook()
        except Exception as exc:  # a hook must never break the worker
            _logger.warning("ecs_otel: after-fork hook failed: %s", exc)


def register_fork_hook(hook: Callable[[], None]) -> None:
    """Run ``hook`` in every forked child, in registration order."""
    global _installed
    with _lock:
        _hooks.append(hook)
        if not _installed and hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_run_child_hooks)
            _installed = True
