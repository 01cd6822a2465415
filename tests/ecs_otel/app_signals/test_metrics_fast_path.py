"""The Application Signals metrics processor records exactly what the straightforward path records.

The processor caches attribute sets and feeds series it has already found directly (see
:mod:`ecs_otel.metrics.app_signals`); :mod:`tests.ecs_otel.app_signals.fast_path_scenario` plays the same
spans through it and through a plain reference and compares every collection. Also run in fresh
processes: without the cardinality hook (the direct path cannot engage) and on the lowest OpenTelemetry
release pyproject.toml allows (it must engage there too).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter, MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind

from ecs_otel.metrics import app_signals
from ecs_otel.metrics.app_signals import ApplicationSignalsMetrics
from tests.ecs_otel.app_signals.fast_path_scenario import compare
from tests.support.paths import REPO_ROOT
from tests.support.sdk_venvs import lowest_allowed, sdk_venv


def test_the_direct_path_records_what_the_sdk_path_records() -> None:
    ours = compare(AlwaysOffExemplarFilter())
    assert ours.direct_records > 0  # the direct path did engage (else this test would prove nothing)


def test_with_exemplars_every_measurement_takes_the_sdk_path() -> None:
    ours = compare(None)
    assert ours.direct_records == 0


def test_inside_lambda_service_operations_are_the_function_and_not_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "resize")
    ours = compare(AlwaysOffExemplarFilter())
    assert not ours._services and ours.direct_records > 0  # dependency calls are still remembered


def test_the_attribute_set_cache_is_bounded_and_counts_what_it_drops() -> None:
    meters = MeterProvider(metric_readers=[InMemoryMetricReader()], views=app_signals.views(), shutdown_on_exit=False)
    ours = ApplicationSignalsMetrics(meters, Resource({"service.name": "shop"}), max_operations=1000,
                                     exemplar_filter=AlwaysOffExemplarFilter(), cache_size=8)
    provider = TracerProvider(resource=Resource({"service.name": "shop"}), shutdown_on_exit=False)
    provider.add_span_processor(ours)
    tracer = provider.get_tracer("t")
    for i in range(20):
        tracer.start_span(f"GET /r{i}", kind=SpanKind.SERVER, attributes={"http.request.method": "GET"}).end()
        assert ours.cached <= 8
    assert ours.cache_evicted == 20 - ours.cached > 0
    before = ours.cache_evicted
    for _ in range(3):  # a set still cached is found again: nothing more is dropped
        tracer.start_span("GET /r19", kind=SpanKind.SERVER, attributes={"http.request.method": "GET"}).end()
    assert ours.cache_evicted == before


# -- fresh processes: no cardinality hook; the lowest SDK release allowed ------------------------------------
_SCRIPT = """
import json, sys
from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter
from ecs_otel.metrics import cardinality
import tests.ecs_otel.app_signals.fast_path_scenario as t
if sys.argv[1] == "no-hook":
    cardinality.install = lambda limit: True  # this process never patches the SDK
ours = t.compare(AlwaysOffExemplarFilter())
print(json.dumps({"direct": ours.direct_records, "installed": cardinality._state["installed"]}))
"""


def _run(python: str, mode: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run([python, "-c", _SCRIPT, mode], env=env, cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_without_the_cardinality_hook_every_measurement_takes_the_sdk_path() -> None:
    assert _run(sys.executable, "no-hook") == {"direct": 0, "installed": False}


def test_the_direct_path_engages_on_the_lowest_allowed_sdk() -> None:
    lowest = lowest_allowed("opentelemetry-sdk")
    python, why = sdk_venv(lowest)
    if python is None:
        pytest.skip(f"no venv with OpenTelemetry {lowest}: {why}")
    found = _run(str(python), "hook")
    assert found["installed"] and found["direct"] > 0

