"""Per-metric attribute rules: keep-list, drop-list, value hashing and bucketing.

Configured as a table from metric-name pattern (exact name, ``*`` or an ``fnmatch`` pattern
such as ``http.*``) to a list of rule strings, because a rule is easier to read on one line
than as a nested table::

    [processors.cardinality.rules]
    "*" = ["drop:user.id"]
    "http.server.request.duration" = ["keep:http.route,http.request.method,http.response.status_code"]
    "app.orders" = ["hash:customer.email", "bucket:tenant.id:32", "bucket:order.size:10,100,1000"]

- ``keep:k1,k2`` keeps only those keys; ``drop:k1,k2`` removes those keys;
- ``hash:k`` replaces the value with a 16-hex-digit BLAKE2b digest (privacy; as many series);
- ``bucket:k:N`` replaces the value with one of ``N`` hash buckets (``b0`` … ``bN-1``);
- ``bucket:k:b1,b2,…`` replaces a numeric value with its range: ``(-inf,b1]``, ``(b1,b2]``, …, ``(bn,+inf)``.

Every pattern that matches a metric contributes its rules, ``*`` first, then other patterns,
then the exact name, each in the order written.
"""

from __future__ import annotations

import bisect
import fnmatch
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ecs_otel.memo import Memo
from sidecar.config import ConfigError
from sidecar.otlp.attributes import text

Transform = Callable[[Any], str]


def value_text(value: Any) -> str:
    """An AnyValue as the text hashed, bucketed and used in series keys."""
    return text(value)


def _number(value: Any) -> float | None:
    kind = value.WhichOneof("value")
    if kind in ("int_value", "double_value"):
        return float(getattr(value, kind))
    if kind == "string_value":
        try:
            return float(value.string_value)
        except ValueError:
            return None
    return None


def hash_value(value: Any) -> str:
    return hashlib.blake2b(value_text(value).encode(), digest_size=8).hexdigest()


def hash_bucket(n: int) -> Transform:
    def bucket(value: Any) -> str:
        h = int.from_bytes(hashlib.blake2b(value_text(value).encode(), digest_size=8).digest(), "big")
        return f"b{h % n}"

    return bucket


def range_bucket(bounds: Sequence[float]) -> Transform:
    labels = []
    lower = "-inf"
    for b in bounds:
        labels.append(f"({lower},{_fmt(b)}]")
        lower = _fmt(b)
    labels.append(f"({lower},+inf)")

    def bucket(value: Any) -> str:
        x = _number(value)
        if x is None:
            return "NaN"
        return labels[bisect.bisect_left(bounds, x)]

    return bucket


def _fmt(b: float) -> str:
    return str(int(b)) if b == int(b) else repr(b)


@dataclass
class MetricRules:
    """The compiled rules of one metric name."""

    keep: frozenset[str] | None = None
    drop: frozenset[str] = frozenset()
    transforms: dict[str, Transform] = field(default_factory=dict)

    def apply(self, attributes: Any) -> None:
        """Rewrite a repeated ``KeyValue`` field in place."""
        keep, drop = self.keep, self.drop
        if keep is not None or drop:
            for i in range(len(attributes) - 1, -1, -1):
                k = attributes[i].key
                if k in drop or (keep is not None and k not in keep):
                    del attributes[i]
        if self.transforms:
            for kv in attributes:
                t = self.transforms.get(kv.key)
                if t is not None:
                    kv.value.string_value = t(kv.value)


def _parse_rule(pattern: str, text: str, into: MetricRules, where: str) -> None:
    kind, _, rest = text.partition(":")
    kind = kind.strip().lower()
    if kind in ("keep", "drop"):
        keys = frozenset(k.strip() for k in rest.split(",") if k.strip())
        if not keys:
            raise ConfigError(where, f"`{kind}:` followed by attribute keys", text)
        if kind == "keep":
            into.keep = keys if into.keep is None else into.keep & keys
        else:
            into.drop = into.drop | keys
        return
    if kind == "hash":
        for k in (k.strip() for k in rest.split(",")):
            if not k:
                raise ConfigError(where, "`hash:` followed by attribute keys", text)
            into.transforms[k] = hash_value
        return
    if kind == "bucket":
        key, _, spec = rest.rpartition(":")
        key = key.strip()
        if not key or not spec.strip():
            raise ConfigError(where, "`bucket:<key>:<N>` or `bucket:<key>:<b1>,<b2>,...`", text)
        try:
            if "," not in spec and "." not in spec and int(spec) > 0:
                into.transforms[key] = hash_bucket(int(spec))
            else:
                bounds = sorted(float(b) for b in spec.split(",") if b.strip())
                into.transforms[key] = range_bucket(bounds)
        except ValueError:
            raise ConfigError(where, "a bucket count or comma-separated numeric boundaries", text) from None
        return
    raise ConfigError(where, "a rule `keep:…`, `drop:…`, `hash:…` or `bucket:…`", text)


class RuleSet:
    """All configured rules; :meth:`for_metric` compiles (and caches) the rules of one metric."""

    def __init__(self, config: Mapping[str, Sequence[str]], where: str = "processors.cardinality.rules") -> None:
        self._patterns: list[tuple[int, str, list[str]]] = []
        for pattern, rules in config.items():
            if isinstance(rules, str):
                rules = [rules]
            rank = 0 if pattern == "*" else (1 if any(c in pattern for c in "*?[") else 2)
            self._patterns.append((rank, pattern, list(rules)))
            # validate now, so a typo fails at start-up rather than on the first matching point
            _probe = MetricRules()
            for r in rules:
                _parse_rule(pattern, r, _probe, f"{where}.{pattern}")
        self._patterns.sort(key=lambda p: p[0])
        self._where = where
        self._cache: Memo[str, MetricRules | None] = Memo("cardinality.metric_rules", 65536)

    def __bool__(self) -> bool:
        return bool(self._patterns)

    def for_metric(self, name: str) -> MetricRules | None:
        try:
            return self._cache.data[name]
        except KeyError:
            pass
        rules: MetricRules | None = None
        for rank, pattern, texts in self._patterns:
            if (rank == 2 and pattern == name) or (rank < 2 and fnmatch.fnmatchcase(name, pattern)):
                rules = rules or MetricRules()
                for t in texts:
                    _parse_rule(pattern, t, rules, f"{self._where}.{pattern}")
        return self._cache.put(name, rules)
