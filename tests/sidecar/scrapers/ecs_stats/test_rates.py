"""Two samples give exact rates; a counter reset never gives a negative one."""

from __future__ import annotations

import copy

from sidecar.scrapers.ecs_stats._internal import StatsCalculator
from tests.sidecar.scrapers.ecs_stats.fixtures_util import compute, exported, load, value

EXP = "01cf1f3208005cda71d5ac936ded65d2ecc0a8cc8ff8a82d2e00410bf4fbbd6d"
PROM = "6b80adab0733f579594eccae31e5b0056b9544b805450ad6e278fed7f5e1c5ba"


def _without_rates(doc):
    doc = copy.deepcopy(doc)
    for entry in doc.values():
        if entry:
            entry.pop("network_rate_stats", None)
            entry["precpu_stats"] = {}  # as Docker sends on a container's first read
    return doc


def _advance(doc, seconds: str, rx: int, tx: int, cpu: int):
    """The same task `seconds` later (an RFC 3339 seconds field), with counters moved by the given amounts."""
    doc = copy.deepcopy(doc)
    for entry in doc.values():
        if not entry:
            continue
        entry["read"] = entry["read"][:17] + seconds + entry["read"][19:]
        for n in entry["networks"].values():
            n["rx_bytes"] += rx
            n["tx_bytes"] += tx
        entry["cpu_stats"]["cpu_usage"]["total_usage"] += cpu
    return doc


def _points(values):
    return {k: [value(dp) for dp in dps] for k, dps in exported(values).items()}


def test_first_sample_has_no_rate_second_has_the_exact_one():
    task = load("ec2-task-metadata-service-multi-container")
    first = _without_rates(load("ec2-task-stats-cgroupv2"))  # read at ...:07.856950259 / :07.855390957
    calc = StatsCalculator(fallback_start_ns=0)
    m1 = _points(compute(task, first, calc))
    assert ("ecs-exporter", "container.network.rate.rx") not in m1
    assert (None, "ecs.task.network.rate.rx") not in m1
    assert ("ecs-exporter", "container.cpu.usage.vcpu") not in m1  # no precpu, no previous sample yet
    second = _advance(first, "27", rx=20_000, tx=5_000, cpu=4_000_000_000)  # 20 s later, exactly
    m2 = _points(compute(task, second, calc))
    assert m2[("ecs-exporter", "container.network.rate.rx")] == [20_000 / 20]
    assert m2[("ecs-exporter", "container.network.rate.tx")] == [5_000 / 20]
    assert m2[("ecs-exporter", "container.cpu.usage.vcpu")] == [4_000_000_000 / 20e9]
    # bridge mode: two containers, each moved by 20000 bytes in 20 s
    assert m2[(None, "ecs.task.network.rate.rx")] == [2 * 20_000 / 20]
    assert m2[(None, "ecs.task.cpu.usage.vcpu")] == [2 * 4_000_000_000 / 20e9]


def test_shared_eni_rate_from_previous_sample_is_counted_once():
    task = load("fargate-task-metadata-multi-container")
    first = _without_rates(load("fargate-task-stats-cgroupv1"))
    calc = StatsCalculator(fallback_start_ns=0)
    compute(task, first, calc)
    m2 = _points(compute(task, _advance(first, "59", rx=10_000, tx=1_000, cpu=0), calc))
    assert m2[(None, "ecs.task.network.rate.rx")] == [10_000 / 10]
    assert m2[(None, "ecs.task.network.rate.tx")] == [1_000 / 10]


def test_counter_reset_gives_no_negative_rate_and_a_new_start():
    task = load("ec2-task-metadata-service-multi-container")
    first = _without_rates(load("ec2-task-stats-cgroupv2"))
    calc = StatsCalculator(fallback_start_ns=0)
    v1 = compute(task, first, calc)
    restarted = _advance(first, "27", rx=0, tx=0, cpu=0)
    entry = restarted[EXP]
    entry["networks"]["eth0"]["rx_bytes"] = 100  # the container restarted in place
    entry["networks"]["eth0"]["tx_bytes"] = 50
    entry["cpu_stats"]["cpu_usage"]["total_usage"] = 1_000
    v2 = compute(task, restarted, calc)
    m2 = _points(v2)
    assert ("ecs-exporter", "container.network.rate.rx") not in m2
    assert ("ecs-exporter", "container.cpu.usage.vcpu") not in m2
    assert m2[("prometheus", "container.network.rate.rx")] == [0.0]  # the other container is unaffected
    for key, vals in m2.items():
        if "rate" in key[1] or "vcpu" in key[1]:
            assert all(v >= 0 for v in vals), key
    exp1 = next(c for c in v1.containers if c.meta.name == "ecs-exporter")
    exp2 = next(c for c in v2.containers if c.meta.name == "ecs-exporter")
    assert exp2.start_ns > exp1.start_ns  # cumulative counters restart with a new start time
    assert v2.start_ns > v1.start_ns  # and so do the task sums, which went back too
    # the cumulative points carry that start
    (dp,) = exported(v2)[("ecs-exporter", "container.cpu.usage.total")]
    assert dp.start_time_unix_nano == exp2.start_ns and dp.as_int == 1_000
    # a third sample after the reset gives an exact rate again
    third = _advance(restarted, "47", rx=0, tx=0, cpu=0)
    third[EXP]["networks"]["eth0"]["rx_bytes"] = 100 + 4_000
    m3 = _points(compute(task, third, calc))
    assert m3[("ecs-exporter", "container.network.rate.rx")] == [4_000 / 20]


def test_state_is_bounded_by_the_containers_present():
    calc = StatsCalculator(fallback_start_ns=0)
    task = load("ec2-task-metadata-service-multi-container")
    compute(task, load("ec2-task-stats-cgroupv2"), calc)
    assert set(calc._history) == {EXP, PROM}
    compute(task, {EXP: None, PROM: None}, calc)
    assert calc._history == {}
