"""Per-metric cardinality limit for the SDK's aggregation tables.

The Python SDK (up to at least 1.45) has no ``aggregation_cardinality_limit``: a metric recorded
with unbounded attribute values grows its table without end. The specification's rule is applied
here: once a metric stream holds ``limit - 1`` attribute sets, measurements for new sets are
aggregated into one series carrying ``otel.metric.overflow=true``. It is applied by wrapping the
SDK's per-stream ``consume_measurement`` (an internal hook, checked for before use; when absent
the limit is simply not enforced and a debug line says so).

The same hook makes the common case cheap: the SDK copies each measurement's attributes and builds a
sorted, type-tagged key from them (about a third of a measurement's cost) even when the series
exists. Here the key found for an attribute set is remembered per stream under the set's keys, values
and value types (scalars only), so a repeated set finds its series with one tuple lookup; a set seen
for the first time, or whose series is gone, goes the SDK's way.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from typing import Any

_logger = logging.getLogger("ecs_otel")
OVERFLOW_ATTRIBUTES = {"otel.metric.overflow": True}

_lock = threading.Lock()
_state: dict[str, Any] = {"limit": 2000, "installed": False, "overflowed": 0}


#: Value types whose equality implies equal SDK keys when the types are equal too (``True == 1`` is why
#: the types are part of the remembered key).
_SCALARS = frozenset({str, int, float, bool})
#: Remembered attribute sets per stream; cleared when full (a stream has at most ``limit`` series).
_MEMO_MAX = 4096


def _filtered(match: Any, attributes: Any) -> dict[str, Any]:
    """The attributes the SDK keys a series by: the view's attribute keys only, when it names some."""
    found = dict(attributes or {})
    keys = getattr(match._view, "_attribute_keys", None)
    if keys is not None:
        found = {k: v for k, v in found.items() if k in keys}
    return found


def _remember(match: Any, memo_key: Any, aggr_key: Any) -> None:
    memo = match.__dict__.get("_ecs_otel_keys")
    if memo is None or len(memo) >= _MEMO_MAX:
        memo = match.__dict__["_ecs_otel_keys"] = {}
    memo[memo_key] = aggr_key


def overflowed_measurements() -> int:
    """How many measurements were folded into an overflow series (the 'dropped' counter)."""
    return int(_state["overflowed"])


def install(limit: int) -> bool:
    """Enforce ``limit`` attribute sets per metric stream; returns False when the SDK lacks the hook."""
    with _lock:
        _state["limit"] = max(int(limit), 2)
        if _state["installed"]:
            return True
        try:
            from opentelemetry.sdk.metrics._internal import _view_instrument_match as vim

            cls = vim._ViewInstrumentMatch
            original = cls.consume_measurement
        except (ImportError, AttributeError):
            _logger.debug("ecs_otel: this SDK has no hook for a cardinality limit; not enforced")
            return False

        def _key(attributes: Any) -> Any:
            sdk_hash = getattr(vim, "_hash_attributes", None)  # looked up per call: tests count its calls
            if sdk_hash is not None:
                return sdk_hash(attributes)
            return frozenset(attributes.items())

        def consume_measurement(self: Any, measurement: Any, *args: Any, **kwargs: Any) -> None:
            table = self._attributes_aggregation
            attributes = measurement.attributes
            values = tuple(attributes.values()) if attributes else ()
            memo_key: Any = (tuple(attributes or ()), values, tuple(map(type, values)))
            memo = self.__dict__.get("_ecs_otel_keys")
            if memo is not None:
                try:
                    aggr_key = memo.get(memo_key)
                except TypeError:  # an unhashable value (a list): the SDK's way
                    memo_key = aggr_key = None
                if aggr_key is not None:
                    aggregation = table.get(aggr_key)
                    if aggregation is not None:
                        aggregation.aggregate(measurement, *args, **kwargs)
                        return
            filtered: Any = None
            if len(table) >= _state["limit"] - 1:
                filtered = _filtered(self, attributes)
                if _key(filtered) not in table:
                    _state["overflowed"] += 1
                    measurement = dataclasses.replace(measurement, attributes=OVERFLOW_ATTRIBUTES)
                    memo_key = None
            original(self, measurement, *args, **kwargs)
            if memo_key is not None and all(t in _SCALARS for t in memo_key[2]):
                _remember(self, memo_key, _key(filtered if filtered is not None else _filtered(self, attributes)))

        cls.consume_measurement = consume_measurement  # type: ignore[method-assign]
        _state["installed"] = True
        return True
