"""Process lifecycle: bounded flush on exit and SIGTERM, and per-worker state after fork."""

from ecs_otel.lifecycle.fork import register_fork_hook
from ecs_otel.lifecycle.shutdown import ShutdownCoordinator

__all__ = ["ShutdownCoordinator", "register_fork_hook"]
