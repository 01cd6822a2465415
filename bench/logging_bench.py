"""JSON log formatting throughput: ecs_otel's JsonFormatter against named peers, one process, one record.

Every contender logs the same call, ``log.info("user %s checked out basket %d", "alice", 1234,
extra={"order_id": "o-981", "amount": 12.5})``, inside the same sampled OpenTelemetry span, through a real
``logging.Logger`` and ``logging.StreamHandler`` writing to a null stream (so the numbers include the logging
module's own per-record cost, as an application pays it). Peers get the trace-correlation fields from one
shared ``logging.Filter`` (memoised like ours, so only the formatting differs); structlog also runs natively
(no logging module) for reference.

Run: ``python -m bench.logging_bench [--quick]``. ``run(quick)`` returns the rows for ``make bench``.
"""

from __future__ import annotations

import gc
import itertools
import logging
import time
from collections.abc import Callable
from typing import Any

from opentelemetry.sdk.trace import TracerProvider

from bench import report
from ecs_otel.logging import JsonFormatter
from ecs_otel.logging.correlation import TraceCorrelation, as_dict

MESSAGE = "user %s checked out basket %d"
ARGS = ("alice", 1234)
EXTRA = {"order_id": "o-981", "amount": 12.5}
SERVICE = "checkout"
ECS = {"cluster": "prod", "task_id": "0f2e7c1d9a8b4c3e", "task_definition": "checkout:42", "container": "app"}


class NullStream:
    """Accepts writes and discards them: measures formatting, not the terminal."""

    encoding = "utf-8"

    def write(self, s: str) -> int:
        return len(s)

    def flush(self) -> None:
        pass


class TraceFields:
    """The current span's trace_id/span_id/xray_trace_id/trace_sampled as a dict, memoised per span like
    ours, so the peers pay no more than ecs_otel does for correlation."""

    def __init__(self) -> None:
        self._trace = TraceCorrelation()
        self._last: tuple[Any, dict[str, Any]] = (None, {})

    def __call__(self) -> dict[str, Any] | None:
        fields = self._trace()
        if fields is None:
            return None
        last = self._last
        if last[0] is not fields:
            last = self._last = (fields, as_dict(fields))
        return last[1]


class TraceFilter(logging.Filter):
    """Adds the trace fields to records for the peers that format through the logging module."""

    def __init__(self) -> None:
        super().__init__()
        self._fields = TraceFields()

    def filter(self, record: logging.LogRecord) -> bool:
        fields = self._fields()
        if fields is not None:
            record.__dict__.update(fields)
        return True


def _logger(name: str, handler: logging.Handler, *, trace_filter: bool) -> logging.Logger:
    log = logging.getLogger(f"bench.{name}")
    log.handlers[:] = [handler]
    log.propagate = False
    log.setLevel(logging.INFO)
    if trace_filter:
        handler.addFilter(TraceFilter())
    return log


def _stdlib_call(log: logging.Logger) -> Callable[[], None]:
    info = log.info

    def call() -> None:
        info(MESSAGE, *ARGS, extra=EXTRA)

    return call


def setup_ecs_otel(encoder: str = "auto") -> Callable[[], None]:
    handler = logging.StreamHandler(NullStream())
    handler.setFormatter(JsonFormatter(service=SERVICE, ecs=ECS, encoder=encoder))
    return _stdlib_call(_logger(f"ecs_otel_{encoder}", handler, trace_filter=False))


def setup_stdlib_text() -> Callable[[], None]:
    handler = logging.StreamHandler(NullStream())
    handler.setFormatter(
        logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s trace_id=%(trace_id)s span_id=%(span_id)s"
        )
    )
    return _stdlib_call(_logger("stdlib_text", handler, trace_filter=True))


def setup_python_json_logger() -> Callable[[], None]:
    try:
        from pythonjsonlogger.json import JsonFormatter as PjlFormatter
    except ImportError:  # python-json-logger < 3.1
        from pythonjsonlogger.jsonlogger import JsonFormatter as PjlFormatter  # type: ignore[no-redef]
    handler = logging.StreamHandler(NullStream())
    handler.setFormatter(
        PjlFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            static_fields={"service": SERVICE, "ecs": ECS},
        )
    )
    return _stdlib_call(_logger("python_json_logger", handler, trace_filter=True))


