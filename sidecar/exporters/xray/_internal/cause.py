"""The ``cause`` block from OpenTelemetry exception events (``exception.type/message/stacktrace``)."""

from __future__ import annotations

import re
from typing import Any

from opentelemetry.proto.trace.v1.trace_pb2 import Span

from sidecar.otlp.attributes import to_dict

#: Stack frames kept per exception; X-Ray shows the innermost ones that matter.
MAX_FRAMES = 50
_PY_FRAME = re.compile(r'^\s*File "(?P<path>[^"]+)", line (?P<line>\d+), in (?P<label>.+)$')
_JAVA_FRAME = re.compile(r"^\s*at (?P<label>[\w.$<>]+)\((?P<path>[^:)]+)(?::(?P<line>\d+))?\)$")


def parse_stack(text: str) -> tuple[list[dict[str, Any]], int]:
    """Frames innermost first (X-Ray's order), and how many were skipped beyond ``MAX_FRAMES``."""
    frames: list[dict[str, Any]] = []
    python = "Traceback (most recent call last)" in text
    for line in text.splitlines():
        m = _PY_FRAME.match(line) or _JAVA_FRAME.match(line)
        if m:
            frame: dict[str, Any] = {"path": m["path"], "label": m["label"].strip()}
            if m["line"] and len(m["line"]) <= 9:  # a line number, not thirty digits no JSON reader keeps
                frame["line"] = int(m["line"])
            frames.append(frame)
    if python:
        frames.reverse()
    skipped = max(0, len(frames) - MAX_FRAMES)
    return frames[:MAX_FRAMES], skipped


def cause_block(span: Span, remote: bool) -> dict[str, Any] | None:
    exceptions: list[dict[str, Any]] = []
    for i, event in enumerate(span.events):
        if event.name != "exception":
            continue
        attrs = to_dict(event.attributes)
        exc: dict[str, Any] = {
            "id": (span.span_id[:7] + bytes([i % 256])).hex(),
            "type": str(attrs.get("exception.type", "")),
            "message": str(attrs.get("exception.message", "")),
        }
        if remote:
            exc["remote"] = True
        stack = attrs.get("exception.stacktrace")
        if stack:
            frames, skipped = parse_stack(str(stack))
            if frames:
                exc["stack"] = frames
            if skipped:
                exc["truncated"] = skipped
        exceptions.append(exc)
    if not exceptions:
        return None
    return {"exceptions": exceptions}
