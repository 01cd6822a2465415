"""The live series of one metric: admitted first come, first served, expired when silent.

Only admitted series are stored (at most the metric's limit), keyed by a hash of resource,
scope and serialized attributes; a small description of each (key → value text) is kept for
the report. What overflows costs no state unless it is cumulative (see :mod:`.overflow`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ecs_otel.memo import Memo
from sidecar.processors.cardinality._internal.overflow import CumulativeOverflow

Description = tuple[tuple[str, str], ...]

#: Attribute sets remembered per metric with their rewritten form (rules + normalisation).
REWRITE_CACHE = 8192


def _rewrite_memo() -> Memo[bytes, bytes | None]:
    return Memo("cardinality.metric_rewrites", REWRITE_CACHE)


@dataclass
class SeriesTable:
    name: str
    limit: int
    #: series key → monotonic time last seen
    seen: dict[int, float] = field(default_factory=dict)
    #: series key → its attributes as (key, value text) pairs, for the report
    described: dict[int, Description] = field(default_factory=dict)
    #: (scope key) → the cumulative overflow series of this metric under that resource and scope
    cumulative: dict[int, CumulativeOverflow] = field(default_factory=dict)
    #: serialized attributes as received → as rewritten by rules/normalisation (None: unchanged); bounded
    rewrite: Memo[bytes, bytes | None] = field(default_factory=_rewrite_memo)
    overflow_points: int = 0
    last_sweep: float = 0.0

    def admit(self, key: int, now: float, description: Description) -> None:
        self.seen[key] = now
        self.described[key] = description

    def expire(self, older_than: float) -> tuple[int, int]:
        """Forget series silent since ``older_than``; returns (admitted, overflow-tracked) removed."""
        gone = [k for k, t in self.seen.items() if t < older_than]
        for k in gone:
            del self.seen[k]
            self.described.pop(k, None)
        tracked = 0
        for scope_key in list(self.cumulative):
            ov = self.cumulative[scope_key]
            tracked += ov.expire(older_than)
        return len(gone), tracked

    def tracked_overflow(self) -> int:
        return sum(len(ov.series) for ov in self.cumulative.values())
