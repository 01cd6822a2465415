"""X-Ray centralized sampling against a real HTTP endpoint speaking the X-Ray sampling API."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ecs_otel.tracing.xray_sampling import XRaySampler
from tests.ecs_otel.conftest import base_env, write_script


class FakeXRay:
    """Loopback server answering GetSamplingRules / SamplingTargets and recording the calls."""

    def __init__(self, rules: list[dict[str, Any]], targets: list[dict[str, Any]] | None = None) -> None:
        self.rules = rules
        self.targets = targets or []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                fake.calls.append((self.path, body))
                if self.path == "/GetSamplingRules":
                    reply: dict[str, Any] = {"SamplingRuleRecords": [{"SamplingRule": r} for r in fake.rules]}
                else:
                    reply = {"SamplingTargetDocuments": fake.targets, "UnprocessedStatistics": []}
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def rule(name: str, priority: int, rate: float, reservoir: int, **kw: str) -> dict[str, Any]:
    base = {"RuleName": name, "Priority": priority, "FixedRate": rate, "ReservoirSize": reservoir,
            "ServiceName": "*", "ServiceType": "*", "Host": "*", "HTTPMethod": "*", "URLPath": "*",
            "ResourceARN": "*", "Version": 1, "Attributes": {}}
    base.update(kw)
    return base


@pytest.fixture
def fake_xray() -> Iterator[FakeXRay]:
    fake = FakeXRay([rule("health", 1, 0.0, 0, URLPath="/health*"), rule("Default", 10000, 1.0, 0)],
                    [{"RuleName": "Default", "FixedRate": 1.0, "ReservoirQuota": 5,
                      "ReservoirQuotaTTL": time.time() + 60, "Interval": 10}])
    yield fake
    fake.close()


def _decide(sampler: XRaySampler, path: str) -> bool:
    attrs = {"http.request.method": "GET", "url.path": path}
    return sampler.should_sample(None, 1, "GET", attributes=attrs).decision.is_sampled()


def test_fallback_is_one_per_second_plus_five_percent():
    sampler = XRaySampler("http://127.0.0.1:9")  # never polled
    sampled = sum(_decide(sampler, "/x") for _ in range(4000))
    # 1 per second from the reservoir (the loop may straddle a second) + 5 % of the rest (binomial, wide bound)
    assert 1 + 110 <= sampled <= 3 + 300


def test_rules_and_targets_are_applied_and_statistics_reported(fake_xray):
    sampler = XRaySampler(fake_xray.url, service_name="svc")
    sampler.refresh_rules()
    assert not any(_decide(sampler, "/health") for _ in range(50))
    assert all(_decide(sampler, "/orders") for _ in range(50))
    sampler.refresh_targets()
    path, body = fake_xray.calls[-1]
    assert path == "/SamplingTargets"
    stats = {d["RuleName"]: d for d in body["SamplingStatisticsDocuments"]}
    assert stats["health"]["RequestCount"] == 50 and stats["health"]["SampledCount"] == 0
    assert stats["Default"]["RequestCount"] == 50 and stats["Default"]["SampledCount"] == 50
    assert len(stats["Default"]["ClientID"]) == 24


FORK_APP = """
import os, sys, time
import ecs_otel.auto
from opentelemetry import trace
sampler = trace.get_tracer_provider().sampler
print("DESC", sampler.get_description(), flush=True)
time.sleep(0.5)
pid = os.fork()
if pid == 0:
    time.sleep(1.5)
    os._exit(0)
os.waitpid(pid, 0)
"""


def test_poller_restarts_in_forked_worker(tmp_path, fake_xray):
    env = base_env(None, OTEL_TRACES_SAMPLER="xray", ECS_OTEL_XRAY_SAMPLING_ENDPOINT=fake_xray.url,
                   OTEL_METRICS_EXPORTER="none", OTEL_TRACES_EXPORTER="none")
    proc = subprocess.run([sys.executable, str(write_script(tmp_path, FORK_APP))], env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "XRaySampler" in proc.stdout
    rule_polls = [c for c in fake_xray.calls if c[0] == "/GetSamplingRules"]
    assert len(rule_polls) >= 2  # the parent's first poll, and the forked child's own poller


@pytest.mark.parametrize(("raw", "expected"), [("inf", None), ("nan", None), ("0.5", None), ("soon", None),
                                               ("60", 60.0), (" 1 ", 1.0)])
def test_polling_interval_is_read_as_the_interval_setting_is_declared(raw, expected, caplog):
    """ADOT's ``polling_interval=`` used to become ``inf`` (no poll ever again) or ``nan``, silently."""
    import logging

    from ecs_otel.settings import Settings

    settings = Settings.from_env({"OTEL_TRACES_SAMPLER": "xray", "ECS_OTEL_XRAY_SAMPLING_INTERVAL": "120",
                                  "OTEL_TRACES_SAMPLER_ARG": f"endpoint=http://127.0.0.1:9,polling_interval={raw}"})
    with caplog.at_level(logging.WARNING, logger="ecs_otel"):
        sampler = XRaySampler.from_settings(settings)
    assert sampler.endpoint == "http://127.0.0.1:9"
    assert sampler.rules_interval_s == (120.0 if expected is None else expected)
    warned = [f"ecs_otel: ignoring OTEL_TRACES_SAMPLER_ARG polling_interval={raw.strip()!r} (invalid); using 120"]
    assert [r.getMessage() for r in caplog.records] == (warned if expected is None else [])


@pytest.mark.parametrize(("raw", "ratio"), [("0.25", 0.25), ("0", 0.0), ("", 1.0), ("1.5", None), ("nan", None),
                                            ("inf", None), ("-0.1", None), ("half", None)])
def test_the_ratio_samplers_read_their_argument_with_the_settings_coercion(raw, ratio, caplog):
    import logging

    from opentelemetry.sdk.trace.sampling import TraceIdRatioBased

    from ecs_otel.settings import Settings
    from ecs_otel.tracing.sampling import build_sampler

    settings = Settings.from_env({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": raw})
    with caplog.at_level(logging.WARNING, logger="ecs_otel"):
        sampler = build_sampler(settings)
    assert isinstance(sampler, TraceIdRatioBased)
    assert sampler.rate == (1.0 if ratio is None else ratio)
    warned = [f"ecs_otel: OTEL_TRACES_SAMPLER_ARG={raw!r} is not a ratio in [0, 1]; using 1.0"]
    assert [r.getMessage() for r in caplog.records] == (warned if ratio is None else [])
