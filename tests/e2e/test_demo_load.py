"""The demo's load and settings, below a whole demo run: the load lasts as long as asked, bounded by a rate.

``DEMO_SECONDS=300`` used to stop driving the shop after about 75 s (a fixed 3,000-request cap), so the
status page of a "five-minute" demo went quiet after one. A whole long run is too slow for a test; the
load runs here against the demo's own stub server on loopback for a couple of seconds.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from examples.demo.load import LoadPlan, run_load
from examples.demo.run import (
    DEFAULT_SECONDS,
    DEFAULT_TRACE_RATIO,
    keep_from_env,
    seconds_from_env,
    trace_ratio_from_env,
)


class _Counting(BaseHTTPRequestHandler):
    """Answers every request with 200 and counts it; the first one sets ``server.first``."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")
        self.server.first.set()  # type: ignore[attr-defined]

    do_GET = do_POST = _answer


@pytest.fixture
def shop_stand_in() -> Iterator[ThreadingHTTPServer]:
    """A real HTTP server on loopback standing in for the shop (the load only needs answers)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    server.daemon_threads = True
    server.first = threading.Event()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _url(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_the_request_bound_grows_with_the_duration() -> None:
    now = time.monotonic()
    for seconds in (20, 300, 3600):
        plan = LoadPlan(base_url="http://127.0.0.1:1", until=now + seconds)
        # Enough requests for the rate to hold over the whole duration: time, not a count, ends the load.
        assert plan.max_requests(now) >= plan.rate_per_s * seconds
        assert plan.max_requests(now) <= plan.rate_per_s * seconds + plan.workers
    assert LoadPlan(base_url="http://127.0.0.1:1", until=math.inf).max_requests(now) > 10**9


def test_the_load_runs_until_its_deadline_within_its_rate(shop_stand_in: ThreadingHTTPServer) -> None:
    seconds = 2.0
    start = time.monotonic()
    plan = LoadPlan(base_url=_url(shop_stand_in), until=start + seconds, rate_per_s=20.0)
    result = run_load(plan)
    assert result.seconds >= seconds - 0.05  # ended by the clock (a wait never returns early)
    assert 0 < result.requests <= plan.max_requests(start)
    assert sum(result.by_status.values()) == result.requests
    assert set(result.by_status) <= {"POST /orders 200", "GET /products/{sku} 200"}


def test_an_open_ended_load_stops_when_told(shop_stand_in: ThreadingHTTPServer) -> None:
    """The keep-running mode's load has no deadline: Ctrl-C sets ``stop`` and the workers end."""
    plan = LoadPlan(base_url=_url(shop_stand_in), until=math.inf, rate_per_s=20.0)
    results: list[int] = []
    worker = threading.Thread(target=lambda: results.append(run_load(plan).requests), daemon=True)
    worker.start()
    assert shop_stand_in.first.wait(30)  # type: ignore[attr-defined]
    plan.stop.set()
    worker.join(30)
    assert not worker.is_alive() and results and results[0] > 0


@pytest.mark.parametrize(("env", "seconds", "keep"), [
    ({}, DEFAULT_SECONDS, False),
    ({"DEMO_SECONDS": "300"}, 300.0, False),
    ({"DEMO_SECONDS": "0"}, DEFAULT_SECONDS, True),
    ({"DEMO_SECONDS": "30", "DEMO_KEEP": "1"}, 30.0, True),
    ({"DEMO_KEEP": "true"}, DEFAULT_SECONDS, True),
    ({"DEMO_KEEP": "0"}, DEFAULT_SECONDS, False),
])
def test_duration_and_keep_settings(env: dict[str, str], seconds: float, keep: bool) -> None:
    assert seconds_from_env(env) == seconds
    assert keep_from_env(env) is keep


@pytest.mark.parametrize("raw", ["3", "-1", "inf", "nan", "soon"])
def test_bad_durations_are_refused_with_a_message(raw: str) -> None:
    with pytest.raises(SystemExit, match="DEMO_SECONDS"):
        seconds_from_env({"DEMO_SECONDS": raw})


def test_trace_ratio_setting() -> None:
    assert trace_ratio_from_env({}) == DEFAULT_TRACE_RATIO == 0.1  # a fraction, as in production
    assert trace_ratio_from_env({"DEMO_TRACE_RATIO": "0.5"}) == 0.5
    assert trace_ratio_from_env({"DEMO_TRACE_RATIO": "1"}) == 1.0
    for raw in ("0", "1.5", "-0.1", "nan", "half"):
        with pytest.raises(SystemExit, match="DEMO_TRACE_RATIO"):
            trace_ratio_from_env({"DEMO_TRACE_RATIO": raw})
