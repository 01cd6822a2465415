"""One container's bad stats never cost the other containers (or the task) their metrics.

A ``read`` timestamp before 1970 (the ECS agent's own test documents use
``1969-12-31T23:59:59.99999999Z``) made ``build_request`` raise "Value out of range: -10", and with it
every scrape of the task failed. Each case below breaks one container of a real fixture; the other
containers must export exactly what they export from the clean document.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ecs_otel.metadata import parse_task
from sidecar.config import load_settings
from sidecar.context import SidecarContext
from sidecar.scrapers.ecs_stats._internal import StatsCalculator, parse_task_stats
from sidecar.scrapers.ecs_stats._internal.otlp import build_request, points
from sidecar.scrapers.ecs_stats._internal.timestamps import parse_rfc3339_ns
from sidecar.scrapers.ecs_stats.scraper import EcsStatsScraper
from tests.sidecar.scrapers.ecs_stats.fixtures_util import compute, exported, load
from tests.support.emulator import EmulatorProcess

TASK = "fargate-task-metadata-multi-container"
STATS = "fargate-task-stats-cgroupv1"
BAD = "bae32def0ab64f06818e8862e58f8d6d-1819985369"  # the "prometheus" container
BAD_NAME = "prometheus"


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(stats: dict[str, Any]) -> None:
        node = stats[BAD]
        *parents, leaf = path.split(".")
        for key in parents:
            node = node[key]
        node[leaf] = value

    return edit


#: (what, edit of the bad container's stats entry)
CASES = [
    ("read before 1970 (the agent's test documents)", _set("read", "1969-12-31T23:59:59.99999999Z")),
    ("read at the epoch", _set("read", "1970-01-01T00:00:00Z")),
    ("preread before 1970", _set("preread", "1969-12-31T23:59:59.99999999Z")),
    ("read past what OTLP can carry", _set("read", "9999-12-31T23:59:59Z")),
    ("cpu counter past int64", _set("cpu_stats.cpu_usage.total_usage", 2**64)),
    ("memory usage past int64", _set("memory_stats.usage", 2**64 - 1)),
    ("network counter past int64", _set("networks.eth1.rx_bytes", 2**70)),
    ("storage counter past int64", _set("blkio_stats.io_service_bytes_recursive",
                                        [{"major": 8, "minor": 0, "op": "Read", "value": 2**64}])),
    ("rate that is not finite", _set("network_rate_stats.rx_bytes_per_sec", float("inf"))),
]


def _others(values: dict[tuple[str | None, str], list[Any]]) -> dict[tuple[str | None, str], list[Any]]:
    return {k: v for k, v in values.items() if k[0] not in (None, BAD_NAME)}


@pytest.mark.parametrize(("what", "edit"), CASES, ids=[c[0] for c in CASES])
def test_one_bad_container_costs_only_its_own_bad_values(what: str, edit: Callable[[dict[str, Any]], None]) -> None:
    task_doc, stats_doc = load(TASK), load(STATS)
    assert BAD in stats_doc and stats_doc[BAD]["networks"].get("eth1") is not None
    clean = exported(compute(task_doc, stats_doc))
    broken_stats = copy.deepcopy(stats_doc)
    edit(broken_stats)
    values = compute(task_doc, broken_stats)
    got = exported(values)  # used to raise: the whole scrape lost
    assert _others(got) == _others(clean)
    assert (BAD_NAME, "container.status") in got  # the bad container is still there
    assert (None, "ecs.task.memory.reserved") in got  # and so is the task
    for _res, _name, dps in points(build_request(values)):
        for dp in dps:
            assert 0 < dp.time_unix_nano < 1 << 64
            assert dp.start_time_unix_nano == 0 or 0 < dp.start_time_unix_nano < 1 << 64


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1969-12-31T23:59:59.99999999Z", None),
        ("1970-01-01T00:00:00Z", None),
        ("1970-01-01T00:00:00.000000001Z", 1),
        ("2554-07-21T23:34:33.709551615Z", (1 << 64) - 1),
        ("2554-07-21T23:34:33.709551616Z", None),
        ("0001-01-01T00:00:00Z", None),
    ],
)
def test_only_times_otlp_can_carry_are_times(text: str, expected: int | None) -> None:
    assert parse_rfc3339_ns(text) == expected


def test_a_container_step_that_fails_leaves_the_other_containers_whole() -> None:
    """Data no check foresaw (here a counter of the wrong type) fails one container's step only."""
    task = parse_task(load(TASK))
    stats = parse_task_stats(load(STATS))
    clean = StatsCalculator(fallback_start_ns=0).compute(task, stats, 2_000_000_000_000_000_000)
    bad = dict(stats)
    bad[BAD] = dataclasses.replace(stats[BAD], cpu_total_ns="lots")  # type: ignore[arg-type]
    values = StatsCalculator(fallback_start_ns=0).compute(task, bad, 2_000_000_000_000_000_000)
    assert [p.split(":")[0] for p in values.problems] == [f"container {BAD_NAME!r}"]
    by_name = {c.meta.name: c for c in values.containers}
    assert by_name[BAD_NAME].stats is None  # reported without stats: status and reservations only
    assert {k: v for k, v in by_name.items() if k != BAD_NAME} == {
        c.meta.name: c for c in clean.containers if c.meta.name != BAD_NAME}
    assert values.memory_reserved_mib == clean.memory_reserved_mib


