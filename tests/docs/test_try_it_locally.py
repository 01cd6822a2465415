"""docs/try-it-locally.md, run as written: the emulator, the sidecar and an app, as real processes on 127.0.0.1.

The commands are read out of the page (its numbered ``sh`` blocks and its ``app.py`` block), so the page
and this test cannot drift: a renamed flag, a removed setting or a changed output fails here. Only the
ports differ from the page: the emulator binds a free port instead of 51678, the sidecar free ports
instead of 4318/4317/13133 (told to the app through ``OTEL_EXPORTER_OTLP_ENDPOINT``), so the test can
run beside anything else on the machine.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.support.process import stop_process, wait_for_port_file

PAGE = ROOT / "docs" / "try-it-locally.md"
README = ROOT / "README.md"
_FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)\n```$", re.M | re.S)
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_DEADLINE_S = 20.0

pytestmark = pytest.mark.timeout(60)


@dataclass(frozen=True)
class Block:
    lang: str
    title: str
    body: str


def blocks(text: str) -> list[Block]:
    out = []
    for lang, info, body in _FENCE.findall(text):
        title = re.search(r'title="([^"]*)"', info)
        out.append(Block(lang, title.group(1) if title else "", body))
    return out


def steps(text: str) -> list[tuple[int, str]]:
    """``(step number, command line)`` of the page's numbered shell blocks, in page order."""
    found = []
    for b in blocks(text):
        m = re.match(r"(\d+) ·", b.title)
        if b.lang == "sh" and m:
            lines = [ln for ln in b.body.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
            assert len(lines) == 1, f"step {b.title!r} should be one command: {lines}"
            found.append((int(m.group(1)), lines[0]))
    return found


def split(command: str) -> tuple[dict[str, str], list[str]]:
    """Leading ``NAME=value`` words as environment, the rest as argv with the program made concrete."""
    words = shlex.split(command)
    env: dict[str, str] = {}
    while words and _ASSIGNMENT.match(words[0]):
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    program = words[0]
    if program == "python":
        words[0] = sys.executable
    else:
        script = Path(sys.executable).parent / program
        assert script.exists(), f"{program} is not installed next to {sys.executable}"
        words[0] = str(script)
    return env, words


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ECS_OTEL_", "OTEL_", "ECS_CONTAINER"))}
    env["PYTHONUNBUFFERED"] = "1"
    # As in an activated virtual environment: `opentelemetry-instrument python` finds this interpreter.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def wait_for(what: str, check, proc: subprocess.Popen[bytes] | None = None):  # type: ignore[no-untyped-def]
    """Poll ``check()`` until it returns something truthy; fail at the deadline or when ``proc`` died."""
    deadline = time.monotonic() + _DEADLINE_S
    while True:
        found = check()
        if found:
            return found
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: the process exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: nothing within {_DEADLINE_S:g} s")
        time.sleep(0.05)


def json_lines(text: str) -> Iterator[dict[str, object]]:
    for line in text.splitlines():
        if line.startswith("{"):
            yield json.loads(line)


def test_the_page_has_the_four_commands_and_the_readme_repeats_them() -> None:
    commands = steps(PAGE.read_text(encoding="utf-8"))
    assert [n for n, _ in commands] == [1, 2, 3, 4, 4]
    readme = README.read_text(encoding="utf-8")
    section = readme[readme.index("## Try it with your own app"):]
    section = section[:section.index("\n## ", 1)]
    shown = [ln.split("  #")[0].strip() for b in blocks(section) if b.lang == "sh" for ln in b.body.splitlines()]
    shown = [ln for ln in shown if ln and not ln.startswith("#")]
    assert shown == [c for _, c in commands[:4]], "the README's short version differs from docs/try-it-locally.md"


def test_the_four_commands_give_a_span_and_a_json_log_line(tmp_path: Path) -> None:
    text = PAGE.read_text(encoding="utf-8")
    (emulator_cmd, export_cmd, sidecar_cmd, app_cmd, instrument_cmd) = (c for _, c in steps(text))
    app_source = next(b.body for b in blocks(text) if b.lang == "python" and b.title == "app.py")
    sample_log = next(json.loads(b.body) for b in blocks(text) if b.lang == "json")
    span_name = re.search(r"otel-debug span .* name='([^']*)'", text).group(1)  # type: ignore[union-attr]
    (tmp_path / "app.py").write_text(app_source)
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "app.py").write_text("\n".join(ln for ln in app_source.splitlines() if "import ecs_otel.auto" not in ln))

    procs: list[subprocess.Popen[bytes]] = []
    try:
        # 1: the emulator, on a free port instead of the page's.
        env, argv = split(emulator_cmd)
        documented_port = argv[argv.index("--port") + 1]
        argv[argv.index("--port") + 1] = "0"
        emulator_out = tmp_path / "emulator.out"
        with emulator_out.open("wb") as out:
            procs.append(subprocess.Popen(argv, cwd=tmp_path, env={**base_env(), **env}, stdout=out,
                                          stderr=subprocess.DEVNULL))
        printed = wait_for("the emulator's export line", lambda: next(
            (ln for ln in emulator_out.read_text().splitlines() if ln.startswith("export ")), None), procs[0])

        # 2: the export line is the one the emulator printed (the page shows it with "…" for the task's id).
        port = re.search(r"127\.0\.0\.1:(\d+)/", printed).group(1)  # type: ignore[union-attr]
        pattern = re.escape(export_cmd.replace(documented_port, port)).replace("…", r"\S+")
        assert re.fullmatch(pattern, printed), (export_cmd, printed)
        name, _, value = printed.removeprefix("export ").partition("=")
        metadata_env = {name: value}

        # 3: the sidecar, on free ports, reporting them in a file.
        env, argv = split(sidecar_cmd)
        ports_file = tmp_path / "ports.json"
        sidecar_out = tmp_path / "sidecar.out"
        sidecar_err = tmp_path / "sidecar.err"
        free_ports = {"ECS_OTEL_OTLP_HTTP_PORT": "0", "ECS_OTEL_OTLP_GRPC_PORT": "0", "ECS_OTEL_STATUS_PORT": "0"}
        with sidecar_out.open("wb") as out, sidecar_err.open("wb") as err:
            procs.append(subprocess.Popen([*argv, "--ports-file", str(ports_file)], cwd=tmp_path,
                                          env={**base_env(), **metadata_env, **env, **free_ports},
                                          stdout=out, stderr=err))
        ports = json.loads(wait_for_port_file(procs[1], ports_file, "sidecar", _DEADLINE_S, sidecar_err))
        endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{ports['otlp_http']}"}

        # 4: the app, with `import ecs_otel.auto`, then unchanged under opentelemetry-instrument.
        for command, cwd in ((app_cmd, tmp_path), (instrument_cmd, plain)):
            env, argv = split(command)
            done = subprocess.run(argv, cwd=cwd, env={**base_env(), **metadata_env, **env, **endpoint},
                                  capture_output=True, timeout=_DEADLINE_S)
            assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
            logs = [r for r in json_lines(done.stdout.decode()) if r.get("message") == sample_log["message"]]
            assert len(logs) == 1, done.stdout.decode(errors="replace")[-3000:]
            line = logs[0]
            assert set(line) == set(sample_log), f"keys differ from the page's sample: {sorted(line)}"
            assert (line["level"], line["logger"]) == (sample_log["level"], sample_log["logger"])
            assert re.fullmatch(r"[0-9a-f]{32}", str(line["trace_id"]))
            assert line["ecs"]["cluster"] == sample_log["ecs"]["cluster"]  # type: ignore[index]

            # The span of that trace reaches the sidecar's debug output.
            want = re.compile(rf"^otel-debug span .* trace={line['trace_id']} .* name='{re.escape(span_name)}'", re.M)
            wait_for(f"span {line['trace_id']} in the sidecar's output",
                     lambda want=want: want.search(sidecar_out.read_text(errors="replace")), procs[1])
    finally:
        for proc in reversed(procs):
            stop_process(proc)
