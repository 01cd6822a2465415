"""Pre-fork servers: every worker exports its own spans (own service.instance.id), none lost or duplicated."""

from __future__ import annotations

import concurrent.futures
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.ecs_otel.conftest import BIN, base_env, resource_spans, write_script
from tests.support.process import listening_socket

FLASK_APP = """
import ecs_otel.auto
import os, time
from flask import Flask

app = Flask(__name__)

@app.get("/work")
def work():
    time.sleep(0.15)
    return str(os.getpid())
"""

ASGI_APP = """
import ecs_otel.auto
import asyncio, os
from opentelemetry import trace

tracer = trace.get_tracer("asgi-app")

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    with tracer.start_as_current_span("GET /work", kind=trace.SpanKind.SERVER):
        await asyncio.sleep(0.15)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": str(os.getpid()).encode()})
"""


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.read().decode()
    except OSError:
        return None


def _drive(port: int, proc: subprocess.Popen[bytes]) -> list[str]:
    """Concurrent requests until two different worker pids answered; returns every pid that answered."""
    url = f"http://127.0.0.1:{port}/work"
    deadline = time.monotonic() + 40
    first = _get(url)
    while first is None:
        assert proc.poll() is None, "server exited"
        assert time.monotonic() < deadline, "server did not come up"
        time.sleep(0.2)
        first = _get(url)
    answered: list[str] = [first]
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        while len(set(answered)) < 2 and time.monotonic() < deadline:
            answered += [r for r in pool.map(lambda _: _get(url), range(6)) if r]
    assert len(set(answered)) >= 2, f"only {set(answered)} answered"
    return [a for a in answered if a]


def _stop(proc: subprocess.Popen[bytes]) -> float:
    """SIGTERM right after the last response (before the batch delay); seconds until the server exited."""
    start = time.monotonic()
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return time.monotonic() - start


def _check(sink, answered: list[str]) -> None:
    expected = len(answered)
    got = sink.wait_for("traces", lambda r: len([s for _, s in resource_spans(r) if s["kind"] == "SPAN_KIND_SERVER"])
                        >= expected, timeout_s=20)
    server = [(res, s) for res, s in resource_spans(got) if s["kind"] == "SPAN_KIND_SERVER"]
    pids = {str(int(res["process.pid"])) for res, _ in server}
    assert set(answered) <= pids  # every worker that answered exported its spans
    assert len(server) == expected  # none lost, none duplicated (e.g. by a forked queue)
    assert len({s["spanId"] for _, s in server}) == expected
    instance_by_pid: dict[str, set[str]] = {}
    for res, _ in server:
        instance_by_pid.setdefault(str(int(res["process.pid"])), set()).add(res["service.instance.id"])
    assert all(len(v) == 1 for v in instance_by_pid.values())
    assert len(set().union(*instance_by_pid.values())) == len(instance_by_pid)  # one id per worker

    # Each worker also exports its own runtime metrics, under its own service.instance.id.
    def metric_pids(reqs):
        out = {}
        for r in reqs:
            for rm in r["body"].get("resourceMetrics", []):
                res = {a["key"]: next(iter(a["value"].values())) for a in rm["resource"]["attributes"]}
                names = {m["name"] for sm in rm.get("scopeMetrics", []) for m in sm.get("metrics", [])}
                if "process.memory.usage" in names:
                    out[str(int(res["process.pid"]))] = res["service.instance.id"]
        return out

    got_metrics = sink.wait_for("metrics", lambda r: set(answered) <= set(metric_pids(r)), timeout_s=20)
    by_pid = metric_pids(got_metrics)
    assert all(by_pid[pid] in instance_by_pid[pid] for pid in set(answered))


@pytest.mark.parametrize("worker_class", ["sync", "gthread"])
def test_gunicorn_preload_two_workers(tmp_path: Path, sink, worker_class: str):
    write_script(tmp_path, FLASK_APP, "flask_app.py")
    env = base_env(sink, PYTHONPATH=f"{tmp_path}:{base_env()['PYTHONPATH']}")
    with listening_socket() as listener:  # gunicorn serves on it; the parent's copy is closed once it runs
        port = int(listener.getsockname()[1])
        proc = subprocess.Popen(
            [str(BIN / "gunicorn"), "--preload", "-w", "2", "-k", worker_class, "--threads", "2",
             "-b", f"fd://{listener.fileno()}", "--graceful-timeout", "10", "flask_app:app"],
            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, pass_fds=(listener.fileno(),),
        )
    stopped_in = 30.0
    try:
        answered = _drive(port, proc)
    finally:
        stopped_in = _stop(proc)
    err = proc.stderr.read().decode() if proc.stderr else ""
    assert "Traceback" not in err, err
    # A worker hanging in its exit flush is SIGKILLed at --graceful-timeout (10 s), its spans lost.
    assert stopped_in < 10, f"workers did not exit gracefully ({stopped_in:.1f}s)\n{err}"
    _check(sink, answered)


def test_uvicorn_two_workers(tmp_path: Path, sink):
    write_script(tmp_path, ASGI_APP, "asgi_app.py")
    env = base_env(sink, PYTHONPATH=f"{tmp_path}:{base_env()['PYTHONPATH']}")
    with listening_socket() as listener:  # uvicorn serves on it; the parent's copy is closed once it runs
        port = int(listener.getsockname()[1])
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--workers", "2", "--fd", str(listener.fileno()),
             "--no-access-log", "asgi_app:app"],
            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, pass_fds=(listener.fileno(),),
        )
    try:
        answered = _drive(port, proc)
    finally:
        _stop(proc)
    err = proc.stderr.read().decode() if proc.stderr else ""
    assert "Traceback" not in err, err
    _check(sink, answered)


