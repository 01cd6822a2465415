"""The command lines a user meets first: ``ecs-otel-sidecar --help``, ``validate-config``, ``healthcheck``
and ``python -m ecs_otel.emulator --help``: complete, and every failure a one-line reason, never a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ecs_otel.emulator.fixtures import SCENARIOS
from sidecar.registry import EXPORTERS, PROCESSORS
from tests.support.paths import REPO_ROOT

ROOT = REPO_ROOT
SCRIPT = shutil.which("ecs-otel-sidecar", path=str(Path(sys.executable).parent))
#: A configuration that names components whose own tests live elsewhere, so it stays valid on its own.
VALID = """
[sidecar]
traces_exporters = ["debug", "file"]
metrics_exporters = ["debug"]
logs_exporters = ["file"]
metrics_processors = ["enrich", "redaction"]

[exporters.file]
path = "/tmp/ecs-otel-validate"
max_bytes = 1048576

[exporters.debug]
verbosity = "detailed"
"""


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ECS_OTEL_", "OTEL_", "ECS_CONTAINER"))}
    return subprocess.run(args, cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=60)


def _sidecar(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return _run([SCRIPT or sys.executable, *([] if SCRIPT else ["-m", "sidecar"]), *args], **env)


def test_console_script_is_installed() -> None:
    assert SCRIPT, "the ecs-otel-sidecar console script is missing from the venv"


def test_sidecar_help_names_commands_ports_configuration_and_exit_codes() -> None:
    proc = _sidecar("--help")
    assert proc.returncode == 0 and proc.stderr == ""
    text = proc.stdout
    for word in ("run", "healthcheck", "validate-config", "4318", "4317", "13133", "/healthz", "/metrics",
                 "ECS_OTEL_SIDECAR_CONFIG", "ECS_OTEL_", "Exit codes"):
        assert word in text, word
    for name in EXPORTERS:
        assert name in text, f"--help does not mention the {name} exporter"
    for name in PROCESSORS:  # named by what they do ("redacts"), not yet by their configuration names
        assert name[:6] in text, f"--help does not mention the {name} processor"
    for command in ("run", "healthcheck", "validate-config"):
        sub = _sidecar(command, "--help")
        assert sub.returncode == 0 and "usage: ecs-otel-sidecar " + command in sub.stdout


def test_unknown_command_is_a_usage_error() -> None:
    proc = _sidecar("bogus")
    assert proc.returncode == 2 and "invalid choice: 'bogus'" in proc.stderr and "Traceback" not in proc.stderr


def test_emulator_help_lists_sources_scenarios_routes_and_faults() -> None:
    proc = _run([sys.executable, "-m", "ecs_otel.emulator", "--help"])
    assert proc.returncode == 0
    text = proc.stdout
    for word in ("--synthesize", "--scenario", "--task", "--port", "--port-file", "--fault",
                 "ECS_CONTAINER_METADATA_URI_V4", "/__control", "/task/stats", "slow", "hang", "malformed"):
        assert word in text, word
    for name, scenario in SCENARIOS.items():
        assert name in text and scenario.description in text


def test_validate_config_accepts_a_good_file_and_names_what_it_checked(tmp_path: Path) -> None:
    path = tmp_path / "sidecar.toml"
    path.write_text(VALID)
    proc = _sidecar("validate-config", str(path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"{path}: valid")
    for component in ("exporters.debug", "exporters.file", "processors.enrich", "processors.redaction"):
        assert component in proc.stdout


@pytest.mark.parametrize(("toml", "env", "names"), [
    ('[sidecar]\ntraces_exporter = ["debug"]\n', {}, ["sidecar.traces_exporter", "traces_exporters"]),
    ('[sidecar]\ntraces_exporters = ["nope"]\n', {}, ["sidecar.traces_exporters", "'nope'", "debug"]),
    ('[exporters.debug]\nverbosity = "loud"\n', {}, ["exporters.debug.verbosity", "'loud'", "detailed"]),
    ("[sidecar\n", {}, ["valid TOML", "line 1"]),
    ("", {"ECS_OTEL_STATUS_PORT": "abc"}, ["ECS_OTEL_STATUS_PORT", "integer", "'abc'"]),
    # Found by building the components, as the start-up does, not only their settings.
    ('[processors.cardinality]\nrules = {"http.*" = ["frob:x"]}\n', {},
     ["processors.cardinality.rules", "'frob:x'"]),
    ("", {"ECS_OTEL_OTLP_ENDPOINT": "collector:4318", "ECS_OTEL_TRACES_EXPORTERS": "otlp"},
     ["ECS_OTEL_OTLP_ENDPOINT", "http://", "'collector:4318'"]),
    ('[exporters.otlp]\nendpoint = "collector.internal:4318"\n', {},
     ["exporters.otlp.endpoint", "http://", "'collector.internal:4318'"]),
    ('[scrapers.ecs_stats]\nendpoint = "169.254.170.2/v4"\n', {}, ["scrapers.ecs_stats.endpoint", "http://"]),
    ("", {"ECS_OTEL_METRICS_EXPORTERS": "xray", "AWS_REGION": "eu-west-1"},
     ["ECS_OTEL_METRICS_EXPORTERS", "handle metrics", "'xray'"]),
], ids=["unknown-key", "unknown-exporter", "bad-choice", "bad-toml", "bad-env-override", "bad-cardinality-rule",
        "endpoint-without-scheme-env", "endpoint-without-scheme-toml", "scraper-endpoint-without-scheme",
        "exporter-for-a-signal-it-cannot-take"])
def test_validate_config_rejects_with_the_key_and_exit_2(tmp_path: Path, toml: str, env: dict[str, str],
                                                          names: list[str]) -> None:
    path = tmp_path / "sidecar.toml"
    path.write_text(toml)
    proc = _sidecar("validate-config", str(path), **env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith("invalid configuration: ") and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr
    for name in names:
        assert name in proc.stderr, (name, proc.stderr)


def test_validate_config_of_a_missing_file(tmp_path: Path) -> None:
    proc = _sidecar("validate-config", str(tmp_path / "absent.toml"))
    assert proc.returncode == 2 and "absent.toml" in proc.stderr and "readable" in proc.stderr


def test_healthcheck_without_a_sidecar_says_why_and_exits_1() -> None:
    proc = _sidecar("healthcheck", "--url", "http://127.0.0.1:9/healthz", "--timeout", "2")
    assert proc.returncode == 1 and "cannot reach http://127.0.0.1:9/healthz" in proc.stderr


def test_version_names_the_distribution_version() -> None:
    from ecs_otel import __version__

    proc = _sidecar("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"ecs-otel-sidecar {__version__} ")


def test_validate_config_warns_about_unknown_variables_with_the_closest_name(tmp_path: Path) -> None:
    path = tmp_path / "sidecar.toml"
    path.write_text(VALID)
    proc = _sidecar("validate-config", str(path), ECS_OTEL_TRACE_EXPORTERS="xray", ECS_OTEL_FROBNICATE="1",
                    ECS_OTEL_METADATA_TIMEOUT="2", ECS_OTEL_SIDECAR_CONFIG=str(path))
    assert proc.returncode == 0, proc.stderr  # nothing reads them: the sidecar would start, so it is valid
    warnings = proc.stderr.strip().splitlines()
    assert len(warnings) == 2, proc.stderr  # the library's and the config-file variables are known
    assert warnings[0].startswith("warning: ECS_OTEL_FROBNICATE ") and "no setting has a similar name" in warnings[0]
    assert warnings[1].startswith("warning: ECS_OTEL_TRACE_EXPORTERS ")
    assert "did you mean ECS_OTEL_TRACES_EXPORTERS?" in warnings[1]
    assert "2 warnings" in proc.stdout.splitlines()[0]


def test_known_variables_come_from_every_declaration() -> None:
    """The list the warning uses is the declarations' list: each component's and the library's variables."""
    from ecs_otel.settings import LIBRARY_SETTINGS
    from sidecar.config.variables import known_variables

    known = known_variables()
    for name in ("ECS_OTEL_TRACES_EXPORTERS", "ECS_OTEL_QUEUE_MAX_ITEMS", "ECS_OTEL_METRIC_CARDINALITY_LIMIT",
                 "ECS_OTEL_XRAY_MODE", "ECS_OTEL_CLOUDWATCH_MODE", "ECS_OTEL_STATS_INTERVAL",
                 "ECS_OTEL_DEBUG_VERBOSITY", "ECS_OTEL_PROMETHEUS_PORT", "ECS_OTEL_SIDECAR_CONFIG"):
        assert name in known, name
    assert {s.name for s in LIBRARY_SETTINGS} <= known


def test_validate_config_prints_the_pipeline_per_signal(tmp_path: Path) -> None:
    path = tmp_path / "sidecar.toml"
    path.write_text(VALID)
    proc = _sidecar("validate-config", str(path), ECS_CONTAINER_METADATA_URI_V4="http://127.0.0.1:9/v4/x")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    start = lines.index("pipeline (receivers -> processors -> exporters):")
    rows = {line.split()[0]: line.split(None, 1)[1] for line in lines[start + 1:start + 4]}
    receivers = "otlp_http 127.0.0.1:4318, otlp_grpc 127.0.0.1:4317"
    assert rows == {
        "traces": f"{receivers} -> enrich -> cardinality -> redaction -> debug, file",
        "metrics": f"{receivers}, ecs_stats -> enrich -> redaction -> debug",
        "logs": f"{receivers} -> enrich -> redaction -> file",
    }