def test_a_resource_that_cannot_be_written_is_left_out_alone() -> None:
    values = compute(load(TASK), load(STATS))
    clean = exported(values)
    bad = next(c for c in values.containers if c.meta.name == BAD_NAME)
    bad.vcpu = "fast"  # type: ignore[assignment]  # a value no derivation produces: the write fails
    got = exported(values)
    assert _others(got) == _others(clean)
    assert not any(k[0] == BAD_NAME for k in got)
    assert any(p.startswith(f"container {BAD_NAME!r}: not written") for p in values.problems)


async def test_the_scraper_reports_every_container_when_one_has_a_time_before_1970(tmp_path: Path) -> None:
    """The real scraper against the emulator serving the broken document: every scrape succeeds."""
    stats_doc = load(STATS)
    stats_doc[BAD]["read"] = "1969-12-31T23:59:59.99999999Z"
    other = next(k for k, v in stats_doc.items() if v and k != BAD)
    stats_doc[other]["cpu_stats"]["cpu_usage"]["total_usage"] = 2**64
    task_file, stats_file = tmp_path / "task.json", tmp_path / "stats.json"
    task_file.write_text(json.dumps(load(TASK)))
    stats_file.write_text(json.dumps(stats_doc))

    with EmulatorProcess(tmp_path, "--task", str(task_file), "--task-stats", str(stats_file),
                         "--container-name", "prometheus") as emu:
        ctx = SidecarContext(env={"ECS_CONTAINER_METADATA_URI_V4": emu.uri})
        scraper = EcsStatsScraper(load_settings(EcsStatsScraper.Settings, {}, ctx.env, "scrapers.ecs_stats"), ctx)
        for _ in range(2):
            request = await asyncio.wait_for(scraper.scrape_once(), 20)  # bounds a hang only
            assert request is not None
            names = {(rm_attrs.get("container.name", {}).get("stringValue"), name)
                     for rm_attrs, name, _dps in points(request)}
            for container in ("prometheus", "ecs-exporter"):
                assert (container, "container.memory.utilized") in names
            assert (None, "ecs.task.memory.utilized") in names
        scrapes = ctx.telemetry.counter("ecs_otel_sidecar_scrapes_total", "")
        assert scrapes.get(scraper="ecs_stats", outcome="error") == 0
        assert scrapes.get(scraper="ecs_stats", outcome="ok") == 2
