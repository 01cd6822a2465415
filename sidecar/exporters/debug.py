"""``debug``: what the sidecar is sending, readable on stdout (and so in ``docker logs``).

``basic`` prints one summary line per batch; ``detailed`` adds one line per span, data point
or log record. Lines start with ``otel-debug`` so they are easy to grep out of the sidecar's
own JSON logs, and every line is capped so one huge attribute cannot flood the terminal.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal, TextIO

from google.protobuf.message import Message

from sidecar.config import environment_variables as V
from sidecar.config import setting
from sidecar.context import SidecarContext
from sidecar.otlp.attributes import plain
from sidecar.otlp.signals import Signal, item_count, resource_entries
from sidecar.pipeline.exporter import Exporter, ExportOutcome

_SPAN_KINDS = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
_STATUS = {0: "UNSET", 1: "OK", 2: "ERROR"}
_PREFIX = "otel-debug"


def _show(v: Any) -> str:
    """A plain value for people: strings quoted, so ``"1"`` and ``1`` look different."""
    if v is None:
        return "null"
    if isinstance(v, str):
        return repr(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return "[" + ", ".join(_show(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}={_show(x)}" for k, x in v.items()) + "}"
    return str(v)


def _value(v: Message) -> str:  # an AnyValue
    return _show(plain(v))  # type: ignore[arg-type]


def _attrs(kvs) -> str:  # type: ignore[no-untyped-def]
    return ", ".join(f"{kv.key}={_value(kv.value)}" for kv in kvs)


def _service(resource: Message) -> str:
    """Who sent the data: ``service.name``, else the ECS task it describes, else ``?``.

    Task stats carry no service (they describe the task, not an app), so ``services=?`` told the
    reader nothing; ``task:<family>:<revision>`` says where they come from.
    """
    found: dict[str, str] = {}
    for kv in resource.attributes:  # type: ignore[attr-defined]
        if kv.key in ("service.name", "aws.ecs.task.family", "aws.ecs.task.revision"):
            found[kv.key] = kv.value.string_value
    if found.get("service.name"):
        return found["service.name"]
    if found.get("aws.ecs.task.family"):
        revision = found.get("aws.ecs.task.revision")
        return f"task:{found['aws.ecs.task.family']}" + (f":{revision}" if revision else "")
    return "?"


def _point_value(dp: Message) -> str:
    which = dp.WhichOneof("value") if "value" in {o.name for o in dp.DESCRIPTOR.oneofs} else None
    if which is not None:
        return str(getattr(dp, which))
    if hasattr(dp, "count"):
        return f"count={dp.count} sum={dp.sum:g}"  # type: ignore[attr-defined]
    return "?"


class DebugExporter(Exporter):
    """Writes a summary of each batch to stdout; never fails an export."""

    name = "debug"

    @dataclass
    class Settings:
        verbosity: Literal["basic", "detailed"] = setting(
            "basic",
            help="basic: a line per batch; detailed: also a line per span, data point or log record.",
            env=V.ECS_OTEL_DEBUG_VERBOSITY,
        )
        max_line_chars: int = setting(
            2000, help="Longer lines are cut and end with an ellipsis.", env=V.ECS_OTEL_DEBUG_MAX_LINE_CHARS
        )

    def __init__(
        self, settings: DebugExporter.Settings, context: SidecarContext, stream: TextIO | None = None
    ) -> None:
        self.settings = settings
        self.context = context
        self._stream = stream

    def destination(self, signal: Signal) -> str:
        return f"stdout ({self.settings.verbosity})"

    async def export(self, signal: Signal, batch: Message) -> ExportOutcome:
        stream = self._stream or sys.stdout
        cap = self.settings.max_line_chars
        lines = list(self.lines(signal, batch))
        stream.write("".join((line if len(line) <= cap else line[: cap - 1] + "…") + "\n" for line in lines))
        stream.flush()
        return ExportOutcome.success()

    def lines(self, signal: Signal, batch: Message) -> Iterator[str]:
        resources = resource_entries(signal, batch)
        services = sorted({_service(r.resource) for r in resources})
        yield (
            f"{_PREFIX} {signal.value}: {item_count(signal, batch)} items, {len(resources)} resources, "
            f"services={','.join(services)}"
        )
        if self.settings.verbosity != "detailed":
            return
        if signal is Signal.TRACES:
            yield from self._spans(batch)
        elif signal is Signal.METRICS:
            yield from self._metrics(batch)
        else:
            yield from self._logs(batch)

    def _spans(self, batch: Message) -> Iterator[str]:
        for rs in batch.resource_spans:  # type: ignore[attr-defined]
            svc = _service(rs.resource)
            for ss in rs.scope_spans:
                for s in ss.spans:
                    ms = (s.end_time_unix_nano - s.start_time_unix_nano) / 1e6
                    parent = s.parent_span_id.hex() or "-"
                    yield (
                        f"{_PREFIX} span service={svc} trace={s.trace_id.hex()} span={s.span_id.hex()} "
                        f"parent={parent} kind={_SPAN_KINDS.get(s.kind, s.kind)} name={s.name!r} "
                        f"duration_ms={ms:.3f} status={_STATUS.get(s.status.code, s.status.code)} "
                        f"attrs={{{_attrs(s.attributes)}}}"
                    )

    def _metrics(self, batch: Message) -> Iterator[str]:
        for rm in batch.resource_metrics:  # type: ignore[attr-defined]
            svc = _service(rm.resource)
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    kind = m.WhichOneof("data")
                    if kind is None:
                        continue
                    for dp in getattr(m, kind).data_points:
                        yield (
                            f"{_PREFIX} metric service={svc} name={m.name} type={kind} unit={m.unit!r} "
                            f"value={_point_value(dp)} attrs={{{_attrs(dp.attributes)}}}"
                        )

    def _logs(self, batch: Message) -> Iterator[str]:
        for rl in batch.resource_logs:  # type: ignore[attr-defined]
            svc = _service(rl.resource)
            for sl in rl.scope_logs:
                for r in sl.log_records:
                    sev = r.severity_text or str(r.severity_number)
                    trace = f" trace={r.trace_id.hex()} span={r.span_id.hex()}" if r.trace_id else ""
                    yield (
                        f"{_PREFIX} log service={svc} severity={sev}{trace} body={_value(r.body)} "
                        f"attrs={{{_attrs(r.attributes)}}}"
                    )
