"""Start-up time and request overhead: ``import ecs_otel.auto`` against aws-opentelemetry-distro (ADOT).

Measured in one run, on the same machine, so the ratios carry the comparison:

- start-up to the app's first line of output: ``python -c pass`` (printing a line), ``import
  opentelemetry.sdk.trace``, ``import ecs_otel.auto``, ``opentelemetry-instrument`` with
  ``OTEL_PYTHON_DISTRO=ecs_otel``, and ``opentelemetry-instrument`` with ADOT; plus start-up until a
  small aiohttp app answers its first request (which includes importing and instrumenting aiohttp);
- requests/s of the same aiohttp app uninstrumented, with ecs_otel and with ADOT, driven by a
  separate, uninstrumented client process sending a fixed number of requests at fixed concurrency.

ADOT pins its own OpenTelemetry versions, so it lives in a separate virtualenv the bench creates
under ``bench/.venvs/adot`` (gitignored) with the same instrumentation packages as ours. Telemetry
from both goes over OTLP/HTTP to the same recording receiver (``tests.support.otlp_sink``).

Run: ``python -m bench.startup_bench [--quick]``; ``run(quick)`` returns the rows for ``make bench``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from bench import report

ROOT = Path(__file__).resolve().parents[1]
ADOT_VENV = ROOT / "bench" / ".venvs" / "adot"
ADOT_PACKAGES = (
    "aws-opentelemetry-distro",
    "opentelemetry-instrumentation-aiohttp-client",
    "opentelemetry-instrumentation-aiohttp-server",
    "opentelemetry-instrumentation-requests",
    "opentelemetry-instrumentation-urllib3",
    "opentelemetry-instrumentation-botocore",
    "opentelemetry-instrumentation-logging",
    "opentelemetry-instrumentation-flask",
    "aiohttp",
    "flask",
    "requests",
    "botocore",
)

SERVER_APP = """
{preamble}
import asyncio, sys
from aiohttp import web

async def hello(request):
    return web.Response(text="hello")

async def main():
    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print("PORT", site._server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""

CLIENT = """
import asyncio, sys, time
import aiohttp

async def main(port, total, concurrency):
    url = f"http://127.0.0.1:{port}/"
    left = total
    async with aiohttp.ClientSession() as session:
        for _ in range(50):  # warm-up
            async with session.get(url) as r:
                await r.read()
        async def worker():
            nonlocal left
            while left > 0:
                left -= 1
                async with session.get(url) as r:
                    await r.read()
        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        print(total / (time.perf_counter() - t0))

asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
"""


def ensure_adot_venv() -> Path | None:
    """Create bench/.venvs/adot with ADOT and the same instrumentations; None when it cannot be built."""
    python = ADOT_VENV / "bin" / "python"
    marker = ADOT_VENV / ".installed"
    if marker.exists():
        return python
    try:
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(ADOT_VENV)], check=True, timeout=300)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *ADOT_PACKAGES], check=True, timeout=1200)
        marker.write_text("ok\n")
        return python
    except (subprocess.SubprocessError, OSError) as exc:
        print(f"ADOT venv unavailable: {exc}", file=sys.stderr)
        return None


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "ECS_"))}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def _otel_env(sink_url: str, **extra: str) -> dict[str, str]:
    return _clean_env(
        OTEL_EXPORTER_OTLP_ENDPOINT=sink_url,
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_METRICS_EXPORTER="otlp",
        OTEL_LOGS_EXPORTER="none",
        OTEL_SERVICE_NAME="bench",
        **extra,
    )


def _adot_env(sink_url: str, limited: bool = False) -> dict[str, str]:
    env = _otel_env(
        sink_url,
        OTEL_PYTHON_DISTRO="aws_distro",
        OTEL_PYTHON_CONFIGURATOR="aws_configurator",
        OTEL_AWS_APPLICATION_SIGNALS_ENABLED="false",
    )
    if limited:
        env["OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"] = ",".join(_adot_only_instrumentations())
    return env


