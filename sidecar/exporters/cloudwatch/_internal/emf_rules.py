"""What CloudWatch accepts in an EMF event, beyond the EMF schema's shape.

From the EMF schema: metric names 1 to 1,024 characters, dimension names 1 to 250, at most 30 names per
dimension set, at least one dimension set. From CloudWatch's prose (``Dimension``, ``PutMetricData`` and the EMF
specification): dimension names and values printable ASCII (no control characters), with at least one
non-space character, names not starting with ``:``, values at most 1,024 characters; metric values within
±2^360, never NaN or infinite; a ``Values`` array of at most 100 distinct values.

What can be repaired keeps its meaning and stays distinct: characters outside printable ASCII are written as
``\\xHH``/``\\uHHHH``/``\\UHHHHHHHH`` escapes (Python's ``backslashreplace``), over-long names and values are cut and
end in ``~`` plus 16 hex digits of a hash of the whole, so two long values never merge into one series. What
cannot be repaired is left out and counted: an empty or blank dimension value drops that dimension (as AWS's
Powertools libraries do), a metric name that is empty or over 1,024 characters drops the metric (a cut name
would be another metric).
"""

from __future__ import annotations

import hashlib
import math
import re

MAX_METRIC_NAME = 1024
MAX_DIMENSION_NAME = 250
MAX_DIMENSION_VALUE = 1024
#: PutMetricData: "Values must be in the range of -2^360 to 2^360".
MAX_VALUE = 2.0**360
_NOT_PRINTABLE = re.compile(r"[^\x20-\x7e]")
#: What the schema's ``^(.*)$`` refuses in names (a line break in any regex dialect) and other controls.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_HASH_SUFFIX = 17  # "~" and 16 hex digits


def _escape(match: re.Match[str]) -> str:
    c = match.group()
    return f"\\x{ord(c):02x}" if ord(c) < 0x80 else c.encode("ascii", "backslashreplace").decode()


def printable(text: str) -> str:
    """``text`` with every character outside printable ASCII escaped (reversible, so series stay distinct)."""
    return text if text.isascii() and text.isprintable() else _NOT_PRINTABLE.sub(_escape, text)


def bounded(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters; a cut one ends in a hash of the whole, so cuts never collide."""
    if len(text) <= limit:
        return text
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
    return f"{text[: limit - _HASH_SUFFIX]}~{digest}"


def dimension_name(key: str) -> str | None:
    """The dimension name CloudWatch accepts for attribute ``key``, or ``None`` when none can stand for it."""
    name = printable(key)
    if not name.strip() or name == "_aws":
        return None
    if name.startswith(":"):
        name = "_" + name
    return bounded(name, MAX_DIMENSION_NAME)


def dimension_value(text: str) -> str | None:
    """The dimension value CloudWatch accepts for ``text``, or ``None`` for an empty or blank one."""
    value = printable(text)
    if not value.strip():
        return None
    return bounded(value, MAX_DIMENSION_VALUE)


def metric_name(name: str) -> str | None:
    """The metric name to write (control characters escaped), or ``None`` when it cannot be one."""
    if _CONTROL.search(name):
        name = _CONTROL.sub(_escape, name)
    return name if 1 <= len(name) <= MAX_METRIC_NAME and name != "_aws" else None


def value_ok(x: float) -> bool:
    return math.isfinite(x) and abs(x) <= MAX_VALUE
