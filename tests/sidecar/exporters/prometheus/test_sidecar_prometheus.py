"""A real Prometheus server scrapes the real sidecar process (``python -m sidecar`` with
``ECS_OTEL_METRICS_EXPORTERS=prometheus``) and finds what an ECS task would see: an app counter
and a histogram sent by the OTel SDK's own OTLP/HTTP exporter, and the task's stats scraped from
the ECS metadata emulator (another real process); ``promtool check metrics`` accepts the output.

Unlike ``test_real_prometheus.py`` (exporter in-process), everything here goes through the
sidecar's whole metrics pipeline: receiver, enrich/redaction/cardinality processors, queue,
exporter, and its own listener on a port the OS picked.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.sidecar.exporters.prometheus.app_metrics import send_app_metrics
from tests.sidecar.exporters.prometheus.harness import (
    PROMETHEUS,
    PROMTOOL,
    SKIP_REASON,
    PrometheusServer,
    http_get,
    promtool_check,
)
from tests.support.emulator import EmulatorProcess
from tests.support.sidecar import SidecarProcess

pytestmark = [pytest.mark.skipif(PROMETHEUS is None, reason=SKIP_REASON), pytest.mark.timeout(120)]

APP_LABELS = {
    "job": "shop/shop-api",
    "instance": "pod-1",
    "otel_scope_name": "shop.checkout",
    "otel_scope_version": "2.1.0",
}
STATS_SCOPE = "ecs_otel.sidecar.ecs_stats"
WAIT_S = 30.0
MIB = 1024 * 1024
#: One series of each kind the tests look for, as the endpoint writes them.
FAMILIES = ("orders_placed_total{", "checkout_duration_seconds_bucket{", "ecs_task_memory_utilized_bytes{")


@dataclass
class Stack:
    emulator: EmulatorProcess
    sidecar: SidecarProcess
    prometheus: PrometheusServer
    #: The sidecar's scrape endpoint as Prometheus sees it (``host:port``), also its ``instance`` label.
    target: str
    #: The emulated task's metadata (``/task``), the truth the stats series are checked against.
    task: dict[str, Any]


def endpoint_of(sidecar: SidecarProcess) -> str:
    """The exporter publishes where it listens under ``components.prometheus`` in ``/status.json``, and
    ``--ports-file`` names the port it bound (launchers such as ``make demo`` ask for 0 and read it there,
    rather than pick a "free" port that something else can take first)."""
    state = sidecar.status()["components"]["prometheus"]
    assert state["port"], state
    assert sidecar.ports["prometheus"] == state["port"], sidecar.ports
    return f"127.0.0.1:{state['port']}"


def wait_endpoint(url: str, needles: tuple[str, ...], timeout_s: float = WAIT_S) -> str:
    """The endpoint's text once every needle is in it: the pipeline's queue delivers asynchronously."""
    deadline = time.monotonic() + timeout_s
    while True:
        text = http_get(url)[2]
        if all(n in text for n in needles) or time.monotonic() > deadline:
            return text
        time.sleep(0.2)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("sidecar-prometheus")
    emulator = EmulatorProcess(tmp, "--synthesize")
    sidecar: SidecarProcess | None = None
    prometheus: PrometheusServer | None = None
    try:
        task = json.loads(http_get(emulator.uri + "/task")[2])
        sidecar = SidecarProcess(
            tmp,
            {
                "ECS_OTEL_METRICS_EXPORTERS": "prometheus",
                "ECS_OTEL_PROMETHEUS_PORT": "0",
                # Prometheus base units (ns -> _seconds, MiB -> _bytes), as promtool's naming advice wants.
                "ECS_OTEL_PROMETHEUS_BASE_UNITS": "true",
                "ECS_OTEL_STATS_INTERVAL": "1",
                "ECS_CONTAINER_METADATA_URI_V4": emulator.uri,
            },
        )
        target = endpoint_of(sidecar)
        send_app_metrics(sidecar.http_url)
        # Both app flushes and one stats scrape are held before Prometheus starts, so every scrape it
        # makes sees the final values (the counter at 7, never 3).
        text = wait_endpoint(f"http://{target}/metrics", FAMILIES)
        missing = [n for n in FAMILIES if n not in text]
        assert not missing, f"{missing} never reached the endpoint:\n{text[-2000:]}"
        prometheus = PrometheusServer(tmp, target)
        prometheus.wait_ready(timeout=WAIT_S)
        yield Stack(emulator, sidecar, prometheus, target, task)
    finally:
        if prometheus is not None:
            prometheus.stop()
        if sidecar is not None:
            sidecar.terminate(timeout=15)
        emulator.stop()


def selector(labels: dict[str, str]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def test_real_prometheus_scrapes_the_sidecar(stack: Stack) -> None:
    prom = stack.prometheus
    app = selector(APP_LABELS)[1:-1]
    task_id = stack.task["TaskARN"].rsplit("/", 1)[-1]

    # The delta counter, accumulated by the sidecar into one cumulative series: 3 + 4. ``job`` and
    # ``instance`` come from service.namespace/name and service.instance.id (honor_labels keeps them).
    found = prom.wait_for(f'orders_placed_total{{{app},payment_method="card"}}', timeout=WAIT_S)
    assert found, f"counter not in Prometheus; targets: {prom.targets()} log: {prom.logs()}"
    assert len(found) == 1
    assert float(found[0]["value"][1]) == 7.0

    buckets = prom.wait_for(
        f'checkout_duration_seconds_bucket{{{app},http_route="/checkout"}}', timeout=WAIT_S
    )
    by_le = {float(r["metric"]["le"]): float(r["value"][1]) for r in buckets}
    assert by_le == {0.5: 1, 1.0: 2, 5.0: 3, float("inf"): 3}
    count = prom.query(f"checkout_duration_seconds_count{{{app}}}")
    assert count and float(count[0]["value"][1]) == 3
    total = prom.query(f"checkout_duration_seconds_sum{{{app}}}")
    assert total and float(total[0]["value"][1]) == pytest.approx(3.9)

    # The app's resource, enriched by the sidecar with the emulated task's identity, is target_info.
    app_info = prom.wait_for('target_info{job="shop/shop-api",instance="pod-1"}', timeout=WAIT_S)
    assert app_info, f"app target_info missing; log: {prom.logs()}"
    assert "service_name" not in app_info[0]["metric"]
    assert app_info[0]["metric"].get("aws_ecs_task_id") == task_id, app_info[0]["metric"]

    # ECS task stats from the emulator; their resource has no service.name, so the scrape
    # target's job/instance apply.
    stats = {"job": "sidecar", "instance": stack.target, "otel_scope_name": STATS_SCOPE}
    limit_bytes = float(stack.task["Limits"]["Memory"]) * MIB
    reserved = prom.wait_for(f"ecs_task_memory_reserved_bytes{selector(stats)}", timeout=WAIT_S)
    assert reserved, f"task gauge missing; log: {prom.logs()}"
    assert float(reserved[0]["value"][1]) == limit_bytes  # MiB in the task definition, scaled to bytes
    used = prom.wait_for(f"ecs_task_memory_utilized_bytes{selector(stats)}", timeout=WAIT_S)
    assert used and 0 < float(used[0]["value"][1]) <= limit_bytes
    # Per-container stats keep the container apart with a container_name label.
    names = {c["Name"] for c in stack.task["Containers"]}
    per_container = prom.wait_for(f"container_memory_usage_bytes{selector(stats)}", timeout=WAIT_S)
    assert {r["metric"].get("container_name") for r in per_container} == names
    info = prom.wait_for(f'target_info{{job="sidecar",aws_ecs_task_id="{task_id}"}}', timeout=WAIT_S)
    assert info, f"task target_info missing; log: {prom.logs()}"
    assert info[0]["metric"]["aws_ecs_task_arn"] == stack.task["TaskARN"]

    up = prom.query('up{job="sidecar"}')
    assert up and up[0]["value"][1] == "1"
    # Prometheus asks for OpenMetrics first, and the sidecar answered in it.
    scrapes = stack.sidecar.metrics().total("ecs_otel_sidecar_prometheus_scrapes_total", format="openmetrics")
    assert scrapes >= 1


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (it ships with Debian's prometheus)")
def test_promtool_accepts_the_sidecar_endpoint(stack: Stack) -> None:
    _, headers, text = http_get(f"http://{stack.target}/metrics")
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    for family in FAMILIES:
        assert family in text, family
    rc, out = promtool_check(text)
    # Exit 0 is a clean pass; 3 means parsed fine but with naming advice. The only advice allowed is
    # about semantic-convention gauges whose OTel names end in ".count" (process.thread.count):
    # the compatibility spec keeps those names, promtool would rather they did not end in _count.
    problems = [line for line in out.splitlines() if line.strip()]
    advisory = re.compile(
        r'^(\S+)_count non-histogram and non-summary metrics should not have "_count" suffix$'
    )
    assert rc == 0 or (rc == 3 and all(advisory.match(p) for p in problems)), out
    for p in problems:
        match = advisory.match(p)
        assert match is not None, p
        assert f"# TYPE {match.group(1)}_count gauge" in text, p