def _adot_only_instrumentations() -> list[str]:
    """Instrumentor entry points ADOT's dependencies bring in beyond the set ecs_otel's venv has."""
    ours = set(_instrumentor_names(sys.executable))
    theirs = _instrumentor_names(str(ADOT_VENV / "bin" / "python"))
    return sorted(set(theirs) - ours)


def _instrumentor_names(python: str) -> list[str]:
    code = ("from importlib.metadata import entry_points\n"
            "print('\\n'.join(e.name for e in entry_points(group='opentelemetry_instrumentor')))")
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60)
    return [line for line in out.stdout.splitlines() if line]


def time_to_first_line(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    """Seconds from spawning ``cmd`` until it writes its first line on stdout."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        proc.stdout.readline()  # type: ignore[union-attr]
        return time.perf_counter() - t0
    finally:
        proc.kill()
        proc.wait(10)


def time_to_first_response(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, subprocess.Popen[str], int]:
    """Seconds from spawning the server until its first HTTP answer; returns the live process and port."""
    import urllib.request

    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()  # type: ignore[union-attr]
    if not line.startswith("PORT"):
        proc.kill()
        raise RuntimeError(f"server did not start: {cmd}")
    port = int(line.split()[1])
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as resp:
        resp.read()
    return time.perf_counter() - t0, proc, port


def _median(fn: Any, rounds: int) -> float:
    return statistics.median(fn() for _ in range(rounds))


def run(quick: bool = False) -> list[dict[str, Any]]:
    from tests.support.otlp_sink import SinkProcess

    rounds = 3 if quick else 9
    total, concurrency = (2000, 8) if quick else (8000, 16)
    adot_python = ensure_adot_venv()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        sink = SinkProcess(tmp)
        try:
            (tmp / "plain_first_line.py").write_text("print('ready', flush=True)\n")
            (tmp / "ours_first_line.py").write_text("import ecs_otel.auto\nprint('ready', flush=True)\n")
            (tmp / "server_plain.py").write_text(textwrap.dedent(SERVER_APP.format(preamble="")))
            (tmp / "server_ours.py").write_text(textwrap.dedent(SERVER_APP.format(preamble="import ecs_otel.auto")))
            (tmp / "client.py").write_text(CLIENT)
            py = sys.executable
            ours_env = _otel_env(sink.url)
            instrument = str(Path(py).parent / "opentelemetry-instrument")
            startup: list[tuple[str, list[str], dict[str, str]]] = [
                ("python -c pass", [py, "-c", "print('ready')"], _clean_env()),
                ("import opentelemetry.sdk.trace", [py, "-c", "import opentelemetry.sdk.trace; print('ready')"],
                 _clean_env()),
                ("import ecs_otel.auto", [py, "ours_first_line.py"], ours_env),
                ("opentelemetry-instrument, ecs_otel distro",
                 [instrument, py, "plain_first_line.py"],
                 {**ours_env, "OTEL_PYTHON_DISTRO": "ecs_otel", "OTEL_PYTHON_CONFIGURATOR": "ecs_otel"}),
            ]
            if adot_python is not None:
                adot_cmd = [str(adot_python.parent / "opentelemetry-instrument"), str(adot_python),
                            "plain_first_line.py"]
                startup.append(("opentelemetry-instrument, aws-opentelemetry-distro (same instrumentations)",
                                adot_cmd, _adot_env(sink.url, limited=True)))
                startup.append(("opentelemetry-instrument, aws-opentelemetry-distro (all it installs)",
                                adot_cmd, _adot_env(sink.url)))
            for name, cmd, env in startup:
                seconds = _median(lambda cmd=cmd, env=env: time_to_first_line(cmd, env, tmp), rounds)
                rows.append({"kind": "startup", "name": name, "seconds": seconds})

            servers: list[tuple[str, list[str], dict[str, str]]] = [
                ("aiohttp app, uninstrumented", [py, "server_plain.py"], _clean_env()),
                ("aiohttp app, import ecs_otel.auto", [py, "server_ours.py"], ours_env),
            ]
            if adot_python is not None:
                servers.append(("aiohttp app, opentelemetry-instrument + ADOT",
                                [str(adot_python.parent / "opentelemetry-instrument"), str(adot_python),
                                 "server_plain.py"], _adot_env(sink.url, limited=True)))
            for name, cmd, env in servers:
                ready: list[float] = []
                rates: list[float] = []
                cpu_us: list[float] = []
                for _ in range(1 if quick else 3):
                    seconds, proc, port = time_to_first_response(cmd, env, tmp)
                    ready.append(seconds)
                    try:
                        import psutil

                        server = psutil.Process(proc.pid)
                        before = server.cpu_times()
                        out = subprocess.run([py, "client.py", str(port), str(total), str(concurrency)],
                                             env=_clean_env(), cwd=tmp, capture_output=True, text=True,
                                             timeout=600, check=True)
                        after = server.cpu_times()
                        rates.append(float(out.stdout.strip()))
                        used = (after.user + after.system) - (before.user + before.system)
                        cpu_us.append(used / (total + 50) * 1e6)
                    finally:
                        proc.kill()
                        proc.wait(10)
                    sink.reset()
                rows.append({"kind": "ready", "name": name, "seconds": statistics.median(ready)})
                rows.append({"kind": "throughput", "name": name, "rps": statistics.median(rates),
                             "cpu_us": statistics.median(cpu_us)})
        finally:
            sink.stop()
    return rows


def _find(rows: list[dict[str, Any]], kind: str, prefix: str) -> dict[str, Any] | None:
    return next((r for r in rows if r["kind"] == kind and r["name"].startswith(prefix)), None)


def to_markdown(rows: list[dict[str, Any]]) -> str:
    adot_start = _find(rows, "startup", "opentelemetry-instrument, aws-opentelemetry-distro (same")
    adot_ready = _find(rows, "ready", "aiohttp app, opentelemetry-instrument + ADOT")
    adot_rps = _find(rows, "throughput", "aiohttp app, opentelemetry-instrument + ADOT")
    plain_rps = _find(rows, "throughput", "aiohttp app, uninstrumented")
    out = ["| start-up to the app's first line | ms | × ADOT |", "|---|---:|---:|"]
    for r in rows:
        if r["kind"] == "startup":
            ratio = f"{r['seconds'] / adot_start['seconds']:.2f}" if adot_start else "n/a"
            out.append(f"| {r['name']} | {r['seconds'] * 1000:.0f} | {ratio} |")
    out += ["", "| aiohttp app: start-up to first response | ms | × ADOT |", "|---|---:|---:|"]
    for r in rows:
        if r["kind"] == "ready":
            ratio = f"{r['seconds'] / adot_ready['seconds']:.2f}" if adot_ready else "n/a"
            out.append(f"| {r['name']} | {r['seconds'] * 1000:.0f} | {ratio} |")
    out += ["", "| aiohttp app | req/s | × uninstrumented | × ADOT | server CPU µs/request | × ADOT |",
            "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        if r["kind"] == "throughput":
            vs_plain = f"{r['rps'] / plain_rps['rps']:.2f}" if plain_rps else "n/a"
            vs_adot = f"{r['rps'] / adot_rps['rps']:.2f}" if adot_rps else "n/a"
            cpu_vs = f"{r['cpu_us'] / adot_rps['cpu_us']:.2f}" if adot_rps else "n/a"
            out.append(f"| {r['name']} | {r['rps']:.0f} | {vs_plain} | {vs_adot} | {r['cpu_us']:.0f} | {cpu_vs} |")
    out += ["", "× ADOT is against ADOT limited to the same instrumentations (its dependencies install ~45; the",
            "rest are disabled through OTEL_PYTHON_DISABLED_INSTRUMENTATIONS). Targets: start-up ≤ 0.6× ADOT's,",
            "requests/s ≥ 1.1× ADOT's."]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    report.main(__doc__, run, to_markdown, argv)


if __name__ == "__main__":
    main()
