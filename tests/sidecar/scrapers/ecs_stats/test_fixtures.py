"""Every stats fixture against a hand calculation, including each defect of the collector's receiver."""

from __future__ import annotations

import pytest

from sidecar.scrapers.ecs_stats._internal import NO_LIMIT_THRESHOLD, parse_container_stats, parse_task_stats
from tests.sidecar.scrapers.ecs_stats.fixtures_util import MIB, compute, exported, load, ns, value, with_ids

FARGATE_PROM = "bae32def0ab64f06818e8862e58f8d6d-1819985369"
FARGATE_EXP = "bae32def0ab64f06818e8862e58f8d6d-4159844948"
EC2_EXP = "01cf1f3208005cda71d5ac936ded65d2ecc0a8cc8ff8a82d2e00410bf4fbbd6d"
EC2_PROM = "6b80adab0733f579594eccae31e5b0056b9544b805450ad6e278fed7f5e1c5ba"


@pytest.fixture
def fargate():
    return compute(load("fargate-task-metadata-multi-container"), load("fargate-task-stats-cgroupv1"))


@pytest.fixture
def ec2_v2():
    return compute(load("ec2-task-metadata-service-multi-container"), load("ec2-task-stats-cgroupv2"))


def one(points, key):
    (dp,) = points[key]
    return value(dp)


# --- Fargate, cgroup v1, awsvpc, a stopped container as null -----------------------------------


def test_fargate_cgroup_v1_container_values(fargate):
    m = exported(fargate)
    # working set on v1: usage - cache
    assert one(m, ("prometheus", "container.memory.utilized")) == (127934464 - 85426176) / MIB
    assert one(m, ("ecs-exporter", "container.memory.utilized")) == (84111360 - 42442752) / MIB
    assert one(m, ("prometheus", "container.memory.usage")) == 127934464
    assert one(m, ("prometheus", "container.memory.usage.max")) == 128557056
    # vCPU: CPU ns over wall ns between preread and read of the same document
    prom_vcpu = (932439492 - 925246189) / (ns("05:22:49.186680233") - ns("05:22:39.185738849"))
    exp_vcpu = (322633383 - 242770940) / (ns("05:22:49.406170373") - ns("05:22:39.406479661"))
    assert one(m, ("prometheus", "container.cpu.usage.vcpu")) == pytest.approx(prom_vcpu, rel=1e-12)
    assert one(m, ("ecs-exporter", "container.cpu.usage.vcpu")) == pytest.approx(exp_vcpu, rel=1e-12)
    assert one(m, ("prometheus", "container.cpu.usage.total")) == 932439492
    # Fargate containers carry CPU 2 (Docker's minimum share): no container reservation, no utilisation
    assert ("prometheus", "container.cpu.reserved") not in m
    assert ("prometheus", "container.cpu.utilization") not in m
    # task: 0.25 vCPU and 512 MiB from task Limits
    assert one(m, (None, "ecs.task.cpu.usage.vcpu")) == pytest.approx(prom_vcpu + exp_vcpu, rel=1e-12)
    assert one(m, (None, "ecs.task.cpu.reserved")) == 0.25
    assert one(m, (None, "ecs.task.cpu.utilization")) == pytest.approx((prom_vcpu + exp_vcpu) / 0.25, rel=1e-12)
    assert one(m, (None, "ecs.task.memory.usage.limit")) == 512 * MIB
    assert one(m, (None, "ecs.task.memory.reserved")) == 512
    ws = (127934464 - 85426176) + (84111360 - 42442752)
    assert one(m, (None, "ecs.task.memory.utilized")) == ws / MIB
    assert one(m, (None, "ecs.task.memory.utilization")) == ws / (512 * MIB)
    assert one(m, (None, "ecs.task.ephemeral_storage.utilized")) == 427
    assert one(m, (None, "ecs.task.ephemeral_storage.reserved")) == 20496


