"""Per-metric cardinality limit for the SDK's aggregation tables.

The Python SDK (up to at least 1.45) has no ``aggregation_cardinality_limit``: a metric recorded
with unbounded attribute values grows its table without end. The specification's rule is applied
here: once a metric stream holds ``limit - 1`` attribute sets, measurements for new sets are
aggregated into one series carrying ``otel.metric.overflow=true``. It is applied by wrapping the
SDK's per-stream ``consume_measurement`` (an internal hook, checked for before use; when absent
the limit is simply not enforced and a debug line says so).
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
            hash_attributes = getattr(vim, "_hash_attributes", None)
            original = cls.consume_measurement
        except (ImportError, AttributeError):
            _logger.debug("ecs_otel: this SDK has no hook for a cardinality limit; not enforced")
            return False

        def _key(attributes: Any) -> Any:
            if hash_attributes is not None:
                return hash_attributes(attributes)
            return frozenset(attributes.items())

        def consume_measurement(self: Any, measurement: Any, *args: Any, **kwargs: Any) -> None:
            table = self._attributes_aggregation
            if len(table) >= _state["limit"] - 1:
                attributes = dict(measurement.attributes or {})
                keys = getattr(self._view, "_attribute_keys", None)
                if keys is not None:
                    attributes = {k: v for k, v in attributes.items() if k in keys}
                if _key(attributes) not in table:
                    _state["overflowed"] += 1
                    measurement = dataclasses.replace(measurement, attributes=OVERFLOW_ATTRIBUTES)
            original(self, measurement, *args, **kwargs)

        cls.consume_measurement = consume_measurement  # type: ignore[method-assign]
        _state["installed"] = True
        return True
