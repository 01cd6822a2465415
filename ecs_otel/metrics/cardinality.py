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

The hook also tells a caller which series a measurement reached (:func:`capture_series`): the
Application Signals processor (:mod:`ecs_otel.metrics.direct`) uses it to find its series once and
feed them directly afterwards.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from typing import Any, NamedTuple

from ecs_otel.memo import Memo

_logger = logging.getLogger("ecs_otel")
OVERFLOW_ATTRIBUTES = {"otel.metric.overflow": True}

_lock = threading.Lock()
_state: dict[str, Any] = {"limit": 2000, "installed": False, "overflowed": 0}


#: Value types whose equality implies equal SDK keys when the types are equal too (``True == 1`` is why
#: the types are part of the remembered key).
_SCALARS = frozenset({str, int, float, bool})
#: Remembered attribute sets per stream; emptied when full (a stream has at most ``limit`` series).
_MEMO_MAX = 4096


class Reached(NamedTuple):
    """One series a measurement went to: the SDK's stream (``_ViewInstrumentMatch``), its key there, and how.

    ``direct`` is False when the series must not be fed directly: the measurement was folded into the
    overflow series (each one must be counted in :func:`overflowed_measurements`), or its key is unknown.
    """

    match: Any
    key: Any
    measurement: Any
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    direct: bool


class _Listening(threading.local):
    """Per thread: the list the hook appends each reached series to while :func:`capture_series` runs."""

    found: list[Reached] | None = None


_listening = _Listening()


def capture_series(record: Callable[[], None]) -> list[Reached] | None:
    """Run ``record`` (one instrument call) and return the series it reached; None when the hook is not installed.

    An empty list means the SDK sent the measurement nowhere (an instrument disabled by its meter's
    configuration, a negative histogram value): there is nothing to remember.
    """
    if not _state["installed"]:
        record()
        return None
    found: list[Reached] = []
    _listening.found = found
    try:
        record()
    finally:
        _listening.found = None
    return found


def _filtered(match: Any, attributes: Any) -> dict[str, Any]:
    """The attributes the SDK keys a series by: the view's attribute keys only, when it names some."""
    found = dict(attributes or {})
    keys = getattr(match._view, "_attribute_keys", None)
    if keys is not None:
        found = {k: v for k, v in found.items() if k in keys}
    return found


def _remember(match: Any, memo_key: Any, aggr_key: Any) -> None:
    memo = match.__dict__.get("_ecs_otel_keys")
    if memo is None:
        memo = match.__dict__["_ecs_otel_keys"] = Memo("library.metric_series_keys", _MEMO_MAX)
    memo.put(memo_key, aggr_key)


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
                    aggr_key = memo.data.get(memo_key)
                except TypeError:  # an unhashable value (a list): the SDK's way
                    memo_key = aggr_key = None
                if aggr_key is not None:
                    aggregation = table.get(aggr_key)
                    if aggregation is not None:
                        aggregation.aggregate(measurement, *args, **kwargs)
                        found = _listening.found
                        if found is not None:
                            found.append(Reached(self, aggr_key, measurement, args, kwargs, True))
                        return
            filtered: Any = None
            overflow = False
            if len(table) >= _state["limit"] - 1:
                filtered = _filtered(self, attributes)
                if _key(filtered) not in table:
                    _state["overflowed"] += 1
                    measurement = dataclasses.replace(measurement, attributes=OVERFLOW_ATTRIBUTES)
                    memo_key = None
                    overflow = True
            original(self, measurement, *args, **kwargs)
            if memo_key is not None and all(t in _SCALARS for t in memo_key[2]):
                _remember(self, memo_key, _key(filtered if filtered is not None else _filtered(self, attributes)))
            found = _listening.found
            if found is not None:
                try:
                    key = _key(filtered if filtered is not None else _filtered(self, attributes))
                except Exception:  # never into the caller's record(): it only means "not directly"
                    key, overflow = None, True
                found.append(Reached(self, key, measurement, args, kwargs, not overflow))

        cls.consume_measurement = consume_measurement  # type: ignore[method-assign]
        _state["installed"] = True
        return True