def test_fargate_stopped_container_as_null_keeps_the_scrape(fargate):
    m = exported(fargate)
    (status,) = m[("nonessential", "container.status")]
    assert status.attributes[0].value.string_value == "STOPPED"
    assert ("nonessential", "container.cpu.usage.vcpu") not in m
    assert ("prometheus", "container.memory.utilized") in m and (None, "ecs.task.memory.utilized") in m


def test_defect_storage_summed_over_every_device(fargate):
    """The receiver assigns instead of adding, so only the last device listed counts (65409024)."""
    m = exported(fargate)
    assert one(m, ("prometheus", "container.storage.read_bytes")) == 23793664 + 65409024
    assert one(m, ("ecs-exporter", "container.storage.read_bytes")) == 28639232 + 14655488
    assert one(m, ("ecs-exporter", "container.storage.write_bytes")) == 0 + 4096
    assert one(m, (None, "ecs.task.storage.read_bytes")) == 23793664 + 65409024 + 28639232 + 14655488


def test_defect_awsvpc_network_counted_once(fargate):
    """Both containers see the task ENI eth1; the receiver sums them (2× the real traffic)."""
    m = exported(fargate)
    # the freshest reading (ecs-exporter, read at :49.406 > :49.186) is the task's, once
    assert one(m, (None, "ecs.task.network.io.usage.rx_bytes")) == 129046293
    assert one(m, (None, "ecs.task.network.io.usage.tx_bytes")) == 348223
    assert one(m, (None, "ecs.task.network.rate.rx")) == 2556.879064581499
    assert one(m, (None, "ecs.task.network.rate.tx")) == 1211.8374728018853
    assert one(m, (None, "ecs.task.network.rate.rx")) != 2464.6679803462657 + 2556.879064581499
    # each container still reports what it sees, per interface
    (dp,) = m[("prometheus", "container.network.io.usage.rx_bytes")]
    assert value(dp) == 129045374
    assert {kv.key: kv.value.string_value for kv in dp.attributes} == {"network.interface.name": "eth1"}
    assert one(m, ("prometheus", "container.network.rate.rx")) == 2464.6679803462657


def test_defect_no_limit_sentinel_never_summed(fargate):
    """9223372036854771712 per container: the receiver's uint64 sum wraps to a negative int64."""
    st = parse_task_stats(load("fargate-task-stats-cgroupv1"))
    assert st[FARGATE_PROM].memory.limit is None  # type: ignore[union-attr]
    m = exported(fargate)
    assert ("prometheus", "container.memory.usage.limit") not in m
    # without task-level Limits and with unlimited containers, the task has no known limit at all
    doc = load("fargate-task-metadata-multi-container")
    del doc["Limits"]
    values = compute(doc, load("fargate-task-stats-cgroupv1"))
    assert values.memory_limit_bytes is None
    for _key, dps in exported(values).items():
        for dp in dps:
            assert -(2**63) <= value(dp) < NO_LIMIT_THRESHOLD


def test_defect_task_cpu_is_vcpu_not_cpu_units(fargate):
    """The receiver's ecs.task.cpu.utilized is vCPU × 1024 beside a container percentage."""
    m = exported(fargate)
    assert (None, "ecs.task.cpu.utilized") not in m and ("prometheus", "container.cpu.utilized") not in m
    task_vcpu = one(m, (None, "ecs.task.cpu.usage.vcpu"))
    assert task_vcpu == pytest.approx(sum(one(m, (c, "container.cpu.usage.vcpu")) for c in ("prometheus", "ecs-exporter")))
    assert 0 < task_vcpu < 0.25  # a quarter-vCPU task: vCPU, not 1024ths


# --- EC2, cgroup v2, bridge, a stopped container as {} ------------------------------------------


