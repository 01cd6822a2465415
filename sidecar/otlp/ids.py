"""Trace and span ids the OTLP specification calls invalid, and what a receiver does with them.

The proto says a trace id is 16 bytes and a span id 8, and that an id of any other length, or
all zeros, is invalid. Decisions (see docs/reliability.md):

* A **span** must have a valid ``trace_id`` and ``span_id`` (the fields are required). A span
  without them cannot be placed in any trace and a backend refuses it or files it under a trace
  nobody can find, so it is dropped at the receiver, counted, and reported to the client as an
  OTLP ``partial_success`` (the rest of the request is accepted). ``parent_span_id`` is optional
  (empty for a root span): an invalid one is cleared, as the X-Ray translator always did, so the
  span is kept as a root rather than lost.
* A **log record**'s ids are optional, and the specification asks receivers to treat an invalid
  one as absent: it is cleared, the record kept, and the repair counted.
"""

from __future__ import annotations

from google.protobuf.message import Message

from sidecar.otlp.signals import Signal

_ZERO_TRACE = bytes(16)
_ZERO_SPAN = bytes(8)


def _span_ok(span) -> bool:  # type: ignore[no-untyped-def]
    trace_id, span_id = span.trace_id, span.span_id
    return len(trace_id) == 16 and len(span_id) == 8 and trace_id != _ZERO_TRACE and span_id != _ZERO_SPAN


def screen(signal: Signal, batch: Message) -> tuple[int, int]:
    """Drops spans with invalid ids and clears invalid log record ids, in place.

    Returns ``(dropped, repaired)``: spans removed, and log records or spans whose ids were cleared.
    """
    if signal is Signal.TRACES:
        return _screen_spans(batch)
    if signal is Signal.LOGS:
        return 0, _screen_logs(batch)
    return 0, 0


def _screen_spans(batch: Message) -> tuple[int, int]:
    dropped = repaired = 0
    for rs in batch.resource_spans:  # type: ignore[attr-defined]
        for ss in rs.scope_spans:
            spans = ss.spans
            bad = False
            for span in spans:  # one pass; the common case ends here
                trace_id, span_id, parent = span.trace_id, span.span_id, span.parent_span_id
                if len(trace_id) != 16 or len(span_id) != 8 or trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
                    bad = True
                elif parent and (len(parent) != 8 or parent == _ZERO_SPAN):
                    span.parent_span_id = b""
                    repaired += 1
            if bad:
                keep = []
                for span in spans:
                    if _span_ok(span):
                        fresh = type(span)()
                        fresh.CopyFrom(span)
                        keep.append(fresh)
                dropped += len(spans) - len(keep)
                del spans[:]
                spans.extend(keep)
    return dropped, repaired


def _screen_logs(batch: Message) -> int:
    repaired = 0
    for rl in batch.resource_logs:  # type: ignore[attr-defined]
        for sl in rl.scope_logs:
            for record in sl.log_records:
                trace_id, span_id = record.trace_id, record.span_id
                if not trace_id and not span_id:
                    continue
                fixed = False
                if trace_id and (len(trace_id) != 16 or trace_id == _ZERO_TRACE):
                    record.trace_id = b""
                    fixed = True
                if span_id and (len(span_id) != 8 or span_id == _ZERO_SPAN):
                    record.span_id = b""
                    fixed = True
                repaired += fixed
    return repaired