def setup_structlog_stdlib() -> Callable[[], None]:
    import structlog

    def add_static(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
        event["service"] = SERVICE
        event["ecs"] = ECS
        return event

    handler = logging.StreamHandler(NullStream())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                add_static,
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                structlog.stdlib.ExtraAdder(),
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    return _stdlib_call(_logger("structlog_stdlib", handler, trace_filter=True))


def setup_structlog_native() -> Callable[[], None]:
    import structlog

    trace = TraceFields()

    def add_trace(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
        fields = trace()
        if fields is not None:
            event.update(fields)
        return event

    log = structlog.wrap_logger(
        structlog.PrintLogger(NullStream()),  # type: ignore[arg-type]
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            add_trace,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        cache_logger_on_first_use=True,
    ).bind(service=SERVICE, ecs=ECS)

    def call() -> None:
        log.info(MESSAGE % ARGS, **EXTRA)

    return call


#: Powertools keeps the handler of the first Logger with a given service name, so every set-up needs a
#: name of its own (``id(object())`` is not: a freed temporary's address comes back at once).
_powertools_names = itertools.count()


def setup_powertools() -> Callable[[], None]:
    from aws_lambda_powertools import Logger

    name = f"bench-powertools-{next(_powertools_names)}"
    log = Logger(service=name, stream=NullStream(), level="INFO")  # type: ignore[arg-type]
    log.append_keys(ecs=ECS)
    log.addFilter(TraceFilter())
    info = log.info

    def call() -> None:
        info(MESSAGE, *ARGS, extra=EXTRA)

    return call


CONTENDERS: list[tuple[str, Callable[[], Callable[[], None]]]] = [
    ("ecs_otel JsonFormatter (orjson)", lambda: setup_ecs_otel("orjson")),
    ("ecs_otel JsonFormatter (stdlib fallback)", lambda: setup_ecs_otel("stdlib")),
    ("stdlib logging.Formatter (text)", setup_stdlib_text),
    ("python-json-logger", setup_python_json_logger),
    ("structlog JSONRenderer via ProcessorFormatter", setup_structlog_stdlib),
    ("structlog JSONRenderer (native, no logging module)", setup_structlog_native),
    ("aws-lambda-powertools Logger", setup_powertools),
]
BASELINE_JSON = "python-json-logger"
BASELINE_TEXT = "stdlib logging.Formatter (text)"


def _timed(call: Callable[[], None], n: int) -> float:
    """Records per second of this process's CPU time: on a shared machine, wall-clock time mostly measures
    the neighbours; CPU time measures the code (the benchmark is single-threaded)."""
    gc.collect()
    start = time.process_time()
    for _ in range(n):
        call()
    return n / max(time.process_time() - start, 1e-9)


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Measure every contender; rows are ``{"name", "records_per_s", "vs_python_json_logger", "vs_stdlib_text"}``
    (ratios > 1 mean faster than the baseline). Contenders whose package is missing are skipped."""
    return measure(*((3_000, 5) if quick else (20_000, 11)))


def measure(n: int, rounds: int) -> list[dict[str, Any]]:
    """``rounds`` rounds of ``n`` records per contender, interleaved (a noisy neighbour hurts every
    contender alike); each contender's best round counts."""
    from opentelemetry import trace

    tracer = TracerProvider().get_tracer("bench.logging")
    calls: list[tuple[str, Callable[[], None]]] = []
    for name, setup in CONTENDERS:
        try:
            calls.append((name, setup()))
        except ImportError:
            continue
    rates: dict[str, float] = {}
    with trace.use_span(tracer.start_span("bench"), end_on_exit=True):
        for _, call in calls:
            _timed(call, min(n, 1000))  # warm-up: caches, first-use imports
        for _ in range(rounds):
            for name, call in calls:
                rates[name] = max(rates.get(name, 0.0), _timed(call, n))
    pjl = rates.get(BASELINE_JSON)
    text = rates.get(BASELINE_TEXT)
    return [
        {
            "name": name,
            "records_per_s": round(rate),
            "vs_python_json_logger": round(rate / pjl, 2) if pjl else None,
            "vs_stdlib_text": round(rate / text, 2) if text else None,
        }
        for name, rate in rates.items()
    ]


def to_markdown(rows: list[dict[str, Any]]) -> str:
    return report.markdown_table(
        ("formatter", "records/s", "× python-json-logger", "× stdlib text"),
        ((r["name"], f"{r['records_per_s']:,}", r["vs_python_json_logger"], r["vs_stdlib_text"]) for r in rows),
    )


def main(argv: list[str] | None = None) -> None:
    report.main(__doc__, run, to_markdown, argv, quick_help="fewer records per round (smoke run)")


if __name__ == "__main__":
    main()
