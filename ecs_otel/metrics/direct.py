"""Direct series: a few histograms always recorded together, fed straight into the series they reached before.

Why: the Application Signals processor records three histograms (Latency, Error, Fault) for every
service entry and dependency call, with one attribute set that repeats from request to request. Each
SDK ``record`` builds a ``Measurement`` (copying and cleaning every attribute value), asks the exemplar
filter, walks the readers and views and finds the series by its attributes: about three quarters of the
processor's time, where the work that changes the numbers is one bucket increment per series.

How: the first time an attribute set is recorded it goes the SDK's way while the cardinality hook
(:func:`ecs_otel.metrics.cardinality.capture_series`) notes every series each measurement reached (one
per reader and matching view). :meth:`DirectFeed.bind` keeps them as a :class:`Bound`; later values for
the same set are handed to those series' ``aggregate`` with the same arguments the SDK passed, after
checking that each series is still the one the SDK's table holds under its key, that the readers are
the same, and that the instruments are enabled. Any failed check means "the SDK's way" (and a new
capture), so a series the SDK replaced, a reader added later or a disabled meter are all handled by
the SDK itself.

Only without exemplars: the SDK's exemplar filter sees each measurement's context and may sample any
of them, and an exemplar needs the measurement's attributes. The feed is offered only when the
provider's filter is ``AlwaysOffExemplarFilter`` (ecs_otel's default); then ``aggregate`` reads nothing
but the value, and the measurements handed to it carry no attributes.

Relies on SDK internals (the instrument's ``_measurement_consumer`` and its ``_reader_storages``, the
stream's ``_attributes_aggregation``, the ``Measurement`` class taken from a captured measurement),
checked for when the feed is built and when it binds; where one is missing :meth:`DirectFeed.create`
returns None or :meth:`DirectFeed.bind` returns None, and every value goes the SDK's way, as before.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.context import Context

from ecs_otel.metrics.cardinality import Reached, capture_series

#: Context of the measurements handed to ``aggregate``: read only by the exemplar reservoir, which is off.
_NO_CONTEXT = Context()


class Bound:
    """The series one attribute set reached, as found by the SDK on a captured record of each instrument."""

    __slots__ = ("calls", "checks", "storages")

    def __init__(self, storages: Any, captured: Sequence[Sequence[Reached]]) -> None:
        self.storages = storages
        reached = [(index, r) for index, per in enumerate(captured) for r in per]
        aggregations = [r.match._attributes_aggregation[r.key] for _, r in reached]
        #: (stream, key, aggregation): the series must still be the one its stream holds under its key.
        self.checks = tuple((r.match, r.key, a) for (_, r), a in zip(reached, aggregations, strict=True))
        #: (instrument index, the aggregation's ``aggregate``, the further arguments the SDK passed it).
        self.calls = tuple((index, a.aggregate, r.args) for (index, r), a in zip(reached, aggregations, strict=True))


class DirectFeed:
    """Feeds values of a fixed set of histograms (of one meter) into series found by an earlier SDK record.

    ``constant[i]`` says instrument ``i`` only ever gets one of a few values (Error and Fault: 0 or 1): its
    measurement objects are built once per value and reused.
    """

    def __init__(self, instruments: Sequence[Any], constant: Sequence[bool], consumer: Any) -> None:
        self._instruments = tuple(instruments)
        self._consumer = consumer
        # One meter, one configuration: whether it is enabled now (SDK releases that can disable a meter).
        check = getattr(instruments[0], "_is_enabled", None)
        self._enabled: Callable[[], bool] | None = check if callable(check) else None
        self._measurement_cls: Any = None
        #: Per instrument: None (a value that varies), or (type, value) → its prebuilt measurement.
        self._constants: tuple[dict[Any, Any] | None, ...] = tuple({} if c else None for c in constant)

    @classmethod
    def create(cls, instruments: Sequence[Any], constant: Sequence[bool], exemplar_filter: Any) -> DirectFeed | None:
        """A feed for ``instruments`` (all from one meter), or None where it cannot be exact."""
        try:
            from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter
        except ImportError:  # pragma: no cover - in every release pyproject allows
            return None
        if not instruments or not isinstance(exemplar_filter, AlwaysOffExemplarFilter):
            return None
        consumer = getattr(instruments[0], "_measurement_consumer", None)
        if consumer is None or getattr(consumer, "_reader_storages", None) is None:
            return None
        for instrument in instruments:
            if getattr(instrument, "_measurement_consumer", None) is not consumer:
                return None
            if getattr(instrument, "_meter_config", None) is not getattr(instruments[0], "_meter_config", None):
                return None
        return cls(instruments, constant, consumer)

    def record(self, values: Sequence[Any], attributes: dict[str, Any]) -> Bound | None:
        """Record ``values`` (one per instrument) the SDK's way; returns what to feed next time, if it can be fed."""
        storages = self._consumer._reader_storages
        captured = [capture_series(functools.partial(instrument.record, value, attributes))
                    for instrument, value in zip(self._instruments, values, strict=True)]  # fmt: skip
        return self._bind(storages, captured)

    def _bind(self, storages: Any, captured: list[list[Reached] | None]) -> Bound | None:
        if storages is not self._consumer._reader_storages:
            return None  # the readers changed while recording
        found: list[list[Reached]] = []
        for per in captured:
            if not per or not all(r.direct and not r.kwargs for r in per):
                return None  # not installed, nowhere (disabled, rejected value) or into the overflow series
            for reached in per:
                table = getattr(reached.match, "_attributes_aggregation", None)
                if not isinstance(table, dict) or table.get(reached.key) is None:
                    return None
            found.append(per)
        measurement_cls = type(found[0][0].measurement)
        if self._measurement_cls is None:
            self._measurement_cls = measurement_cls
        elif measurement_cls is not self._measurement_cls:
            return None
        return Bound(storages, found)

    def feed(self, bound: Bound, values: Sequence[Any]) -> bool:
        """Add ``values`` to ``bound``'s series; False (nothing added) when a check fails: record the SDK's way.

        A value that varies must be one the SDK's histogram takes (finite, not negative); any other goes the
        SDK's way, which drops it with its warning.
        """
        if bound.storages is not self._consumer._reader_storages:
            return False
        enabled = self._enabled
        if enabled is not None and not enabled():
            return False
        for match, key, aggregation in bound.checks:
            if match._attributes_aggregation.get(key) is not aggregation:
                return False
        measurements = []
        cls = self._measurement_cls
        for value, known, instrument in zip(values, self._constants, self._instruments):  # noqa: B905 - equal lengths
            if known is None:
                if not (value >= 0 and math.isfinite(value)):
                    return False
                measurements.append(cls(value, time.time_ns(), instrument, _NO_CONTEXT, None))
                continue
            measurement = known.get((value.__class__, value))  # 1, 1.0 and True stay apart
            if measurement is None:
                measurement = known[(value.__class__, value)] = cls(value, 0, instrument, _NO_CONTEXT, None)
            measurements.append(measurement)
        for index, aggregate, args in bound.calls:
            aggregate(measurements[index], *args)
        return True