def test_defect_cgroup_v2_working_set_subtracts_inactive_file(ec2_v2):
    """v2 has no `cache` key: the receiver reports usage (page cache included) as utilized."""
    m = exported(ec2_v2)
    assert one(m, ("ecs-exporter", "container.memory.utilized")) == (65249280 - 17641472) / MIB
    assert one(m, ("prometheus", "container.memory.utilized")) == (60981248 - 11046912) / MIB
    assert one(m, ("ecs-exporter", "container.memory.utilized")) != 65249280 / MIB  # the receiver's answer
    assert ("ecs-exporter", "container.memory.usage.max") not in m  # v2 has no max_usage
    assert one(m, ("ecs-exporter", "container.memory.usage.limit")) == 268435456
    assert one(m, ("ecs-exporter", "container.memory.utilization")) == (65249280 - 17641472) / 268435456


def test_defect_cgroup_v2_storage_ops_are_lower_case(ec2_v2):
    m = exported(ec2_v2)
    assert one(m, ("ecs-exporter", "container.storage.read_bytes")) == 60960768
    assert one(m, ("ecs-exporter", "container.storage.write_bytes")) == 57344
    assert one(m, ("prometheus", "container.storage.write_bytes")) == 274432
    assert one(m, (None, "ecs.task.storage.read_bytes")) == 60960768 + 99926016


def test_ec2_bridge_network_is_per_container_and_summed(ec2_v2):
    m = exported(ec2_v2)
    assert one(m, (None, "ecs.task.network.io.usage.rx_bytes")) == 101869 + 45368
    assert one(m, (None, "ecs.task.network.rate.tx")) == 3390.065673828125 + 41.86697006225586


def test_ec2_cpu_units_and_reservations(ec2_v2):
    m = exported(ec2_v2)
    vcpu = (331125000 - 325963000) / (ns("05:18:07.856950259") - ns("05:18:06.853724878"))
    assert one(m, ("ecs-exporter", "container.cpu.usage.vcpu")) == pytest.approx(vcpu, rel=1e-12)
    assert one(m, ("prometheus", "container.cpu.usage.vcpu")) == 0.0
    assert one(m, ("ecs-exporter", "container.cpu.reserved")) == 128 / 1024
    assert one(m, ("ecs-exporter", "container.cpu.utilization")) == pytest.approx(vcpu / (128 / 1024), rel=1e-12)
    assert one(m, (None, "ecs.task.cpu.reserved")) == 3 * 128 / 1024  # no task Limits: sum of containers
    assert one(m, (None, "ecs.task.memory.usage.limit")) == 2 * 268435456  # live containers' limits
    assert one(m, (None, "ecs.task.memory.reserved")) == 3 * 256
    (status,) = m[("nonessential", "container.status")]
    assert status.attributes[0].value.string_value == "STOPPED"


# --- Fargate 2021 with a {} container; the docs examples --------------------------------------------


def test_fargate_2021_empty_object_container():
    values = compute(load("fargate-task-metadata-stopped-container"), load("fargate-task-stats-stopped-empty-object"))
    m = exported(values)
    assert one(m, ("essential", "container.cpu.usage.vcpu")) == 0.0  # 201366568 - 201366568
    assert one(m, ("essential", "container.memory.utilized")) == (974848 - 0) / MIB
    assert one(m, ("essential", "container.storage.read_bytes")) == 0  # empty blkio lists
    assert one(m, (None, "ecs.task.network.rate.rx")) == 0.0  # an integer 0 in the document
    assert one(m, (None, "ecs.task.network.rate.tx")) == 6.998895157210041
    assert ("non", "container.memory.utilized") not in m and ("non", "container.status") in m


def test_docs_task_stats_with_pause_container():
    stats = load("ec2-task-stats-docs")
    ids = list(stats)  # pause first, then curl, as in the metadata document
    values = compute(with_ids(load("ec2-task-metadata-awsvpc-pause"), ids), stats)
    m = exported(values)
    curl_vcpu = (379075681 - 378825197) / (ns("00:51:32.512771349") - ns("00:51:31.510597736"))
    assert one(m, ("curl", "container.cpu.usage.vcpu")) == pytest.approx(curl_vcpu, rel=1e-12)
    assert one(m, ("curl", "container.memory.utilized")) == (1814528 - 0) / MIB
    assert one(m, ("curl", "container.memory.usage.limit")) == 134217728
    assert one(m, ("curl", "container.cpu.reserved")) == 10 / 1024
    # awsvpc on EC2: eth0 of the task ENI counted once (both read 84 bytes)
    assert one(m, (None, "ecs.task.network.io.usage.rx_bytes")) == 84
    assert one(m, (None, "ecs.task.memory.utilized")) == (532480 + 1814528) / MIB
    assert ("~internal~ecs~pause", "container.cpu.reserved") not in m  # CPU 0


