"""Application Signals overhead: the same aiohttp app with ``OTEL_AWS_APPLICATION_SIGNALS_ENABLED`` off and on.

Both runs use ``import ecs_otel.auto`` with a 10 % trace sampler (``parentbased_traceidratio``,
0.1), the set-up Application Signals is meant for. With it on, every request is recorded (the
record-only sampler) and three histograms are updated per request, where with it off 90 % of the
requests get a non-recording span: the difference is the price of metrics from every request. The
server app, the load client and the OTLP sink are those of :mod:`bench.startup_bench`; the client
is a separate, uninstrumented process. Requests/s and the server's CPU time per request are
medians over rounds.

Run: ``python -m bench.app_signals_bench [--quick]``; ``run(quick)`` returns the rows for ``make bench``.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

from bench import report
from bench.startup_bench import CLIENT, SERVER_APP, _clean_env, _otel_env, time_to_first_response

SAMPLER = {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}


def run(quick: bool = False) -> list[dict[str, Any]]:
    import psutil

    from tests.support.otlp_sink import SinkProcess

    rounds = 2 if quick else 5
    total, concurrency = (2000, 8) if quick else (8000, 16)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        sink = SinkProcess(tmp)
        try:
            (tmp / "server.py").write_text(textwrap.dedent(SERVER_APP.format(preamble="import ecs_otel.auto")))
            (tmp / "client.py").write_text(CLIENT)
            py = sys.executable
            variants = [
                ("Application Signals off", _otel_env(sink.url, **SAMPLER)),
                ("Application Signals on", _otel_env(sink.url, **SAMPLER, OTEL_AWS_APPLICATION_SIGNALS_ENABLED="true")),
            ]
            samples: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name, _ in variants}
            for _ in range(rounds):
                for name, env in variants:  # interleaved, so drift on a shared machine hits both alike
                    _, proc, port = time_to_first_response([py, "server.py"], env, tmp)
                    try:
                        server = psutil.Process(proc.pid)
                        before = server.cpu_times()
                        out = subprocess.run([py, "client.py", str(port), str(total), str(concurrency)],
                                             env=_clean_env(), cwd=tmp, capture_output=True, text=True,
                                             timeout=600, check=True)  # fmt: skip
                        after = server.cpu_times()
                        used = (after.user + after.system) - (before.user + before.system)
                        samples[name][0].append(float(out.stdout.strip()))
                        samples[name][1].append(used / (total + 50) * 1e6)
                    finally:
                        proc.kill()
                        proc.wait(10)
                    sink.reset()
            for name, (rates, cpu) in samples.items():
                rows.append({"name": name, "rps": statistics.median(rates), "cpu_us": statistics.median(cpu),
                             "rounds": len(rates)})  # fmt: skip
        finally:
            sink.stop()
    return rows


def to_markdown(rows: list[dict[str, Any]]) -> str:
    off = next((r for r in rows if r["name"].endswith("off")), None)
    out = ["| aiohttp app, ecs_otel, 10 % sampler | req/s | × off | server CPU µs/request | × off |",
           "|---|---:|---:|---:|---:|"]  # fmt: skip
    for r in rows:
        rps = f"{r['rps'] / off['rps']:.2f}" if off else "n/a"
        cpu = f"{r['cpu_us'] / off['cpu_us']:.2f}" if off else "n/a"
        out.append(f"| {r['name']} | {r['rps']:.0f} | {rps} | {r['cpu_us']:.0f} | {cpu} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    report.main(__doc__, run, to_markdown, argv)


if __name__ == "__main__":
    main()
