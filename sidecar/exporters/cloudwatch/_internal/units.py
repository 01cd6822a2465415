"""OpenTelemetry (UCUM) units → CloudWatch's fixed unit names; unknown units are left out."""

from __future__ import annotations

UNITS = {
    "s": "Seconds", "ms": "Milliseconds", "us": "Microseconds", "ns": None,
    "By": "Bytes", "KBy": "Kilobytes", "MBy": "Megabytes", "GBy": "Gigabytes", "TBy": "Terabytes",
    "KiBy": "Kilobytes", "MiBy": "Megabytes", "KiB": "Kilobytes", "MiB": "Megabytes", "GiB": "Gigabytes", "GiBy": "Gigabytes", "TiBy": "Terabytes",
    "bit": "Bits", "Kbit": "Kilobits", "Mbit": "Megabits", "Gbit": "Gigabits",
    "%": "Percent", "1": None,
    "By/s": "Bytes/Second", "KBy/s": "Kilobytes/Second", "MBy/s": "Megabytes/Second",
    "KiBy/s": "Kilobytes/Second", "MiBy/s": "Megabytes/Second",
    "bit/s": "Bits/Second", "Kbit/s": "Kilobits/Second", "Mbit/s": "Megabits/Second",
    "{count}": "Count", "{request}": "Count", "{requests}": "Count", "{error}": "Count", "{errors}": "Count",
    "/s": "Count/Second", "{count}/s": "Count/Second", "{request}/s": "Count/Second",
}  # fmt: skip


def cloudwatch_unit(unit: str) -> str | None:
    if unit in UNITS:
        return UNITS[unit]
    if unit.startswith("{") and unit.endswith("}"):
        return "Count"
    return None
