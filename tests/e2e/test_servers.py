"""The gunicorn and uvicorn examples, run for real with two workers each, exporting to an OTLP sink.

What they prove: every request's span arrives (workers flush on the way out, within the shutdown
budget), and each worker reports as its own instance (its own ``service.instance.id`` and pid),
which is what keeps cumulative metric series of forked or spawned workers from colliding.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support.otlp_sink import SinkProcess, spans
from tests.support.paths import REPO_ROOT
from tests.support.process import listening_socket

ROOT = REPO_ROOT
REQUESTS = 20


def test_the_servers_port_stays_taken_from_the_moment_it_is_chosen() -> None:
    """What the servers below rely on: no other process can bind their port before they serve on it.

    These tests used to pick a "free" port, release it, then name it to the server; anything started
    meanwhile (another test's server, on a shared machine) could take it, and the requests went there.
    """
    with listening_socket() as listener:
        intruder = socket.socket()
        try:
            with pytest.raises(OSError) as refused:
                intruder.bind(listener.getsockname())
        finally:
            intruder.close()
        assert refused.value.errno == errno.EADDRINUSE
        assert listener.get_inheritable(), "the server process must inherit it (pass_fds)"


def _get(url: str) -> bool:
    req = urllib.request.Request(url, headers={"Connection": "close"})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _serve_and_count(args: list[str], listener: socket.socket, sink: SinkProcess,
                     tmp_path: Path) -> tuple[int, int]:
    """Run the server on ``listener`` (already listening: see ``listening_socket``), answer REQUESTS + 1 requests."""
    port = int(listener.getsockname()[1])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ECS_OTEL_", "OTEL_", "ECS_CONTAINER"))}
    env.update({
        "OTEL_EXPORTER_OTLP_ENDPOINT": sink.url, "OTEL_SERVICE_NAME": "servers-example",
        "OTEL_BSP_SCHEDULE_DELAY": "200", "OTEL_METRICS_EXPORTER": "none", "ECS_OTEL_RUNTIME_METRICS": "false",
        "GUNICORN_BIND": f"fd://{listener.fileno()}", "GUNICORN_WORKERS": "2", "PYTHONPATH": str(ROOT),
    })
    log = (tmp_path / "server.log").open("wb")
    with listener:  # the server has its own copy once started: a server that dies then refuses connections
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, pass_fds=(listener.fileno(),))
    ok = 0
    try:
        deadline = time.monotonic() + 60
        while not _get(f"http://127.0.0.1:{port}/"):  # the first success counts too
            assert proc.poll() is None, (tmp_path / "server.log").read_text()
            assert time.monotonic() < deadline, "server did not answer"
            time.sleep(0.2)
        ok = 1 + sum(_get(f"http://127.0.0.1:{port}/") for _ in range(REQUESTS))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(40)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        log.close()
    return ok, proc.pid


def _server_spans(requests: list) -> list:
    return [s for s in spans(requests) if s.get("kind") in (2, "SPAN_KIND_SERVER")]


def _check(sink: SinkProcess, ok: int, master_pid: int) -> None:
    assert ok == REQUESTS + 1
    got = sink.wait_for("traces", lambda reqs: len(_server_spans(reqs)) >= ok, timeout_s=20)
    server = _server_spans(got)
    assert len(server) == ok
    pids = {str(s["_resource"]["process.pid"]["intValue"]) for s in server}
    instances = {s["_resource"]["service.instance.id"]["stringValue"] for s in server}
    assert str(master_pid) not in pids, "requests are served by workers"
    assert len(instances) == len(pids), "each worker is its own service instance"


@pytest.mark.timeout(120)
def test_gunicorn_example(tmp_path: Path, otlp_sink: SinkProcess) -> None:
    listener = listening_socket()
    ok, master = _serve_and_count([sys.executable, "-m", "gunicorn", "-c", "examples/servers/gunicorn.conf.py"],
                                  listener, otlp_sink, tmp_path)
    _check(otlp_sink, ok, master)


@pytest.mark.timeout(120)
def test_uvicorn_example(tmp_path: Path, otlp_sink: SinkProcess) -> None:
    listener = listening_socket()
    ok, master = _serve_and_count([sys.executable, "-m", "uvicorn", "examples.servers.asgi_app:app", "--fd",
                                   str(listener.fileno()), "--workers", "2", "--no-access-log"],
                                  listener, otlp_sink, tmp_path)
    _check(otlp_sink, ok, master)
