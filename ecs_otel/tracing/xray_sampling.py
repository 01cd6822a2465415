"""X-Ray centralized sampling (``OTEL_TRACES_SAMPLER=xray``).

Rules and per-rule targets come from ``POST /GetSamplingRules`` and ``POST /SamplingTargets`` on
the sidecar's X-Ray proxy (127.0.0.1:2000, which signs and forwards to X-Ray) or any endpoint that
speaks the same API. Until rules arrive, and whenever polling fails, the documented default
applies: the first request each second plus 5 % of the rest. Polling runs in one daemon thread
that is started again (with a new client id) in every forked worker, since threads do not survive
``fork``.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import os
import random
import threading
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind, get_current_span
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

from ecs_otel import environment_variables as V
from ecs_otel._setting import SettingError
from ecs_otel.settings import parse_variable

_logger = logging.getLogger("ecs_otel")


def _polling_interval(raw: str, default: float) -> float:
    """``polling_interval=`` of ``OTEL_TRACES_SAMPLER_ARG`` (ADOT's form), in seconds, parsed as
    ``ECS_OTEL_XRAY_SAMPLING_INTERVAL`` is declared (a finite number >= 1): ``inf`` would never poll again and
    ``nan`` broke the poller's wait. A refused value is one warning naming it, and ``default`` (the variable's)."""
    key = f"{V.OTEL_TRACES_SAMPLER_ARG} polling_interval"
    try:
        return float(parse_variable(V.ECS_OTEL_XRAY_SAMPLING_INTERVAL, raw, key))
    except SettingError:
        _logger.warning("ecs_otel: ignoring %s=%r (invalid); using %g", key, raw, default)
        return default

FALLBACK_RESERVOIR_PER_S = 1
FALLBACK_FIXED_RATE = 0.05
DEFAULT_TARGET_INTERVAL_S = 10.0
REQUEST_TIMEOUT_S = 2.0
MAX_RULES = 1000  # bounded: X-Ray allows 25 rules per account by default


def _glob(pattern: str, value: str | None) -> bool:
    if pattern in ("*", ""):
        return True
    return value is not None and fnmatch.fnmatchcase(value.lower(), pattern.lower())


@dataclass(frozen=True)
class SamplingRule:
    name: str
    priority: int
    fixed_rate: float
    reservoir_size: int
    service_name: str = "*"
    service_type: str = "*"
    host: str = "*"
    http_method: str = "*"
    url_path: str = "*"
    resource_arn: str = "*"
    attributes: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_api(cls, doc: Mapping[str, Any]) -> SamplingRule:
        return cls(
            name=str(doc["RuleName"]),
            priority=int(doc.get("Priority", 10000)),
            fixed_rate=float(doc.get("FixedRate", 0.0)),
            reservoir_size=int(doc.get("ReservoirSize", 0)),
            service_name=str(doc.get("ServiceName", "*")),
            service_type=str(doc.get("ServiceType", "*")),
            host=str(doc.get("Host", "*")),
            http_method=str(doc.get("HTTPMethod", "*")),
            url_path=str(doc.get("URLPath", "*")),
            resource_arn=str(doc.get("ResourceARN", "*")),
            attributes={str(k): str(v) for k, v in (doc.get("Attributes") or {}).items()},
        )

    def matches(self, request: Mapping[str, Any], service: Mapping[str, str]) -> bool:
        return (
            _glob(self.service_name, service.get("name"))
            and _glob(self.service_type, service.get("type"))
            and _glob(self.resource_arn, service.get("arn"))
            and _glob(self.host, request.get("host"))
            and _glob(self.http_method, request.get("method"))
            and _glob(self.url_path, request.get("path"))
            and all(_glob(p, None if request["attributes"].get(k) is None else str(request["attributes"][k]))
                    for k, p in self.attributes.items())
        )


class _RuleState:
    """One rule's reservoir, fixed rate and the statistics reported back with SamplingTargets."""

    def __init__(self, rule: SamplingRule) -> None:
        self.rule = rule
        self.fixed_rate = rule.fixed_rate
        self.quota: int | None = None  # None: borrow 1/s until X-Ray assigns a quota
        self.quota_expiry = 0.0
        self._second = 0
        self._used = 0
        self.requests = self.sampled = self.borrowed = 0
        self.lock = threading.Lock()

    def decide(self, now: float, rnd: float) -> bool:
        with self.lock:
            self.requests += 1
            second = int(now)
            if second != self._second:
                self._second, self._used = second, 0
            if self.quota is not None and now < self.quota_expiry:
                if self._used < self.quota:
                    self._used += 1
                    self.sampled += 1
                    return True
            elif self.quota is None and self.rule.reservoir_size > 0 and self._used < FALLBACK_RESERVOIR_PER_S:
                self._used += 1
                self.sampled += 1
                self.borrowed += 1
                return True
            if rnd < self.fixed_rate:
                self.sampled += 1
                return True
            return False

    def take_statistics(self) -> tuple[int, int, int]:
        with self.lock:
            out = (self.requests, self.sampled, self.borrowed)
            self.requests = self.sampled = self.borrowed = 0
            return out


