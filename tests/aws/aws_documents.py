"""Validation of what the AWS exporters write: AWS's published schemas plus the rules only their prose states.

The schemas live in ``tests/fixtures/schemas`` (copies of the shared ones, see PROVENANCE.md there), so a clean
clone validates without ``../shared``. Each check raises ``AssertionError`` naming the rule that failed.

X-Ray: every document must validate against the segment document schema; a subsegment document (sent on its own,
``"type": "subsegment"``) must also validate against the schema's subsegment definition. JSON must be strict (no
``NaN``/``Infinity``), ids hex.

EMF: the event must validate against the EMF schema and against CloudWatch's prose rules: at most 100 metrics per
event, every referenced dimension a top-level string member whose value is printable ASCII, has a non-space
character and at most 1,024 characters; dimension names ASCII without control characters and not starting with
``:``; metric values numbers within ±2^360, never ``null``/NaN/Inf; a ``Values`` array of at most 100 unique
entries with as many ``Counts``; statistic sets with ``Min <= Sum/Count <= Max`` and a positive count.
"""

from __future__ import annotations

import json
import math
import re
from functools import cache
from typing import Any

import jsonschema

from tests.support.paths import REPO_ROOT

SCHEMAS = REPO_ROOT / "tests" / "fixtures" / "schemas"
XRAY_SCHEMA = "xray-segmentdocument-schema-v1.0.0.json"
EMF_SCHEMA = "emf-schema.json"
#: CloudWatch refuses values outside ±2^360 (PutMetricData's documented range).
MAX_METRIC_VALUE = 2.0**360
MAX_METRICS_PER_EVENT = 100
MAX_DIMENSION_VALUE = 1024
MAX_VALUES = 100
_HEX16 = re.compile(r"^[0-9a-f]{16}$")
_TRACE_ID = re.compile(r"^1-[0-9a-f]{8}-[0-9a-f]{24}$")
_PRINTABLE_ASCII = re.compile(r"^[\x20-\x7e]*$")


@cache
def schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / name).read_text())  # type: ignore[no-any-return]


@cache
def _xray_validators() -> tuple[jsonschema.Draft4Validator, jsonschema.Draft4Validator]:
    full = schema(XRAY_SCHEMA)
    subsegment = {"definitions": full["definitions"], "$ref": "#/definitions/subsegment"}
    return jsonschema.Draft4Validator(full), jsonschema.Draft4Validator(subsegment)


@cache
def _emf_validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(schema(EMF_SCHEMA))


def _strict_json(data: str | bytes) -> Any:
    def refuse(name: str) -> Any:
        raise AssertionError(f"{name} is not JSON")

    return json.loads(data, parse_constant=refuse)


def _errors(validator: jsonschema.protocols.Validator, doc: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in validator.iter_errors(doc)]


def validate_segment(document: str | bytes | dict[str, Any]) -> dict[str, Any]:
    """One X-Ray segment or subsegment document, as sent to PutTraceSegments."""
    doc = _strict_json(document) if isinstance(document, str | bytes) else _strict_json(json.dumps(document))
    full, subsegment = _xray_validators()
    errors = _errors(full, doc)
    if doc.get("type") == "subsegment":
        errors += [f"(subsegment) {e}" for e in _errors(subsegment, doc)]
        assert _HEX16.match(doc.get("parent_id", "")), "a subsegment needs a parent_id"
    assert not errors, "segment document fails the schema:\n" + "\n".join(errors)
    assert _TRACE_ID.match(doc["trace_id"]), doc["trace_id"]
    assert _HEX16.match(doc["id"]), doc["id"]
    assert math.isfinite(doc["start_time"]) and doc.get("end_time", doc["start_time"]) >= doc["start_time"]
    for exc in doc.get("cause", {}).get("exceptions", []) if isinstance(doc.get("cause"), dict) else []:
        assert _HEX16.match(exc["id"]), exc["id"]
    return doc  # type: ignore[no-any-return]


