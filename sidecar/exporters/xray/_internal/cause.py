"""The ``cause`` block from OpenTelemetry exception events (``exception.type/message/stacktrace``).

Stack traces are parsed per language (the resource's ``telemetry.sdk.language``, else guessed from the text)
into X-Ray frames, innermost first: Python tracebacks, Java (and PHP, Kotlin, Scala: the JVM format), V8
(``nodejs``, ``javascript``, ``webjs``), .NET, Go (``runtime/debug.Stack``) and Ruby backtraces.

Chained exceptions become linked exceptions, as the OpenTelemetry Collector writes them: a Java ``Caused by:``
or a Python ``The above exception was the direct cause …``/``During handling …`` section is an exception of its
own, and the exception it explains points at it with ``cause`` (its id). Ids are derived from the span id and
the exception's position, so a retried batch writes the same document.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.trace.v1.trace_pb2 import Span

from sidecar.otlp.attributes import to_dict

#: Stack frames kept per exception; X-Ray shows the innermost ones that matter.
MAX_FRAMES = 50
#: Linked exceptions kept per event (a cause chain longer than this is a loop or a generated one).
MAX_CHAIN = 20
#: A line number longer than this is noise, not a line (and no JSON reader keeps thirty digits).
_MAX_LINE_DIGITS = 9

_PY_FRAME = re.compile(r'^\s*File "(?P<path>[^"]+)", line (?P<line>\d+)(?:, in (?P<label>.+))?$')
_PY_CHAIN = re.compile(
    r"^(?:The above exception was the direct cause of the following exception:"
    r"|During handling of the above exception, another exception occurred:)\s*$"
)
_PY_LAST = re.compile(r"^(?P<type>[A-Za-z_][\w.]*)(?::\s?(?P<message>.*))?$")
_JAVA_FRAME = re.compile(r"^\s*at (?P<label>[^\s(]+)\((?P<path>[^:)]*)(?::(?P<line>\d+))?\)$")
_JAVA_CAUSE = re.compile(r"^Caused by: (?P<type>[^:\s]+)(?::\s?(?P<message>.*))?$")
_JAVA_SUPPRESSED = re.compile(r"^\s+Suppressed: ")
_V8_FRAME = re.compile(r"^\s+at (?:(?P<label>.+?) \((?P<loc>[^()]*)\)|(?P<bare>[^()]+))$")
_DOTNET_FRAME = re.compile(r"^\s*at (?P<label>.+?)(?: in (?P<path>.+):line (?P<line>\d+))?\s*$")
_GO_FUNC = re.compile(r"^(?P<label>[^\s].*)\(.*\)$")
_GO_FILE = re.compile(r"^\t(?P<path>[^:\s]+):(?P<line>\d+)(?: \+0x[0-9a-f]+)?$")
_RUBY_FRAME = re.compile(r"^\s*(?:from )?(?P<path>[^:\s][^:]*):(?P<line>\d+):in [`'](?P<label>[^']*)'")

JVM = frozenset({"java", "php", "kotlin", "scala"})
V8 = frozenset({"nodejs", "javascript", "webjs"})


@dataclass
class Parsed:
    """One exception of a chain: the recorded one first, then what caused it."""

    type: str
    message: str
    frames: list[dict[str, Any]] = field(default_factory=list)


def _frame(path: str | None, line: str | None, label: str | None) -> dict[str, Any]:
    frame: dict[str, Any] = {"path": path or "", "label": (label or "").strip()}
    if line and len(line) <= _MAX_LINE_DIGITS:
        frame["line"] = int(line)
    return frame


def guess_language(text: str) -> str:
    if "Traceback (most recent call last)" in text or re.search(r'^\s*File ".+", line \d+', text, re.M):
        return "python"
    if re.search(r"^goroutine \d+ \[", text, re.M):
        return "go"
    if re.search(r"^\s+at [^\s(]+\([^)]*\.(?:java|kt|scala)(?::\d+)?\)$|^Caused by: ", text, re.M):
        return "java"
    if re.search(r"^\s+at .+ in .+:line \d+\s*$", text, re.M):
        return "dotnet"
    if re.search(r"^\s+at .*:\d+:\d+\)?$", text, re.M):
        return "nodejs"
    if _RUBY_FRAME.search(text):
        return "ruby"
    return "java"  # the JVM pattern is the most common "at label(path:line)" shape


def parse(exc_type: str, message: str, stack: str, language: str) -> list[Parsed]:
    """The exception chain in ``stack`` (at least the recorded exception itself)."""
    lang = language.lower() if language else guess_language(stack)
    if lang == "python":
        return _python(exc_type, message, stack)
    if lang in V8:
        return [Parsed(exc_type, message, _lines(stack, _v8_frame))]
    if lang == "dotnet":
        return [Parsed(exc_type, message, _lines(stack, _dotnet_frame))]
    if lang == "go":
        return [Parsed(exc_type, message, _go(stack))]
    if lang == "ruby":
        return [Parsed(exc_type, message, _lines(stack, _ruby_frame))]
    return _java(exc_type, message, stack)


def _lines(stack: str, parse_line: Any) -> list[dict[str, Any]]:
    return [f for f in map(parse_line, stack.splitlines()) if f is not None]


def _v8_frame(line: str) -> dict[str, Any] | None:
    m = _V8_FRAME.match(line)
    if not m:
        return None
    loc = m["loc"] if m["loc"] is not None else m["bare"]
    label = m["label"] or ""
    parts = loc.rsplit(":", 2)
    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
        return _frame(parts[0], parts[1], label)
    return _frame(loc.strip(), None, label)


def _dotnet_frame(line: str) -> dict[str, Any] | None:
    m = _DOTNET_FRAME.match(line)
    return _frame(m["path"], m["line"], m["label"]) if m else None


def _ruby_frame(line: str) -> dict[str, Any] | None:
    m = _RUBY_FRAME.match(line)
    return _frame(m["path"], m["line"], m["label"]) if m else None


def _go(stack: str) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    label: str | None = None
    for line in stack.splitlines():
        m = _GO_FILE.match(line)
        if m and label is not None:
            frames.append(_frame(m["path"], m["line"], label))
            label = None
            continue
        f = _GO_FUNC.match(line)
        label = f["label"] if f and not line.startswith("goroutine ") else None
    return frames


def _java(exc_type: str, message: str, stack: str) -> list[Parsed]:
    chain = [Parsed(exc_type, message)]
    suppressed = False
    for line in stack.splitlines()[1:]:  # the first line repeats the type and message
        cause = _JAVA_CAUSE.match(line)
        if cause:
            suppressed = False
            chain.append(Parsed(cause["type"], cause["message"] or ""))
            continue
        if _JAVA_SUPPRESSED.match(line):
            suppressed = True  # a suppressed exception's frames are not this chain's
            continue
        m = _JAVA_FRAME.match(line)
        if m and not suppressed:
            label = m["label"].split("/")[-1]  # class loader or module prefix ("java.base/…")
            chain[-1].frames.append(_frame(m["path"], m["line"], label))
    return chain


def _python(exc_type: str, message: str, stack: str) -> list[Parsed]:
    """Python prints the chain oldest first; X-Ray wants the recorded exception first, then its cause."""
    sections: list[list[str]] = [[]]
    for line in stack.splitlines():
        if _PY_CHAIN.match(line):
            sections.append([])
        else:
            sections[-1].append(line)
    chain: list[Parsed] = []
    for i, lines in enumerate(reversed(sections)):
        frames = [
            _frame(m["path"], m["line"], m["label"]) for m in map(_PY_FRAME.match, lines) if m is not None
        ]
        frames.reverse()
        if i == 0:
            chain.append(Parsed(exc_type, message, frames))
            continue
        last = next((ln for ln in reversed(lines) if ln.strip() and not ln.startswith(" ")), "")
        m = _PY_LAST.match(last)
        chain.append(Parsed(m["type"] if m else last, (m["message"] or "") if m else "", frames))
    return chain


def _exception_id(span_id: bytes, event: int, position: int) -> str:
    return hashlib.blake2b(span_id + bytes([event % 256, position % 256]), digest_size=8).hexdigest()


def cause_block(span: Span, remote: bool, language: str = "") -> dict[str, Any] | None:
    exceptions: list[dict[str, Any]] = []
    for i, event in enumerate(span.events):
        if event.name != "exception":
            continue
        attrs = to_dict(event.attributes)
        exc_type = str(attrs.get("exception.type", ""))
        message = str(attrs.get("exception.message", ""))
        stack = attrs.get("exception.stacktrace")
        chain = parse(exc_type, message, str(stack), language) if stack else [Parsed(exc_type, message)]
        chain = chain[:MAX_CHAIN]
        ids = [_exception_id(span.span_id, i, j) for j in range(len(chain))]
        for j, parsed in enumerate(chain):
            exc: dict[str, Any] = {"id": ids[j], "type": parsed.type, "message": parsed.message}
            if remote:
                exc["remote"] = True
            if parsed.frames:
                exc["stack"] = parsed.frames[:MAX_FRAMES]
            if len(parsed.frames) > MAX_FRAMES:
                exc["truncated"] = len(parsed.frames) - MAX_FRAMES
            if j + 1 < len(chain):
                exc["cause"] = ids[j + 1]
            exceptions.append(exc)
    if not exceptions:
        return None
    return {"exceptions": exceptions}
