"""Checks an event against the Embedded Metric Format specification (structure and limits)."""

from __future__ import annotations

import json
from typing import Any

CLOUDWATCH_UNITS = {
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
    "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
    "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
    "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
}  # fmt: skip


def validate(message: str) -> dict[str, Any]:
    doc = json.loads(message)
    aws = doc["_aws"]
    assert isinstance(aws["Timestamp"], int) and aws["Timestamp"] > 0
    directives = aws["CloudWatchMetrics"]
    assert isinstance(directives, list) and directives
    for d in directives:
        assert isinstance(d["Namespace"], str) and 1 <= len(d["Namespace"]) <= 255
        assert isinstance(d["Dimensions"], list)
        for dimension_set in d["Dimensions"]:
            assert len(dimension_set) <= 30
            for key in dimension_set:
                assert isinstance(doc[key], str), f"dimension {key} must be a string member"
        assert 1 <= len(d["Metrics"]) <= 100
        for m in d["Metrics"]:
            assert 1 <= len(m["Name"]) <= 1024
            assert m.get("Unit", "None") in CLOUDWATCH_UNITS
            value = doc[m["Name"]]
            if isinstance(value, dict):
                for k in ("Max", "Min", "Count", "Sum"):
                    assert isinstance(value[k], int | float)
                assert value["Min"] <= value["Max"]
                if "Values" in value:
                    assert len(value["Values"]) == len(value["Counts"]) <= 100
                    assert all(value["Min"] <= v <= value["Max"] for v in value["Values"])
                    assert abs(sum(value["Counts"]) - value["Count"]) < 1e-9
            else:
                assert isinstance(value, int | float)
    return doc
