"""MetadataClient against the emulator as a real process: documents, caching, the total budget."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest

from ecs_otel.metadata import (
    MetadataClient,
    MetadataMalformed,
    MetadataUnavailable,
    parse_task,
    timeout_from_environment,
)
from tests.conftest import FIXTURES
from tests.support.emulator import EmulatorProcess

#: Upper bound on scheduling noise on a busy shared machine; bounds, not speed assertions.
SLACK_S = 1.5


@pytest.fixture(scope="module")
def fargate(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    emu = EmulatorProcess(tmp_path_factory.mktemp("emu"), "--scenario", "fargate-cgroupv1")
    try:
        yield emu
    finally:
        emu.stop()


def test_documents_from_fixture_scenario(fargate: EmulatorProcess) -> None:
    client = MetadataClient(fargate.uri)
    task = client.task()
    assert task == parse_task(json.loads((FIXTURES / "fargate-task-metadata-multi-container.json").read_text()))
    container = client.container()
    assert container.name == "ecs-exporter"
    assert container == task.container_by_name("ecs-exporter")
    stats = client.task_stats()
    assert set(stats) == {c.docker_id for c in task.containers}
    assert stats[task.containers[0].docker_id] is None  # the STOPPED container's stats are null here
    own = client.container_stats()
    assert own == stats[container.docker_id]
    assert own["memory_stats"]["stats"]["total_inactive_file"] > 0  # cgroup v1 keys
    tagged = client.task_with_tags()
    assert tagged.task_arn == task.task_arn and dict(tagged.task_tags) == {}


def test_task_and_container_are_cached_stats_are_not(fargate: EmulatorProcess) -> None:
    client = MetadataClient(fargate.uri)
    fargate.reset_counts()
    first = client.task()
    for _ in range(5):
        assert client.task() is first
        client.container()
        client.task_stats()
    counts = fargate.requests()
    assert counts["task"] == 1
    assert counts["container"] == 1
    assert counts["task/stats"] == 5
    assert client.task(refresh=True) == first
    assert fargate.requests()["task"] == 2


def test_cache_survives_the_endpoint_vanishing(fargate: EmulatorProcess) -> None:
    client = MetadataClient(fargate.uri, timeout_s=0.5)
    task = client.task()
    fargate.set_fault("500")
    try:
        assert client.task() is task
        with pytest.raises(MetadataUnavailable):
            client.task_stats()
    finally:
        fargate.set_fault(None)


@pytest.mark.parametrize(
    ("fault", "error", "status"),
    [("500", MetadataUnavailable, 500), ("404", MetadataUnavailable, 404), ("malformed", MetadataMalformed, None)],
)
def test_fault_errors_are_typed(
    fargate: EmulatorProcess, fault: str, error: type[Exception], status: int | None
) -> None:
    fargate.set_fault(fault)
    try:
        with pytest.raises(error) as info:
            MetadataClient(fargate.uri, timeout_s=1.0).task()
        if status is not None:
            assert info.value.status == status  # type: ignore[attr-defined]
    finally:
        fargate.set_fault(None)


def test_500_is_retried_once_and_404_is_not(fargate: EmulatorProcess) -> None:
    for fault, attempts in (("500", 2), ("404", 1)):
        fargate.set_fault(fault)
        fargate.reset_counts()
        try:
            with pytest.raises(MetadataUnavailable):
                MetadataClient(fargate.uri, timeout_s=2.0).task()
            assert fargate.requests()["task"] == attempts, fault
        finally:
            fargate.set_fault(None)


def test_total_timeout_covers_the_retry(fargate: EmulatorProcess) -> None:
    # Each attempt waits 0.6 s and then fails with 500: the first attempt fails inside the budget,
    # the retry is cut off by what is left of it, so the call ends near 1 s, not near 1.2 s or 2 s.
    fargate.set_fault("500", delay_s=0.6)
    fargate.reset_counts()
    try:
        client = MetadataClient(fargate.uri, timeout_s=1.0)
        started = time.monotonic()
        with pytest.raises(MetadataUnavailable):
            client.task()
        elapsed = time.monotonic() - started
        assert elapsed < 1.0 + SLACK_S
        assert fargate.requests()["task"] == 2  # the retry did happen, inside the same budget
    finally:
        fargate.set_fault(None)


def test_hang_is_bounded_by_the_budget(fargate: EmulatorProcess) -> None:
    fargate.set_fault("hang")
    try:
        client = MetadataClient(fargate.uri, timeout_s=0.5)
        started = time.monotonic()
        with pytest.raises(MetadataUnavailable, match="timed out"):
            client.container()
        assert time.monotonic() - started < 0.5 + SLACK_S
    finally:
        fargate.set_fault(None)


@pytest.mark.parametrize("deadline", [math.inf, math.nan])
def test_unbounded_deadline_falls_back_to_the_budget(fargate: EmulatorProcess, deadline: float) -> None:
    fargate.set_fault("hang")
    try:
        client = MetadataClient(fargate.uri, timeout_s=0.5)
        started = time.monotonic()
        with pytest.raises(MetadataUnavailable, match="timed out"):
            client.task(deadline=deadline, refresh=True)
        assert time.monotonic() - started < 0.5 + SLACK_S
    finally:
        fargate.set_fault(None)


@pytest.mark.parametrize("timeout_s", [0.0, -1.0, math.inf, math.nan])
def test_timeout_must_be_positive_and_finite(timeout_s: float) -> None:
    with pytest.raises(ValueError, match="positive and finite"):
        MetadataClient("http://169.254.170.2/v4/abc", timeout_s=timeout_s)


def test_slow_within_budget_succeeds(fargate: EmulatorProcess) -> None:
    fargate.set_fault("slow", delay_s=0.2)
    try:
        assert MetadataClient(fargate.uri, timeout_s=3.0).container().name == "ecs-exporter"
    finally:
        fargate.set_fault(None)


def test_connection_refused_is_unavailable(tmp_path: Path) -> None:
    emu = EmulatorProcess(tmp_path)
    uri = emu.uri
    emu.stop()
    with pytest.raises(MetadataUnavailable):
        MetadataClient(uri, timeout_s=0.5).task()


def test_from_environment() -> None:
    assert MetadataClient.from_environment({}) is None
    v4 = MetadataClient.from_environment({"ECS_CONTAINER_METADATA_URI_V4": "http://169.254.170.2/v4/abc"})
    assert v4 is not None and v4.base_url == "http://169.254.170.2/v4/abc" and v4.timeout_s == 1.0
    v3 = MetadataClient.from_environment(
        {"ECS_CONTAINER_METADATA_URI": "http://169.254.170.2/v3/abc", "ECS_OTEL_METADATA_TIMEOUT": "0.25"}
    )
    assert v3 is not None and v3.base_url.endswith("/v3/abc") and v3.timeout_s == 0.25
    both = MetadataClient.from_environment(
        {"ECS_CONTAINER_METADATA_URI": "http://a/v3/x", "ECS_CONTAINER_METADATA_URI_V4": "http://b/v4/y"}
    )
    assert both is not None and both.base_url == "http://b/v4/y"
    assert MetadataClient.from_environment({"ECS_CONTAINER_METADATA_URI_V4": "not a url"}) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("", 1.0), ("2.5", 2.5), ("abc", 1.0), ("-1", 1.0), ("0", 1.0), ("inf", 1.0), ("nan", 1.0), ("1e400", 1.0)],
)
def test_timeout_setting(raw: str, expected: float) -> None:
    assert timeout_from_environment({"ECS_OTEL_METADATA_TIMEOUT": raw}) == expected


def test_v3_style_path_is_served(fargate: EmulatorProcess) -> None:
    client = MetadataClient(fargate.uri.replace("/v4/", "/v3/"))
    assert client.task().family == "prom-ecs-exporter-sandbox-main-fargate"