def _number(value: Any, where: str) -> None:
    assert isinstance(value, int | float) and not isinstance(value, bool), f"{where}: {value!r} is not a number"
    assert math.isfinite(value) and abs(value) <= MAX_METRIC_VALUE, f"{where}: {value!r} out of CloudWatch's range"


def _metric_value(value: Any, name: str) -> None:
    if isinstance(value, list):
        assert 1 <= len(value) <= MAX_VALUES, f"{name}: {len(value)} values"
        for v in value:
            _number(v, name)
        return
    if not isinstance(value, dict):
        _number(value, name)
        return
    for k in ("Max", "Min", "Count", "Sum"):
        assert k in value, f"{name}: statistic set without {k}"
        _number(value[k], f"{name}.{k}")
    count, total, lo, hi = value["Count"], value["Sum"], value["Min"], value["Max"]
    assert count > 0, f"{name}: Count {count}"
    assert lo <= hi, f"{name}: Min {lo} > Max {hi}"
    mean = total / count
    slack = 1e-9 * max(abs(lo), abs(hi), abs(mean), 1.0)
    assert lo - slack <= mean <= hi + slack, f"{name}: average {mean} outside [{lo}, {hi}]"
    if "Values" in value or "Counts" in value:
        values, counts = value["Values"], value["Counts"]
        assert 1 <= len(values) == len(counts) <= MAX_VALUES, f"{name}: {len(values)} values, {len(counts)} counts"
        assert len(set(values)) == len(values), f"{name}: a value listed twice: {values}"
        for v in values:
            _number(v, f"{name}.Values")
            assert lo <= v <= hi, f"{name}: value {v} outside [{lo}, {hi}]"
        for c in counts:
            _number(c, f"{name}.Counts")
            assert c > 0, f"{name}: count {c}"
        assert math.isclose(sum(counts), count, rel_tol=1e-9), f"{name}: counts sum {sum(counts)} != Count {count}"


def validate_emf(message: str) -> dict[str, Any]:
    """One EMF log event's message."""
    doc = _strict_json(message)
    errors = _errors(_emf_validator(), doc)
    assert not errors, "EMF event fails the schema:\n" + "\n".join(errors)
    aws = doc["_aws"]
    assert aws["Timestamp"] > 0
    directives = aws["CloudWatchMetrics"]
    assert directives, "no metric directive"
    names = [m["Name"] for d in directives for m in d["Metrics"]]
    assert 1 <= len(names) <= MAX_METRICS_PER_EVENT, f"{len(names)} metrics in one event"
    for d in directives:
        assert 1 <= len(d["Namespace"]) <= 255 and not d["Namespace"].startswith(":"), d["Namespace"]
        assert len({m["Name"] for m in d["Metrics"]}) == len(d["Metrics"]), "a metric declared twice"
        for dimension_set in d["Dimensions"]:
            assert len(set(dimension_set)) == len(dimension_set), f"a key twice in {dimension_set}"
            for key in dimension_set:
                assert _PRINTABLE_ASCII.match(key) and key.strip() and not key.startswith(":"), repr(key)
                value = doc.get(key)
                assert isinstance(value, str), f"dimension {key!r} must be a string member, is {value!r}"
                assert _PRINTABLE_ASCII.match(value), f"dimension {key!r}: value not printable ASCII: {value!r}"
                assert value.strip(), f"dimension {key!r}: empty or blank value"
                assert len(value) <= MAX_DIMENSION_VALUE, f"dimension {key!r}: value of {len(value)} characters"
        for m in d["Metrics"]:
            assert m["Name"] in doc, f"metric {m['Name']!r} has no value member"
            assert m["Name"] != "_aws" and all(m["Name"] not in s for s in d["Dimensions"]), m["Name"]
            _metric_value(doc[m["Name"]], m["Name"])
    return doc  # type: ignore[no-any-return]
