"""Detect the ECS resource of a task, locally: the emulator stands in for the ECS agent.

    python -m examples.detect_resource                       # a task synthesised from this machine
    python -m examples.detect_resource --scenario ec2-cgroupv2   # a recorded real task

It starts ``python -m ecs_otel.emulator`` as its own process, points
``ECS_CONTAINER_METADATA_URI_V4`` at it exactly as ECS would, runs ``EcsResourceDetector`` and
prints what an instrumented application would stamp on every span, metric and log record.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence

from ecs_otel.metadata import MetadataClient
from ecs_otel.resource import EcsResourceDetector

START_TIMEOUT_S = 20.0


def start_emulator(args: Sequence[str]) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "ecs_otel.emulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()  # "export ECS_CONTAINER_METADATA_URI_V4=http://..."
    if not line.startswith("export ECS_CONTAINER_METADATA_URI_V4="):
        proc.kill()
        raise SystemExit(f"the emulator did not start (it said {line!r})")
    return proc, line.split("=", 1)[1]


def table(rows: Mapping[str, object], title: str) -> str:
    def show(value: object) -> str:
        return ", ".join(map(str, value)) if isinstance(value, tuple | list) else str(value)

    width = max(len(k) for k in rows)
    lines = [title, "-" * len(title)]
    lines += [f"{key:<{width}}  {show(value)}" for key, value in sorted(rows.items())]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--scenario", help="a recorded fixture scenario instead of a synthesised task")
    opts = parser.parse_args(argv)
    emulator_args = ["--scenario", opts.scenario] if opts.scenario else ["--synthesize"]
    proc, uri = start_emulator(emulator_args)
    try:
        print(f"ECS metadata emulator: export ECS_CONTAINER_METADATA_URI_V4={uri}\n")
        os.environ["ECS_CONTAINER_METADATA_URI_V4"] = uri
        started = time.perf_counter()
        resource = EcsResourceDetector().detect()
        took_ms = (time.perf_counter() - started) * 1000
        if not resource.attributes:
            print("no ECS resource detected (see the warning above)")
            return 1
        print(table(dict(resource.attributes), f"ECS resource detected in {took_ms:.1f} ms"))
        client = MetadataClient(uri)
        task = client.task()
        limits = {
            "task vCPU": task.cpu_vcpu,
            "task memory (MiB)": task.memory_limit_mib,
            "containers": ", ".join(f"{c.name} ({c.known_status})" for c in task.containers),
        }
        print()
        print(table({k: v for k, v in limits.items() if v is not None}, "Task"))
        return 0
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        if proc.stdout:
            proc.stdout.close()


if __name__ == "__main__":
    sys.exit(main())
