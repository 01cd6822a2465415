"""Hypothesis property tests over the fuzz targets' properties, with a bounded number of examples."""

from __future__ import annotations

import gzip
import logging
import os
import re
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecs_otel.logging import JsonFormatter
from ecs_otel.logging.fields import EXTRA_PREFIX, RESERVED_OUTPUT_KEYS
from sidecar.otlp import json_codec
from sidecar.otlp.signals import Signal
from tests.fuzz.provider import ByteReader
from tests.fuzz.targets import (
    LOG_MAX_BYTES,
    TARGETS,
    check_body,
    check_log_line,
    check_segments,
    log_record,
    spans_request,
)

BOUNDED = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["resourceSpans", "resourceMetrics", "resourceLogs", "scopeSpans", "scopeMetrics",
                         "scopeLogs", "spans", "logRecords", "metrics", "traceId", "spanId", "name", "kind",
                         "attributes", "key", "value", "intValue", "doubleValue", "stringValue", "arrayValue",
                         "values", "gauge", "sum", "dataPoints", "asInt", "asDouble", "body", "resource"]),
        inner, max_size=5),
    max_leaves=30,
)


@BOUNDED
@given(signal=st.sampled_from(list(Signal)), value=json_values)
def test_otlp_json_bodies_decode_or_are_refused(signal: Signal, value: object) -> None:
    import json

    check_body(signal, True, "identity", json.dumps(value).encode())


@BOUNDED
@given(signal=st.sampled_from(list(Signal)), raw=st.binary(max_size=400), gz=st.booleans())
def test_protobuf_bodies_decode_or_are_refused(signal: Signal, raw: bytes, gz: bool) -> None:
    check_body(signal, False, "gzip" if gz else "identity", gzip.compress(raw) if gz else raw)


@BOUNDED
@given(data=st.binary(min_size=20, max_size=1500))
def test_valid_requests_survive_both_encodings(data: bytes) -> None:
    request = spans_request(ByteReader(data), time.time())
    check_body(Signal.TRACES, False, "identity", request.SerializeToString())
    check_body(Signal.TRACES, True, "identity", json_codec.encode(request))


@BOUNDED
@given(data=st.binary(min_size=10, max_size=2000), index_all=st.booleans(), drop=st.booleans())
def test_every_segment_document_is_valid(data: bytes, index_all: bool, drop: bool) -> None:
    now = time.time()
    request = spans_request(ByteReader(data), now)
    docs = check_segments(request, now, index_all_attributes=index_all,
                          invalid_trace_ids="drop" if drop else "remap")
    spans = sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
    assert len(docs) <= spans


@BOUNDED
@given(data=st.binary(max_size=600))
def test_every_log_record_is_one_valid_json_line(data: bytes) -> None:
    check_log_line(JsonFormatter(max_bytes=LOG_MAX_BYTES, service="p"), log_record(ByteReader(data)))


_PLAIN_RECORD = logging.LogRecord("x", logging.INFO, "x", 1, "x", None, None)
REFUSED_EXTRA_KEYS = frozenset(_PLAIN_RECORD.__dict__) | {"message", "asctime"}
"""Keys ``Logger.makeRecord`` refuses in ``extra=`` (it raises ``KeyError``): no application can log them."""

extra_keys = st.one_of(
    st.text(max_size=30),
    # Keys the formatter writes itself (they must come out as ``extra.<key>``), a key that looks like the
    # renamed form, and dunder names (harmless in ``extra=``: they land in the record's ``__dict__``).
    st.sampled_from([*sorted(RESERVED_OUTPUT_KEYS), "extra.level", "__dict__", "__class__", "__weakref__"]),
).filter(lambda key: key not in REFUSED_EXTRA_KEYS)


@BOUNDED
@given(message=st.text(), extra=st.dictionaries(extra_keys, st.text() | st.integers() | st.floats(), max_size=8))
def test_log_lines_from_arbitrary_text(message: str, extra: dict[str, object]) -> None:
    """Any message and any ``extra=`` an application can pass: one JSON line whose own keys are the real ones."""
    record = logging.getLogger("app").makeRecord("app", logging.WARNING, "f.py", 1, message, (), None, extra=extra)
    obj = check_log_line(JsonFormatter(max_bytes=LOG_MAX_BYTES), record)
    assert (obj["level"], obj["logger"]) == ("WARNING", "app")
    if obj.get("truncated"):
        return
    assert obj["message"] == re.sub("[\ud800-\udfff]", "\ufffd", message)
    for key in extra:
        assert (EXTRA_PREFIX + key if key in RESERVED_OUTPUT_KEYS else key) in obj, key


def test_reserved_record_attributes_set_directly_keep_the_real_level() -> None:
    """A filter can set what ``extra=`` may not: ``levelname`` that is not a name falls back to ``levelno``'s."""
    record = logging.LogRecord("app", logging.WARNING, "f.py", 1, "m", (), None)
    record.levelname = 0  # type: ignore[assignment]
    record.timestamp = "not ours"
    obj = check_log_line(JsonFormatter(max_bytes=LOG_MAX_BYTES), record)
    assert obj["level"] == "WARNING"
    assert obj["extra.timestamp"] == "not ours" and obj["timestamp"] != "not ours"
    record.levelname = "WARN"  # a filter renaming levels is respected
    assert check_log_line(JsonFormatter(max_bytes=LOG_MAX_BYTES), record)["level"] == "WARN"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(TARGETS)), data=st.binary(max_size=800))
def test_fuzz_targets_on_arbitrary_bytes(name: str, data: bytes) -> None:
    TARGETS[name](data)


def test_hypothesis_runs_are_reproducible_and_write_nothing_into_the_tree() -> None:
    """tests/conftest.py's profile: the same examples on every run, no ``.hypothesis/`` in the working tree."""
    from hypothesis.configuration import storage_directory

    from tests.conftest import ROOT

    if os.environ.get("HYPOTHESIS_PROFILE", "deterministic") == "deterministic":
        assert settings.default.derandomize and settings.default.database is None
    home = storage_directory("unicode_data", intent_to_write=False).home_directory.resolve()
    assert not home.is_relative_to(ROOT), home
