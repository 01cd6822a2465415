"""Flush everything within one budget, on ``atexit``, on SIGTERM, or when the app asks.

Why a coordinator: the SDK's own exit handlers wait up to 30 s per provider and the stock OTLP
exporters retry for ~7 s when nothing listens, while Python skips ``atexit`` entirely when SIGTERM
(how ECS stops a container) arrives with the default disposition. Here all providers flush in
parallel threads bounded by ``ECS_OTEL_SHUTDOWN_TIMEOUT``; at the deadline every exporter is
aborted (back-off interrupted) and the process moves on. SIGTERM is chained: after the flush the
app's own handler runs, or, when there was none, the default action (terminate by the signal)
is re-raised, so the exit status stays what it would have been.

Exporters are built lazily, and a process that exits within the batch delay first builds them at
exit. ``atexit`` is too late for that: by then Python refuses new thread-pool work, which importing
the gRPC exporter needs. So each exporter is *prepared* (built) as soon as the main thread
finishes, in a hook that runs before the standard library's thread pools shut down.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import socket
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_logger = logging.getLogger("ecs_otel")


@dataclass
class _Flushable:
    name: str
    shutdown: Callable[[float], Any]  # takes the remaining seconds
    abort: Callable[[], None]
    endpoint: str | None = None
    #: Export what is queued but keep running (SIGTERM while the app's own handler drains); takes seconds.
    flush: Callable[[float], Any] | None = None
    #: Build what the exporter needs (imports, channel) while the interpreter can still do so.
    prepare: Callable[[], Any] | None = None


def receiver_refuses(endpoint: str, timeout_s: float = 0.2) -> bool:
    """True when nothing listens at a loopback ``endpoint`` (connection refused): retrying is pointless."""
    try:
        parsed = urllib.parse.urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
        host = parsed.hostname or ""
        if host not in ("127.0.0.1", "localhost", "::1"):
            return False
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        with socket.create_connection((host, port), timeout=timeout_s):
            return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False


def in_multiprocessing_child() -> bool:
    """True in a process that ``multiprocessing`` started (its module is only looked up, never imported)."""
    process = sys.modules.get("multiprocessing.process")
    if process is None:
        return False
    try:
        return process.parent_process() is not None
    except Exception:
        return False


def register_before_thread_pools_stop(callback: Callable[[], None]) -> bool:
    """Run ``callback`` when the main thread finishes, before ``concurrent.futures`` refuses new work.

    CPython runs these hooks (``threading._register_atexit``) last-registered first, before joining
    non-daemon threads and before ``atexit``. The thread-pool module registers its own hook when first
    imported, so it is imported here first, making ours run earlier. False when the interpreter has
    no such hook (then the exit flush builds exporters in ``atexit``, which works for OTLP/HTTP).
    """
    register = getattr(threading, "_register_atexit", None)
    if register is None:
        return False
    import concurrent.futures.thread  # noqa: F401  (see above: its hook must be registered before ours)

    try:
        register(callback)
    except RuntimeError:  # configured while the interpreter is already exiting
        return False
    return True


@dataclass
class ShutdownCoordinator:
    timeout_s: float = 5.0
    _items: list[_Flushable] = field(default_factory=list)
    _done: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _previous_sigterm: Any = None
    _sigterm_installed: bool = False
    _extra: list[Callable[[], None]] = field(default_factory=list)
    _before_flush: list[Callable[[str, float], Any]] = field(default_factory=list)

    def add(self, name: str, shutdown: Callable[[float], Any], abort: Callable[[], None],
            endpoint: str | None = None, flush: Callable[[float], Any] | None = None,
            prepare: Callable[[], Any] | None = None) -> None:
        self._items.append(_Flushable(name, shutdown, abort, endpoint, flush, prepare))

    def on_shutdown(self, callback: Callable[[], None]) -> None:
        """Quick, non-blocking work run first (stop pollers)."""
        self._extra.append(callback)

    def before_flush(self, callback: Callable[[str, float], Any]) -> None:
        """Work that produces the last data (end open spans), run before the final flush.

        Called with the reason (``SIGTERM``, ``exit``, ``shutdown``) and the flush deadline
        (``time.monotonic()``). Not called by the SIGTERM flush that leaves a draining app running.
        """
        self._before_flush.append(callback)

    def after_fork_in_child(self) -> None:
        self._lock = threading.Lock()
        self._done = False

    # -- the flush ---------------------------------------------------------------------------------
    def shutdown(self, timeout_s: float | None = None, reason: str = "shutdown") -> bool:
        """Flush and stop all providers within ``timeout_s``; True when everything finished in time.

        ``reason`` says why the process stops (``SIGTERM``, ``exit`` or ``shutdown`` for an explicit call);
        spans still open are ended with it before the flush.
        """
        with self._lock:
            if self._done:
                return True
            self._done = True
        budget = self.timeout_s if timeout_s is None else max(float(timeout_s), 0.0)
        deadline = time.monotonic() + budget
        for callback in self._extra:
            try:
                callback()
            except Exception:
                pass
        for before in self._before_flush:
            try:
                before(reason, deadline)
            except Exception as exc:
                _logger.debug("ecs_otel: before-flush step failed: %s", exc)
        for item in self._items:
            if item.endpoint and receiver_refuses(item.endpoint):
                _logger.debug("ecs_otel: no OTLP receiver at %s; dropping queued %s", item.endpoint, item.name)
                item.abort()
        threads = []
        for item in self._items:
            t = threading.Thread(target=self._run, args=(item, deadline), name=f"ecs-otel-shutdown-{item.name}",
                                 daemon=True)
            t.start()
            threads.append(t)
        for t in threads:
            t.join(max(deadline - time.monotonic(), 0.0))
        finished = not any(t.is_alive() for t in threads)
        if not finished:
            _logger.debug("ecs_otel: shutdown budget of %.1fs used up; aborting exports", budget)
            for item in self._items:
                item.abort()
            for t in threads:
                t.join(0.2)
        return finished

    @staticmethod
    def _run(item: _Flushable, deadline: float) -> None:
        try:
            item.shutdown(max(deadline - time.monotonic(), 0.0))
        except Exception as exc:
            _logger.debug("ecs_otel: %s shutdown failed: %s", item.name, exc)

    # -- hooks -------------------------------------------------------------------------------------
    def install(self) -> None:
        atexit.register(self._atexit)
        register_before_thread_pools_stop(self._prepare_for_exit)
        self._install_sigterm()

    def _prepare_for_exit(self) -> None:
        """The main thread has finished: build every exporter the final flush will need, one by one.

        An exporter whose loopback receiver refuses connections is aborted instead (the flush would
        drop its data anyway), which spares the import. In a ``multiprocessing`` child this is also
        the flush itself: such a process leaves through ``os._exit()`` right after this hook (forked
        and forkserver children always do), so ``atexit`` would never run and the worker's last
        spans would be lost. Never raises: this runs inside Python's exit.
        """
        if self._done:
            return
        try:
            # Bounded: a build can block for good (an import lock held by another thread, or one a fork
            # left held); past the budget the exporters are aborted and exit goes on.
            worker = threading.Thread(target=self._prepare_each, name="ecs-otel-prepare-exit", daemon=True)
            worker.start()
            worker.join(self.timeout_s)
            if worker.is_alive():
                _logger.debug("ecs_otel: exporters not ready after %.1fs; dropping what is queued", self.timeout_s)
                for item in self._items:
                    item.abort()
                self.shutdown(timeout_s=0.0, reason="exit")  # the budget is spent: atexit has nothing left to do
                return
            if in_multiprocessing_child():
                self.shutdown(reason="exit")
        except Exception as exc:
            _logger.debug("ecs_otel: exit preparation failed: %s", exc)

    def _prepare_each(self) -> None:
        for item in self._items:
            if item.prepare is None:
                continue
            try:
                if item.endpoint and receiver_refuses(item.endpoint):
                    item.abort()
                    continue
                item.prepare()
            except Exception as exc:
                _logger.debug("ecs_otel: preparing %s for exit failed: %s", item.name, exc)

    def _atexit(self) -> None:
        try:
            self.shutdown(reason="exit")
        except Exception:
            pass

    def _install_sigterm(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            _logger.debug("ecs_otel: not in the main thread; SIGTERM flush relies on the app's exit path")
            return
        try:
            previous = signal.getsignal(signal.SIGTERM)
            if previous is signal.SIG_IGN or previous is None:
                return  # the app asked to ignore SIGTERM, or a non-Python handler owns it
            self._previous_sigterm = previous
            signal.signal(signal.SIGTERM, self._on_sigterm)
            self._sigterm_installed = True
        except (ValueError, OSError) as exc:
            _logger.debug("ecs_otel: cannot install SIGTERM handler: %s", exc)

    def _on_sigterm(self, signum: int, frame: Any) -> None:
        previous = self._previous_sigterm
        if callable(previous):
            # The app handles SIGTERM itself (graceful drain …): flush what is queued, keep running
            # its handler; atexit does the final shutdown when the app actually exits.
            self._flush_only()
            previous(signum, frame)
            return
        try:
            self.shutdown(reason="SIGTERM")
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

    def _flush_only(self) -> None:
        """Every provider exports what it holds, in parallel, within the budget; nothing is shut down."""
        deadline = time.monotonic() + self.timeout_s
        threads = []
        for item in self._items:
            if item.flush is None:
                continue

            def run(flush: Callable[[float], Any] = item.flush, name: str = item.name) -> None:
                try:
                    flush(max(deadline - time.monotonic(), 0.0))
                except Exception as exc:
                    _logger.debug("ecs_otel: %s flush failed: %s", name, exc)

            t = threading.Thread(target=run, daemon=True, name=f"ecs-otel-sigterm-flush-{item.name}")
            t.start()
            threads.append(t)
        for t in threads:
            t.join(max(deadline - time.monotonic(), 0.0))
