"""RFC 3339 timestamps with nanoseconds, as Docker writes them in ``read``/``preread``.

``datetime.fromisoformat`` keeps microseconds at most; stats intervals are computed in
nanoseconds, so the fraction is parsed by hand.
"""

from __future__ import annotations

import calendar
import time

#: Docker's zero time (``0001-01-01T00:00:00Z``) means "no previous read".
_ZERO_YEAR_PREFIX = "0001-"
#: OTLP times are unsigned 64-bit nanoseconds since the epoch: 1970 up to (excluding) this, in 2554.
_OTLP_TIME_LIMIT_NS = 1 << 64


def parse_rfc3339_ns(text: object) -> int | None:
    """Nanoseconds since the epoch, or ``None`` for missing, zero, malformed or unrepresentable timestamps.

    A time OTLP cannot carry (at or before 1970, from 2554 on) is no time at all: the ECS agent's own
    test documents use ``1969-12-31T23:59:59.99999999Z``, and writing it made the whole scrape fail.
    """
    if not isinstance(text, str) or not text or text.startswith(_ZERO_YEAR_PREFIX):
        return None
    s = text.strip()
    offset_s = 0
    if s.endswith(("Z", "z")):
        s = s[:-1]
    elif len(s) > 6 and s[-6] in "+-" and s[-3] == ":":
        sign = 1 if s[-6] == "+" else -1
        try:
            offset_s = sign * (int(s[-5:-3]) * 3600 + int(s[-2:]) * 60)
        except ValueError:
            return None
        s = s[:-6]
    whole, _, frac = s.partition(".")
    try:
        tm = time.strptime(whole, "%Y-%m-%dT%H:%M:%S")
        frac_ns = int((frac + "000000000")[:9]) if frac else 0
    except ValueError:
        return None
    if frac and not frac.isdigit():
        return None
    value = (calendar.timegm(tm) - offset_s) * 1_000_000_000 + frac_ns
    return value if 0 < value < _OTLP_TIME_LIMIT_NS else None