_FALLBACK_RULE = SamplingRule("ecs-otel-fallback", 10000, FALLBACK_FIXED_RATE, FALLBACK_RESERVOIR_PER_S)


class XRaySampler(Sampler):
    """Root sampler driven by X-Ray sampling rules (wrap it in a parent-based sampler)."""

    def __init__(self, endpoint: str = "http://127.0.0.1:2000", rules_interval_s: float = 300.0,
                 service_name: str = "", service_type: str = "", resource_arn: str = "") -> None:
        self.endpoint = endpoint.rstrip("/")
        self.rules_interval_s = rules_interval_s
        self.target_interval_s = DEFAULT_TARGET_INTERVAL_S
        self._service = {"name": service_name, "type": service_type, "arn": resource_arn}
        self._rules: list[_RuleState] = []
        self._fallback = _RuleState(_FALLBACK_RULE)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.client_id = os.urandom(12).hex()
        self.polls = 0
        self.poll_failures = 0

    @classmethod
    def from_settings(cls, settings: Any, resource: Any = None) -> XRaySampler:
        endpoint, interval = settings.xray_sampling_endpoint, settings.xray_sampling_interval_s
        for part in (settings.sampler_arg or "").split(","):  # ADOT-style "endpoint=…,polling_interval=…"
            key, _, value = part.partition("=")
            if key.strip() == "endpoint" and value.strip():
                endpoint = value.strip()
            elif key.strip() == "polling_interval":
                interval = _polling_interval(value.strip(), interval)
        attrs = dict(getattr(resource, "attributes", {}) or {})
        on_ecs = attrs.get("cloud.platform") == "aws_ecs"
        return cls(endpoint, interval, service_name=str(attrs.get("service.name", "")),
                   service_type="AWS::ECS::Container" if on_ecs else "",
                   resource_arn=str(attrs.get("aws.ecs.container.arn", "")))

    # -- sampling ----------------------------------------------------------------------------------
    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        attrs = attributes or {}  # read only: no per-span copy
        request = {
            "attributes": attrs,
            "method": attrs.get("http.request.method") or attrs.get("http.method"),
            "path": _path(attrs),
            "host": attrs.get("server.address") or attrs.get("http.host") or attrs.get("net.host.name"),
        }
        state = self._match(request)
        sampled = state.decide(time.time(), random.random())
        parent_state = get_current_span(parent_context).get_span_context().trace_state if parent_context else None
        return SamplingResult(Decision.RECORD_AND_SAMPLE if sampled else Decision.DROP,
                              attributes if sampled else None, trace_state or parent_state)

    def _match(self, request: Mapping[str, Any]) -> _RuleState:
        # The poller swaps in a new list, never mutates the current one: reading the reference
        # needs no lock on this per-span path.
        for state in self._rules:
            if state.rule.matches(request, self._service):
                return state
        return self._fallback

    def get_description(self) -> str:
        return f"XRaySampler{{endpoint={self.endpoint}}}"

    # -- polling -----------------------------------------------------------------------------------
    def _post(self, path: str, body: Mapping[str, Any]) -> Any:
        req = urllib.request.Request(self.endpoint + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=REQUEST_TIMEOUT_S) as resp:
            return json.loads(resp.read(1024 * 1024))

    def refresh_rules(self) -> None:
        records: list[Any] = []
        token: str | None = None
        for _ in range(10):  # pages, bounded
            doc = self._post("/GetSamplingRules", {"NextToken": token} if token else {})
            records += doc.get("SamplingRuleRecords", [])
            token = doc.get("NextToken")
            if not token:
                break
        rules = []
        for rec in records[:MAX_RULES]:
            try:
                rule = SamplingRule.from_api(rec.get("SamplingRule", rec))
            except (KeyError, TypeError, ValueError):
                continue
            rules.append(rule)
        rules.sort(key=lambda r: (r.priority, r.name))
        with self._lock:
            old = {s.rule.name: s for s in self._rules}
            new_states = []
            for rule in rules:
                state = old.get(rule.name)
                if state is None or state.rule != rule:
                    state = _RuleState(rule)
                new_states.append(state)
            self._rules = new_states

    def refresh_targets(self) -> None:
        with self._lock:
            rules = list(self._rules)
        if not rules:
            return
        now = time.time()
        docs = []
        for state in rules:
            requests, sampled, borrowed = state.take_statistics()
            docs.append({"RuleName": state.rule.name, "ClientID": self.client_id, "Timestamp": now,
                         "RequestCount": requests, "SampledCount": sampled, "BorrowCount": borrowed})
        reply = self._post("/SamplingTargets", {"SamplingStatisticsDocuments": docs})
        by_name = {s.rule.name: s for s in rules}
        for target in reply.get("SamplingTargetDocuments", []):
            found = by_name.get(target.get("RuleName"))
            if found is None:
                continue
            state = found
            with state.lock:
                if "FixedRate" in target:
                    state.fixed_rate = float(target["FixedRate"])
                if target.get("ReservoirQuota") is not None:
                    state.quota = int(target["ReservoirQuota"])
                    state.quota_expiry = float(target.get("ReservoirQuotaTTL") or now + DEFAULT_TARGET_INTERVAL_S)
            if target.get("Interval"):
                self.target_interval_s = max(float(target["Interval"]), 1.0)

    def _run(self) -> None:
        next_rules = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            try:
                if now >= next_rules:
                    self.refresh_rules()
                    next_rules = now + self.rules_interval_s + random.uniform(0, 5)
                else:
                    self.refresh_targets()
                self.polls += 1
            except Exception as exc:
                self.poll_failures += 1
                if self.poll_failures == 1:
                    _logger.warning("ecs_otel: X-Ray sampling rules unavailable at %s (%s); using 1/s + 5%%",
                                    self.endpoint, exc)
                next_rules = min(next_rules, now + self.target_interval_s)
            self._stop.wait(min(self.target_interval_s, max(next_rules - time.monotonic(), 0.05))
                            + random.uniform(0, 0.1))

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ecs-otel-xray-sampling", daemon=True)
        self._thread.start()

    def restart_after_fork(self) -> None:
        """In a forked worker: the poller thread is gone; start a new one under a new client id."""
        self._lock = threading.Lock()
        self._fallback = _RuleState(_FALLBACK_RULE)
        with self._lock:
            self._rules = [_RuleState(s.rule) for s in self._rules]
        self.client_id = os.urandom(12).hex()
        self._thread = None
        self.start()

    def stop(self) -> None:
        self._stop.set()


def _path(attrs: Mapping[str, Any]) -> str | None:
    path = attrs.get("url.path")
    if path is None:
        target = attrs.get("http.target") or attrs.get("url.full") or attrs.get("http.url")
        if target:
            target = str(target)
            if "://" in target:
                target = "/" + target.split("://", 1)[1].partition("/")[2]
            path = target.split("?", 1)[0]
    return None if path is None else str(path)
