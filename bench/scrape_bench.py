"""ECS task stats: CPU time of one scrape of a 10-container task.

The task is the 2025 Fargate capture (``tests/fixtures/ecs``) widened to 10 running containers
(cgroup v1 stats, a shared ENI). Rows:

- ``decode``: JSON of ``/task`` and ``/task/stats`` to Python objects;
- ``parse``: ``ecs_otel.metadata.parse_task`` and ``sidecar.scrapers.ecs_stats._internal.parse_task_stats``;
- ``derive``: vCPU, working sets, rates, task totals (``StatsCalculator.compute``);
- ``build``: the OTLP request (11 resources, about 400 data points) and its serialization;
- ``in-process total``: the four above;
- ``scrape_once (HTTP)``: the scraper's whole cycle against the metadata emulator running as its
  own process on loopback (aiohttp requests included, the sidecar's own process metrics too),
  measured as this process's CPU time.

The collector's ``awsecscontainermetricsreceiver`` (Go) is not installed here, so there is no
peer in this run; the numbers are absolute. Run: ``python -m bench.scrape_bench [--quick]``.
"""

from __future__ import annotations

import asyncio
import copy
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import report
from ecs_otel.metadata import parse_task
from sidecar.config import load_settings
from sidecar.context import SidecarContext
from sidecar.otlp.signals import Signal, item_count
from sidecar.scrapers.ecs_stats._internal import StatsCalculator, parse_task_stats
from sidecar.scrapers.ecs_stats._internal.otlp import build_request
from sidecar.scrapers.ecs_stats.scraper import EcsStatsScraper

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "ecs"
CONTAINERS = 10


def ten_container_task() -> tuple[dict[str, Any], dict[str, Any]]:
    task = json.loads((FIXTURES / "fargate-task-metadata-multi-container.json").read_text())
    stats = json.loads((FIXTURES / "fargate-task-stats-cgroupv1.json").read_text())
    running = next(c for c in task["Containers"] if c["KnownStatus"] == "RUNNING")
    sample = stats[running["DockerId"]]
    task["Containers"], stats = [], {}
    for i in range(CONTAINERS):
        c = copy.deepcopy(running)
        c["Name"] = f"app-{i}"
        c["DockerId"] = f"{running['DockerId'][:33]}{1000000000 + i}"
        task["Containers"].append(c)
        s = copy.deepcopy(sample)
        s["id"], s["name"] = c["DockerId"], c["Name"]
        stats[c["DockerId"]] = s
    return task, stats


def _cpu(fn: Any, rounds: int) -> float:
    """Mean CPU milliseconds of ``fn()``."""
    fn()  # warm
    t0 = time.process_time()
    for _ in range(rounds):
        fn()
    return (time.process_time() - t0) / rounds * 1000


def in_process(rounds: int) -> list[dict[str, Any]]:
    task_doc, stats_doc = ten_container_task()
    task_json, stats_json = json.dumps(task_doc).encode(), json.dumps(stats_doc).encode()
    task, stats = parse_task(task_doc), parse_task_stats(stats_doc)
    calc = StatsCalculator(fallback_start_ns=0)
    values = calc.compute(task, stats, time.time_ns(), task_doc)
    request = build_request(values)
    points = item_count(Signal.METRICS, request)

    def total() -> None:
        t, s = json.loads(task_json), json.loads(stats_json)
        v = calc.compute(parse_task(t), parse_task_stats(s), time.time_ns(), t)
        build_request(v).SerializeToString()

    rows = [
        {"step": "decode", "ms": _cpu(lambda: (json.loads(task_json), json.loads(stats_json)), rounds)},
        {"step": "parse", "ms": _cpu(lambda: (parse_task(task_doc), parse_task_stats(stats_doc)), rounds)},
        {"step": "derive", "ms": _cpu(lambda: calc.compute(task, stats, time.time_ns(), task_doc), rounds)},
        {"step": "build", "ms": _cpu(lambda: build_request(values).SerializeToString(), rounds)},
        {"step": "in-process total", "ms": _cpu(total, rounds)},
    ]
    for r in rows:
        r["points"] = points
    return rows


def over_http(rounds: int) -> dict[str, Any]:
    task_doc, stats_doc = ten_container_task()
    with tempfile.TemporaryDirectory() as tmp:
        t, s, port_file = Path(tmp, "task.json"), Path(tmp, "stats.json"), Path(tmp, "port")
        t.write_text(json.dumps(task_doc))
        s.write_text(json.dumps(stats_doc))
        proc = subprocess.Popen(
            [sys.executable, "-m", "ecs_otel.emulator", "--port", "0", "--port-file", str(port_file),
             "--task", str(t), "--task-stats", str(s)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while not (port_file.exists() and port_file.read_text().strip()):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the metadata emulator did not start")
                time.sleep(0.05)
            base = f"http://127.0.0.1:{int(port_file.read_text())}"
            uri = f"{base}/v4/{task_doc['Containers'][0]['DockerId']}"
            return asyncio.run(_scrapes(uri, rounds))
        finally:
            proc.terminate()
            proc.wait(10)


async def _scrapes(uri: str, rounds: int) -> dict[str, Any]:
    ctx = SidecarContext(env={"ECS_CONTAINER_METADATA_URI_V4": uri})
    scraper = EcsStatsScraper(load_settings(EcsStatsScraper.Settings, {}, ctx.env, "scrapers.ecs_stats"), ctx)
    first = await scraper.scrape_once()
    if first is None or not any(m.name == "ecs.task.memory.utilized" for rm in first.resource_metrics
                                for sm in rm.scope_metrics for m in sm.metrics):
        raise RuntimeError("the scrape returned no task metrics")
    t0 = time.process_time()
    w0 = time.perf_counter()
    for _ in range(rounds):
        await scraper.scrape_once()
    cpu = (time.process_time() - t0) / rounds * 1000
    wall = (time.perf_counter() - w0) / rounds * 1000
    return {"step": "scrape_once (HTTP)", "ms": cpu, "wall_ms": wall, "points": item_count(Signal.METRICS, first)}


def run(quick: bool = False) -> list[dict[str, Any]]:
    rounds = 50 if quick else 500
    rows = in_process(rounds)
    rows.append(over_http(max(10, rounds // 5)))
    return rows


def to_markdown(rows: list[dict[str, Any]]) -> str:
    return report.markdown_table(
        (f"step ({CONTAINERS}-container task)", "CPU ms per scrape", "wall ms", "data points"),
        ((r["step"], f"{r['ms']:.2f}", f"{r['wall_ms']:.2f}" if "wall_ms" in r else "", r["points"]) for r in rows),
    )


def main(argv: list[str] | None = None) -> None:
    report.main(__doc__, run, to_markdown, argv)


if __name__ == "__main__":
    main()
