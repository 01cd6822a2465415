"""UCUM units (what OpenTelemetry instruments declare) → the words Prometheus names carry.

Prometheus puts the unit in the metric name, in full base-unit words (``_seconds``,
``_bytes``); OpenTelemetry declares UCUM codes (``s``, ``By``, ``ms``). The tables follow the
OpenTelemetry ↔ Prometheus compatibility specification and the Collector's normaliser, so
names match what a Collector in front of Prometheus would produce.
"""

from __future__ import annotations

import re

#: Unit codes in the numerator (or standing alone).
UNIT_WORDS: dict[str, str] = {
    # time
    "d": "days",
    "h": "hours",
    "min": "minutes",
    "s": "seconds",
    "ms": "milliseconds",
    "us": "microseconds",
    "ns": "nanoseconds",
    # information
    "bit": "bits",
    "By": "bytes",
    "KiBy": "kibibytes",
    "MiBy": "mebibytes",
    "GiBy": "gibibytes",
    "TiBy": "tibibytes",
    "KBy": "kilobytes",
    "MBy": "megabytes",
    "GBy": "gigabytes",
    "TBy": "terabytes",
    # SI
    "m": "meters",
    "V": "volts",
    "A": "amperes",
    "J": "joules",
    "W": "watts",
    "g": "grams",
    # misc
    "Cel": "celsius",
    "Hz": "hertz",
    "%": "percent",
    # Common non-UCUM spellings of binary byte multiples.
    "KiB": "kibibytes",
    "MiB": "mebibytes",
    "GiB": "gibibytes",
    "TiB": "tibibytes",
}

#: With ``base_units`` on, these units are exposed in the Prometheus base unit, values scaled
#: (``ms`` → ``seconds`` × 0.001), which is what Prometheus naming practice and ``promtool`` ask for.
BASE_UNITS: dict[str, tuple[str, float]] = {
    "ns": ("s", 1e-9),
    "us": ("s", 1e-6),
    "ms": ("s", 1e-3),
    "min": ("s", 60.0),
    "h": ("s", 3600.0),
    "d": ("s", 86400.0),
    "KiBy": ("By", 2.0**10),
    "MiBy": ("By", 2.0**20),
    "GiBy": ("By", 2.0**30),
    "TiBy": ("By", 2.0**40),
    "KiB": ("By", 2.0**10),
    "MiB": ("By", 2.0**20),
    "GiB": ("By", 2.0**30),
    "TiB": ("By", 2.0**40),
    "KBy": ("By", 1e3),
    "MBy": ("By", 1e6),
    "GBy": ("By", 1e9),
    "TBy": ("By", 1e12),
}

#: Unit codes after a ``/`` (``By/s`` → ``bytes_per_second``).
PER_UNIT_WORDS: dict[str, str] = {
    "s": "second",
    "m": "minute",
    "h": "hour",
    "d": "day",
    "w": "week",
    "mo": "month",
    "y": "year",
}

_ANNOTATION = re.compile(r"\{[^}]*\}")
_NON_WORD = re.compile(r"[^a-zA-Z0-9]+")


def _word(part: str, table: dict[str, str]) -> str:
    """One side of a unit: annotations (``{request}``) mean "a count of", so they vanish."""
    part = _ANNOTATION.sub("", part).strip()
    if not part:
        return ""
    if part in table:
        return table[part]
    return _NON_WORD.sub("_", part).strip("_")


def unit_suffix(unit: str, *, gauge: bool) -> str:
    """The name suffix for ``unit`` ("" when none): ``ms`` → ``milliseconds``, ``1`` → ``ratio`` (gauges)."""
    unit = unit.strip()
    if not unit:
        return ""
    if unit == "1":
        # A dimensionless gauge is a ratio; a dimensionless counter is a plain count.
        return "ratio" if gauge else ""
    main, sep, per = unit.partition("/")
    main_word = _word(main, UNIT_WORDS)
    per_word = _word(per, PER_UNIT_WORDS) if sep else ""
    if main_word and per_word:
        return f"{main_word}_per_{per_word}"
    if per_word:
        return f"per_{per_word}"
    return main_word
