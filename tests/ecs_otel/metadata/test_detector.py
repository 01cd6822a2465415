"""EcsResourceDetector against the emulator as a real process, healthy and misbehaving."""

from __future__ import annotations

import logging
import socket
import time

import pytest
from opentelemetry.sdk.resources import Resource, get_aggregated_resources

from ecs_otel.metadata import MetadataClient, MetadataUnavailable, TaskMetadata
from ecs_otel.resource import TASK_ATTRIBUTE_KEYS, EcsResourceDetector, task_attributes
from tests.support.emulator import EmulatorProcess

SLACK_S = 1.5


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    emu = EmulatorProcess(tmp_path_factory.mktemp("emu"), "--scenario", "ec2-cgroupv2")
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def healthy(emulator: EmulatorProcess):  # type: ignore[no-untyped-def]
    emulator.set_fault(None)
    yield emulator
    emulator.set_fault(None)


@pytest.fixture
def in_ecs(monkeypatch: pytest.MonkeyPatch, healthy: EmulatorProcess) -> EmulatorProcess:
    monkeypatch.delenv("ECS_CONTAINER_METADATA_URI", raising=False)
    monkeypatch.delenv("ECS_OTEL_METADATA_TIMEOUT", raising=False)
    monkeypatch.setenv("ECS_CONTAINER_METADATA_URI_V4", healthy.uri)
    return healthy


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "ecs_otel" and r.levelno >= logging.WARNING]


def test_detects_from_the_environment(in_ecs: EmulatorProcess, caplog: pytest.LogCaptureFixture) -> None:
    attrs = dict(EcsResourceDetector().detect().attributes)
    assert attrs["cloud.provider"] == "aws" and attrs["cloud.platform"] == "aws_ecs"
    assert attrs["cloud.region"] == "us-east-1" and attrs["cloud.account.id"] == "829490980523"
    assert attrs["cloud.availability_zone"] == "us-east-1a"
    assert attrs["aws.ecs.launchtype"] == "ec2"
    assert attrs["aws.ecs.service.name"] == "prom-ecs-exporter-sandbox-main-ec2"
    assert attrs["aws.ecs.task.id"] == attrs["aws.ecs.task.arn"].rsplit("/", 1)[1]
    assert attrs["container.name"] == "ecs-exporter"
    assert attrs["container.id"] == "01cf1f3208005cda71d5ac936ded65d2ecc0a8cc8ff8a82d2e00410bf4fbbd6d"
    assert attrs["container.image.name"] == "quay.io/prometheuscommunity/ecs-exporter"
    assert attrs["container.image.tags"] == ("main",)
    assert attrs["aws.log.group.arns"][0].startswith("arn:aws:logs:us-east-1:829490980523:log-group:")
    assert warnings_of(caplog) == []


def test_works_inside_the_sdk_aggregation(in_ecs: EmulatorProcess) -> None:
    resource = get_aggregated_resources(
        [EcsResourceDetector()], initial_resource=Resource.create({"service.name": "checkout"})
    )
    assert resource.attributes["service.name"] == "checkout"
    assert resource.attributes["aws.ecs.task.family"] == "prom-ecs-exporter-sandbox-main-ec2"


def test_outside_ecs_is_empty_and_touches_no_network(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("ECS_CONTAINER_METADATA_URI_V4", raising=False)
    monkeypatch.delenv("ECS_CONTAINER_METADATA_URI", raising=False)

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the detector opened a socket outside ECS")

    monkeypatch.setattr(socket, "create_connection", no_network)
    caplog.set_level(logging.DEBUG, logger="ecs_otel")
    started = time.perf_counter()
    resource = EcsResourceDetector().detect()
    elapsed = time.perf_counter() - started
    assert resource.attributes == {}
    assert warnings_of(caplog) == []
    assert elapsed < 0.5  # a generous bound; measured in the report at a few microseconds


@pytest.mark.parametrize("fault", ["500", "404", "malformed"])
def test_broken_endpoint_gives_empty_resource_and_one_warning(
    in_ecs: EmulatorProcess, caplog: pytest.LogCaptureFixture, fault: str
) -> None:
    in_ecs.set_fault(fault)
    resource = EcsResourceDetector().detect()
    assert resource.attributes == {}
    records = warnings_of(caplog)
    assert len(records) == 1, [r.getMessage() for r in records]
    assert "ECS" in records[0].getMessage()


@pytest.mark.parametrize("fault", ["hang", "slow"])
def test_hanging_or_slow_endpoint_is_bounded_by_the_timeout(
    in_ecs: EmulatorProcess, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    in_ecs.set_fault(fault, delay_s=5.0 if fault == "slow" else None)
    monkeypatch.setenv("ECS_OTEL_METADATA_TIMEOUT", "0.4")
    started = time.monotonic()
    resource = EcsResourceDetector().detect()
    elapsed = time.monotonic() - started
    assert resource.attributes == {}
    assert len(warnings_of(caplog)) == 1
    assert elapsed < 0.4 + SLACK_S


def test_detector_timeout_overrides_the_client_budget(healthy: EmulatorProcess) -> None:
    healthy.set_fault("hang")
    client = MetadataClient(healthy.uri, timeout_s=30.0)
    started = time.monotonic()
    assert EcsResourceDetector(client, timeout_s=0.3).detect().attributes == {}
    assert time.monotonic() - started < 0.3 + SLACK_S


def test_one_budget_covers_both_documents(healthy: EmulatorProcess) -> None:
    # Each document takes 0.35 s: with a 0.5 s budget the task arrives, the container cannot.
    healthy.set_fault("slow", delay_s=0.35)
    client = MetadataClient(healthy.uri, timeout_s=0.5)
    started = time.monotonic()
    attrs = EcsResourceDetector(client).detect().attributes
    assert time.monotonic() - started < 0.5 + SLACK_S
    assert "aws.ecs.task.arn" in attrs and "container.name" not in attrs


def test_endpoint_vanishing_mid_run_keeps_what_was_learnt(
    healthy: EmulatorProcess, caplog: pytest.LogCaptureFixture
) -> None:
    client = MetadataClient(healthy.uri, timeout_s=0.5)
    client.task()  # cached for the process
    healthy.set_fault("500")
    attrs = dict(EcsResourceDetector(client).detect().attributes)
    assert attrs == task_attributes(client.task())
    assert set(attrs) <= TASK_ATTRIBUTE_KEYS
    assert len(warnings_of(caplog)) == 1


def test_never_raises_even_on_unexpected_errors(caplog: pytest.LogCaptureFixture) -> None:
    class Exploding(MetadataClient):
        def task(self, **kwargs: object) -> TaskMetadata:
            raise RuntimeError("bug")

    assert EcsResourceDetector(Exploding("http://127.0.0.1:9/v4/x")).detect().attributes == {}
    assert len(warnings_of(caplog)) == 1


def test_unreachable_endpoint(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, request: pytest.FixtureRequest
) -> None:
    # A port bound but not listening (held for the test, so nothing else takes it): connection refused,
    # retried once, one warning.
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    request.addfinalizer(held.close)
    port = held.getsockname()[1]
    monkeypatch.setenv("ECS_CONTAINER_METADATA_URI_V4", f"http://127.0.0.1:{port}/v4/gone")
    assert EcsResourceDetector().detect().attributes == {}
    assert len(warnings_of(caplog)) == 1
    with pytest.raises(MetadataUnavailable):
        MetadataClient(f"http://127.0.0.1:{port}/v4/gone", 0.3).task()