def test_docs_single_container_stats():
    st = parse_container_stats("x", load("ec2-container-stats-bridge-docs"))
    assert st is not None and st.memory is not None
    assert st.memory.cgroup == 1 and st.memory.working_set == 1806336 - 0
    assert st.memory.limit == 134217728
    assert st.name == "ecs-curltest-26-curl-c2e5f6e0cf91b0bead01"
    assert st.read_ns - st.preread_ns == ns("00:51:13.410254284") - ns("00:51:12.406202398")  # type: ignore[operator]
    assert st.pids_current == 3 and st.network_rx_rate == 0.0


@pytest.mark.parametrize("empty", [None, {}, [], "x"])
def test_container_without_stats_parses_to_none(empty):
    assert parse_container_stats("c", empty) is None


def test_cgroup_versions_detected():
    v2 = parse_task_stats(load("ec2-task-stats-cgroupv2"))
    v1 = parse_task_stats(load("fargate-task-stats-cgroupv1"))
    assert v2[EC2_EXP].memory.cgroup == 2 and v2[EC2_PROM].memory.cgroup == 2  # type: ignore[union-attr]
    assert v1[FARGATE_EXP].memory.cgroup == 1  # type: ignore[union-attr]
    assert v2["213e1203f4bb72af185724d937e698d2724acf35b57ec2dd5f3c963adbd2d38c"] is None


def test_windows_stats_shape_memory_from_private_working_set_and_storage_stats():
    """Issue 15, ECS item 5. No public Windows ECS document was found, so this one is built from Docker's
    Windows stats fields (memory_stats.commitbytes/commitpeakbytes/privateworkingset, storage_stats.*), with
    a commit charge 50 % above the private working set as on real Windows hosts."""
    doc = {
        "read": "2026-01-01T00:00:01.000000000Z", "preread": "2026-01-01T00:00:00.000000000Z",
        "name": "/ecs-win-app", "id": "win1", "num_procs": 12,
        "cpu_stats": {"cpu_usage": {"total_usage": 5_000_000}},
        "memory_stats": {"commitbytes": 150 * MIB, "commitpeakbytes": 160 * MIB, "privateworkingset": 100 * MIB},
        "storage_stats": {"read_count_normalized": 10, "read_size_bytes": 4096, "write_count_normalized": 3,
                          "write_size_bytes": 1024},
        "blkio_stats": {"io_service_bytes_recursive": None},
    }  # fmt: skip
    st = parse_container_stats("win1", doc)
    assert st is not None and st.memory is not None
    assert st.memory.cgroup == 0 and st.memory.working_set == 100 * MIB  # not the 150 MiB commit charge
    assert st.memory.usage == 150 * MIB and st.memory.limit is None
    assert (st.storage_read_bytes, st.storage_write_bytes) == (4096, 1024)


def test_managed_instances_tasks_stats_array_is_parsed():
    """Issue 15, ECS item 8: /tasks/stats on ECS Managed Instances is an array; it was a StatsFormatError."""
    stats = parse_task_stats(load("managed-instances-daemon-tasks-stats"))
    assert set(stats) == {"081d2c75d3a2419d95ab6f8979fb61fb-1547245599", "45f36d5449924905a16c3d03c1fba67a-1950351559"}
    agent = stats["081d2c75d3a2419d95ab6f8979fb61fb-1547245599"]
    assert agent is not None and agent.memory is not None and agent.name == "monitor-agent"
    assert agent.memory.cgroup == 2 and agent.memory.limit is None  # 2^64 - 1: no limit
    assert agent.storage_write_bytes == 520192
