"""The exporter as the pipeline sees it: settings, its own listener, negotiation, expiry, accounting."""

from __future__ import annotations

import asyncio
import urllib.request

import pytest

from sidecar.app import Sidecar
from sidecar.config import load_settings
from sidecar.config.file import load_config
from sidecar.context import SidecarContext
from sidecar.exporters.prometheus._internal import OPENMETRICS, TEXT, negotiate
from sidecar.exporters.prometheus.exporter import PrometheusExporter
from sidecar.otlp.signals import Signal
from tests.sidecar.exporters.prometheus.otlp import S, gauge_metric, number, request, sum_metric

RES = {"service.name": "api", "service.instance.id": "i-1"}
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


@pytest.mark.parametrize(
    ("accept", "fmt"),
    [
        (None, TEXT),
        ("", TEXT),
        ("*/*", TEXT),
        ("text/plain;version=0.0.4", TEXT),
        (PROMETHEUS_ACCEPT, OPENMETRICS),
        ("application/openmetrics-text; version=1.0.0; charset=utf-8", OPENMETRICS),
        ("text/plain;q=0.9,application/openmetrics-text;q=0.5", TEXT),
        ("application/openmetrics-text;version=2.0.0", TEXT),
    ],
)
def test_negotiate(accept: str | None, fmt: str) -> None:
    assert negotiate(accept) == fmt


def test_settings_from_env_and_defaults() -> None:
    s = load_settings(PrometheusExporter.Settings, {}, {}, "exporters.prometheus")
    assert (s.port, s.host, s.max_series, s.series_ttl) == (9464, "", 50_000, None)
    s = load_settings(
        PrometheusExporter.Settings,
        {"max_series": 10},
        {"ECS_OTEL_PROMETHEUS_PORT": "0", "ECS_OTEL_PROMETHEUS_SERIES_TTL": "2.5"},
        "exporters.prometheus",
    )
    assert (s.port, s.max_series, s.series_ttl) == (0, 10, 2.5)
    exporter = PrometheusExporter(s, SidecarContext(receiver_host="0.0.0.0"))
    assert exporter.host == "0.0.0.0" and exporter.store.ttl_s == 2.5
    assert PrometheusExporter(s, SidecarContext()).host == "127.0.0.1"
    with pytest.raises(ValueError, match="port"):
        PrometheusExporter(PrometheusExporter.Settings(port=70000), SidecarContext())


def test_series_ttl_follows_the_shared_series_expiry_by_default() -> None:
    s = PrometheusExporter.Settings(port=0)
    assert PrometheusExporter(s, SidecarContext()).store.ttl_s == 300
    assert PrometheusExporter(s, SidecarContext(series_expiry_s=42)).store.ttl_s == 42
    s = PrometheusExporter.Settings(port=0, series_ttl=7.0)
    assert PrometheusExporter(s, SidecarContext(series_expiry_s=42)).store.ttl_s == 7


@pytest.mark.parametrize(("document", "env"), [
    ({"processors": {"cardinality": {"expiry_s": 42}}}, {}),
    ({}, {"ECS_OTEL_METRIC_CARDINALITY_EXPIRY": "42"}),
])
def test_wiring_shares_the_cardinality_expiry_from_toml_or_env(document: dict, env: dict) -> None:
    """A TOML-only expiry used to be invisible to the prometheus endpoint (it read the env only)."""
    env = {"ECS_OTEL_METRICS_EXPORTERS": "prometheus", "ECS_OTEL_PROMETHEUS_PORT": "0", **env}
    sidecar = Sidecar(load_config(env, document), env)
    sidecar.build()
    assert sidecar.context.series_expiry_s == 42
    assert sidecar.exporters["prometheus"].store.ttl_s == 42


@pytest.mark.parametrize(("document", "env"), [
    ({"sidecar": {"receiver_host": "127.0.0.2"}}, {}),
    ({}, {"ECS_OTEL_RECEIVER_HOST": "127.0.0.2"}),
])
def test_endpoint_follows_the_receiver_host_from_toml_or_env(document: dict, env: dict) -> None:
    """A TOML-only receiver_host used to be invisible to the prometheus endpoint (it read the env only)."""
    env = {"ECS_OTEL_METRICS_EXPORTERS": "prometheus", "ECS_OTEL_PROMETHEUS_PORT": "0", **env}
    sidecar = Sidecar(load_config(env, document), env)
    sidecar.build()
    assert sidecar.exporters["prometheus"].host == "127.0.0.2"


def _get(url: str, accept: str | None = None) -> tuple[str, str]:
    req = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.headers["Content-Type"], resp.read().decode()


async def test_endpoint_formats_expiry_and_status() -> None:
    context = SidecarContext()
    exporter = PrometheusExporter(PrometheusExporter.Settings(port=0, series_ttl=0.4), context)
    await exporter.start()
    try:
        assert exporter.port and context.status["prometheus"]["port"] == exporter.port
        url = exporter.url
        assert url == f"http://127.0.0.1:{exporter.port}/metrics"
        batch = request(
            [
                sum_metric("jobs", [number(5, {"q": "a"}, start=S, t=2 * S)]),
                gauge_metric("temp", [number(1.5)]),
            ],
            resource=RES,
        )
        outcome = await exporter.export(Signal.METRICS, batch)
        assert outcome.ok and outcome.rejected == 0

        ctype, text = await asyncio.to_thread(_get, url)
        assert ctype.startswith("text/plain; version=0.0.4")
        assert "# TYPE jobs_total counter" in text and 'jobs_total{instance="i-1",job="api"' in text
        assert "# EOF" not in text and "_created" not in text

        ctype, om = await asyncio.to_thread(_get, url, PROMETHEUS_ACCEPT)
        assert ctype.startswith("application/openmetrics-text; version=1.0.0")
        assert "# TYPE jobs counter" in om and "jobs_created{" in om and "# TYPE target info" in om
        assert om.endswith("# EOF\n")

        # Nothing new arrives: after the TTL every series, target_info included, leaves the endpoint.
        await asyncio.sleep(0.9)
        _, text = await asyncio.to_thread(_get, url)
        assert "jobs_total" not in text and "temp" not in text and "target_info" not in text
        assert context.status["prometheus"]["series"] == 0
        assert context.telemetry.counter("ecs_otel_sidecar_prometheus_expired_series_total", "").get() == 3
    finally:
        await exporter.shutdown(0)


async def test_limit_drops_are_reported_as_rejected() -> None:
    context = SidecarContext()
    exporter = PrometheusExporter(
        PrometheusExporter.Settings(port=0, max_series=2, target_info=False), context
    )
    batch = request([gauge_metric("g", [number(float(i), {"i": i}) for i in range(5)])], resource=RES)
    outcome = await exporter.export(Signal.METRICS, batch)
    assert outcome.ok and outcome.rejected == 3 and "series_limit=3" in outcome.reason
    dropped = context.telemetry.counter("ecs_otel_sidecar_prometheus_dropped_points_total", "", ("reason",))
    assert dropped.get(reason="series_limit") == 3
    assert PrometheusExporter.signals == frozenset({Signal.METRICS})
