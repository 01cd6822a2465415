"""The emulator as users and tests run it: a real process, its routes, counters and controls."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from ecs_otel.metadata import MetadataClient, parse_task, parse_tasks, stats_cgroup_version
from tests.conftest import FIXTURES, ROOT
from tests.support.emulator import EmulatorProcess


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


def status_of(url: str, data: bytes | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_synthesised_task_is_consistent(ecs_emulator: EmulatorProcess) -> None:
    client = MetadataClient(ecs_emulator.uri)
    task = client.task()
    assert task.launch_type == "FARGATE" and task.cluster_name == "ecs-otel-local"
    assert [c.name for c in task.containers] == ["app", "ecs-otel-sidecar"]
    assert set(ecs_emulator.uris) == {"app", "ecs-otel-sidecar"}
    app = client.container()
    assert app.name == "app" and app.restart_count == 0  # the synthetic app has a restart policy
    assert app.docker_id is not None and app.docker_id.startswith(task.task_id + "-")  # Fargate id shape
    stats = client.task_stats()
    assert set(stats) == {c.docker_id for c in task.containers}
    assert all(stats_cgroup_version(s) == 2 for s in stats.values())


def test_synthesised_counters_advance(ecs_emulator: EmulatorProcess) -> None:
    client = MetadataClient(ecs_emulator.uri, timeout_s=5)
    first = client.container_stats()
    # Burn a little CPU and move some bytes so the machine's counters visibly move.
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        sum(i * i for i in range(10_000))
    client.task()
    second = client.container_stats()
    assert second["read"] > first["read"] and second["preread"] == first["read"]
    assert second["precpu_stats"] == first["cpu_stats"]
    assert second["cpu_stats"]["system_cpu_usage"] > first["cpu_stats"]["system_cpu_usage"]
    assert second["cpu_stats"]["cpu_usage"]["total_usage"] >= first["cpu_stats"]["cpu_usage"]["total_usage"]
    for key in ("rx_bytes", "rx_packets", "tx_bytes", "tx_packets"):
        assert second["networks"]["eth1"][key] >= first["networks"]["eth1"][key], key
    assert second["networks"]["eth1"]["rx_bytes"] > 0
    for a, b in zip(
        first["blkio_stats"]["io_service_bytes_recursive"], second["blkio_stats"]["io_service_bytes_recursive"],
        strict=True,
    ):
        assert a["op"] == b["op"] and b["value"] >= a["value"]
    memory = second["memory_stats"]
    assert 0 < memory["usage"] <= memory["limit"]
    assert second["network_rate_stats"]["rx_bytes_per_sec"] >= 0


def test_synthesised_options(tmp_path: Path) -> None:
    with EmulatorProcess(tmp_path, "--containers", "4", "--launch-type", "EC2", "--region", "eu-west-3") as emu:
        task = MetadataClient(emu.uri).task()
        assert len(task.containers) == 4 and len(set(emu.uris)) == 4
        assert task.launch_type == "EC2" and task.region == "eu-west-3"
        assert task.cluster == "ecs-otel-local"  # EC2 documents carry the short cluster name
        assert all(c.docker_id and len(c.docker_id) == 64 for c in task.containers)


@pytest.mark.parametrize(
    ("scenario", "task_file"),
    [
        ("fargate-cgroupv1", "fargate-task-metadata-multi-container.json"),
        ("ec2-cgroupv2", "ec2-task-metadata-service-multi-container.json"),
        ("fargate-stopped", "fargate-task-metadata-stopped-container.json"),
    ],
)
def test_scenarios_serve_the_fixture_bytes(tmp_path: Path, scenario: str, task_file: str) -> None:
    with EmulatorProcess(tmp_path, "--scenario", scenario) as emu:
        assert get(emu.uri + "/task") == json.loads((FIXTURES / task_file).read_text())
        task = parse_task(get(emu.uri + "/task"))
        stats = get(emu.uri + "/task/stats")
        assert set(stats) == {c.docker_id for c in task.containers}
        # every container of the task is reachable under its own id
        for name, uri in emu.uris.items():
            assert get(uri)["Name"] == name


def test_tags_and_managed_instances_routes(tmp_path: Path) -> None:
    with EmulatorProcess(tmp_path, "--scenario", "ec2-tags-error") as emu:
        tagged = parse_task(get(emu.uri + "/taskWithTags"))
        assert [e.code for e in tagged.errors] == ["AccessDeniedException"] * 2
    with EmulatorProcess(tmp_path, "--scenario", "managed-instances") as emu:
        tasks = parse_tasks(get(emu.uri + "/tasks"))
        assert len(tasks) == 2
        assert parse_task(get(emu.uri + "/task")).family == "web-frontend"


def test_control_and_unknown_paths(ecs_emulator: EmulatorProcess) -> None:
    base = ecs_emulator.base_url
    assert status_of(base + "/v4/no-such-container/task") == 404
    assert status_of(base + "/nothing-here") == 404
    assert status_of(base + "/__control", data=b'{"fault": "explode"}') == 400
    assert status_of(base + "/__control", data=b"[1, 2]") == 400
    ecs_emulator.set_fault("404")
    assert status_of(ecs_emulator.uri + "/task") == 404
    assert ecs_emulator.control()["fault"] == "404"
    ecs_emulator.set_fault(None)
    assert status_of(ecs_emulator.uri + "/task") == 200


def test_fault_from_the_command_line(tmp_path: Path) -> None:
    with EmulatorProcess(tmp_path, "--scenario", "fargate-2020", "--fault", "malformed") as emu:
        with urllib.request.urlopen(emu.uri + "/task", timeout=10) as resp:
            body = resp.read()
        with pytest.raises(ValueError):
            json.loads(body)
        assert emu.control()["fault"] == "malformed"


def test_prints_the_export_line_and_stops_cleanly_while_a_request_hangs(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    proc = subprocess.Popen(
        [sys.executable, "-m", "ecs_otel.emulator", "--port", "0", "--port-file", str(port_file), "--fault", "hang"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("export ECS_CONTAINER_METADATA_URI_V4=http://127.0.0.1:")
        uri = line.split("=", 1)[1]
        assert uri.startswith(f"http://127.0.0.1:{port_file.read_text()}/v4/")
        hung = threading.Thread(target=_swallow, args=(uri,), daemon=True)
        hung.start()
        time.sleep(0.3)
        proc.terminate()
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        if proc.stdout:
            proc.stdout.close()


def _swallow(uri: str) -> None:
    try:
        urllib.request.urlopen(uri + "/task", timeout=10).close()
    except OSError:
        pass


def test_help_and_bad_arguments() -> None:
    run = [sys.executable, "-m", "ecs_otel.emulator"]
    out = subprocess.run([*run, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0
    for needle in ("--scenario", "--synthesize", "--fault", "--port-file", "/__control", "fargate-cgroupv1"):
        assert needle in out.stdout
    bad = subprocess.run([*run, "--task-stats", "x.json"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "need --task" in bad.stderr
    bad = subprocess.run([*run, "--scenario", "fargate-2020", "--container-name", "nope"],
                         cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "no container named 'nope'" in bad.stderr


def test_synthesised_network_counters_are_plausible() -> None:
    """Each container and direction has its own traffic; counters only grow; a seed fixes them."""
    import itertools
    import random

    from ecs_otel.emulator import SyntheticSource, SyntheticTask

    def run(seed: int) -> list[dict[str, dict[str, Any]]]:
        now = [1_000_000.0]
        source = SyntheticSource(SyntheticTask(containers=3), rng=random.Random(seed), clock=lambda: now[0])
        samples = []
        for _ in range(30):
            now[0] += 7.0
            samples.append({cid: s["networks"]["eth1"] for cid, s in source.task_stats().items()})
        return samples

    samples = run(42)
    last = list(samples[-1].values())
    rx = [n["rx_bytes"] for n in last]
    tx = [n["tx_bytes"] for n in last]
    assert len(set(rx)) == 3 and len(set(tx)) == 3  # different per container
    assert all(r != t for r, t in zip(rx, tx, strict=True))  # and per direction
    assert all(n["rx_packets"] > 0 and n["tx_packets"] > 0 for n in last)
    for before, after in itertools.pairwise(samples):
        for cid, counters in after.items():
            for key, value in counters.items():
                assert value >= before[cid][key], key
    # The rate moves with time rather than being a constant slope.
    app = [s[next(iter(s))]["rx_bytes"] for s in samples]
    steps = {b - a for a, b in itertools.pairwise(app)}
    assert len(steps) > 5
    assert [list(s.values()) for s in run(42)] == [list(s.values()) for s in samples]
    assert [list(s.values()) for s in run(43)] != [list(s.values()) for s in samples]
