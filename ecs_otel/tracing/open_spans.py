"""Spans still running when the process stops: tracked while open, ended (as errors) before the last flush.

Why: ECS stops a task with SIGTERM while requests are being served. The batch processor only ever
sees spans that have ended, so the span of every in-flight request — often the one that explains
why a deployment hurt — was lost with its whole trace. :class:`OpenSpanTracker` remembers each
recording span from ``on_start`` to ``on_end``; at shutdown :meth:`OpenSpanTracker.end_open_spans`
ends the ones still open with status ERROR and ``ecs_otel.shutdown.ended=true`` so they are exported.

Bounded: at most ``limit`` spans are tracked at once; the rest are counted in ``untracked`` (and
reported at shutdown) rather than slowing every span down. References are weak, so a span the app
drops without ending does not stay in memory.
"""

from __future__ import annotations

import logging
import time
import weakref
from typing import Any

from opentelemetry.sdk.trace import SpanProcessor

_logger = logging.getLogger("ecs_otel")

#: Default bound on spans tracked at once (a server with more in flight is rare; each entry is ~100 bytes).
DEFAULT_LIMIT = 10_000
#: Boolean attribute set on a span that the library ended because the process was stopping.
ENDED_ATTRIBUTE = "ecs_otel.shutdown.ended"
#: Why the process stopped: ``SIGTERM``, ``exit`` (the interpreter exited) or ``shutdown`` (``ecs_otel.shutdown()``).
REASON_ATTRIBUTE = "ecs_otel.shutdown.reason"


class _SpanRef(weakref.ref):
    """A weak reference that knows its span id: ``weakref.KeyedRef`` without its Python-level constructor.

    Made for every recorded span (with Application Signals, every span): ``KeyedRef``'s ``__new__`` and
    ``__init__`` are Python code, about 1.4 µs here against 0.3 µs for this C-built reference plus one slot.
    """

    __slots__ = ("key",)
    key: int


class OpenSpanTracker(SpanProcessor):
    """A ``SpanProcessor`` that keeps a bounded, weak set of the spans that have started and not ended.

    On the path of every span, so kept cheap (about 3 µs per span measured, against 9 µs for a
    ``WeakValueDictionary`` under a lock): a plain dict from span id to a weak reference, relying on
    single dict operations being atomic. The bound may be overshot by a few entries under a race
    between threads, which is harmless. ``on_end`` receives a copy of the span, hence the id key.
    """

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self.limit = max(int(limit), 0)
        #: Spans that started while ``limit`` spans were already tracked (they cannot be ended at shutdown).
        self.untracked = 0
        #: Spans ended by :meth:`end_open_spans`.
        self.ended_at_shutdown = 0
        self._open: dict[int, _SpanRef] = {}

    # -- SpanProcessor ------------------------------------------------------------------------------
    def on_start(self, span: Any, parent_context: Any = None) -> None:
        span_id = span.get_span_context().span_id
        if len(self._open) >= self.limit:
            self.untracked += 1
            return
        ref = _SpanRef(span, self._collected)
        ref.key = span_id
        self._open[span_id] = ref

    def on_end(self, span: Any) -> None:
        context = span.context
        if context is not None:
            self._open.pop(context.span_id, None)

    def _collected(self, ref: _SpanRef) -> None:
        """A span the app dropped without ending was garbage-collected: forget it (runs inside the GC)."""
        if self._open.get(ref.key) is ref:
            self._open.pop(ref.key, None)

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True

    def open_count(self) -> int:
        return len(self._open)

    def reset_after_fork(self) -> None:
        """In a forked child: the parent's open spans are the parent's to end (ending copies would duplicate them)."""
        self._open = {}
        self.untracked = 0

    # -- shutdown -----------------------------------------------------------------------------------
    def end_open_spans(self, reason: str, deadline: float | None = None) -> int:
        """End every tracked span still recording, as an error naming ``reason``; returns how many.

        Runs before the batch processors flush, so the spans ended here are exported with the rest.
        Stops at ``deadline`` (``time.monotonic()``) to leave the flush its share of the budget.
        Never raises.
        """
        from opentelemetry.trace import Status, StatusCode

        spans = [span for span in (ref() for ref in self._snapshot()) if span is not None]
        ended = 0
        for span in spans:
            if deadline is not None and time.monotonic() > deadline:
                break
            try:
                if not span.is_recording():
                    continue
                span.set_attribute(ENDED_ATTRIBUTE, True)
                span.set_attribute(REASON_ATTRIBUTE, reason)
                span.set_status(Status(StatusCode.ERROR, f"span still open when the process stopped ({reason})"))
                span.end()
                ended += 1
            except Exception as exc:  # a span of a foreign SDK subclass: skip it, never fail the exit
                _logger.debug("ecs_otel: could not end an open span at shutdown: %s", exc)
        self.ended_at_shutdown += ended
        if ended:
            _logger.debug("ecs_otel: ended %d span(s) still open at shutdown (%s)", ended, reason)
        if self.untracked:
            _logger.warning("ecs_otel: %d span(s) started while %d were already open were not tracked; "
                            "any of them still open at shutdown was lost", self.untracked, self.limit)
        return ended

    def _snapshot(self) -> list[_SpanRef]:
        """Take and clear the tracked references; retried when another thread (or the GC) changed the dict."""
        for _ in range(100):
            try:
                refs = list(self._open.values())
            except RuntimeError:  # "dictionary changed size during iteration"
                continue
            self._open.clear()
            return refs
        return []
