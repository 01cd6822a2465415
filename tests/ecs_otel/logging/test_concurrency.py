"""Threads and asyncio tasks writing at once never split or interleave a line (real pipe, real stdout)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.paths import REPO_ROOT

from .support import strict_loads

ROOT = REPO_ROOT


def test_concurrent_writers_produce_whole_lines() -> None:
    threads, tasks, per_writer = 6, 6, 150
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ECS_OTEL_", "OTEL_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "tests.ecs_otel.logging.apps.writer", str(threads), str(tasks), str(per_writer)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    raw_lines = proc.stdout.split(b"\n")
    assert raw_lines[-1] == b""  # every record ends with its newline
    seen: dict[str, list[int]] = {}
    for raw in raw_lines[:-1]:
        obj = strict_loads(raw)  # strict UTF-8 and strict JSON for every single line
        seen.setdefault(obj["writer"], []).append(obj["seq"])
        assert obj["payload"].startswith(f"{obj['writer']}-{obj['seq']}-")
        assert obj["service"] == "writer"
    assert len(raw_lines) - 1 == (threads + tasks) * per_writer
    for writer, seqs in seen.items():
        assert seqs == list(range(per_writer)), writer  # each writer's records complete and in order
