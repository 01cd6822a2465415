"""Configuration: TOML path or text, env overrides, and exit 2 naming the key for anything wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecs_otel.logging import parse_level_spec
from sidecar.config.errors import ConfigError
from sidecar.config.file import load_config, read_document
from tests.support.sidecar import run_sidecar_command

GOOD = """
[sidecar]
traces_exporters = ["otlp", "debug"]
metrics_processors = ["enrich"]
shutdown_timeout_s = 3
log_level = "DEBUG,aiohttp=WARNING"

[pipeline]
queue_max_items = 500
batch_timeout_s = 0.5

[exporters.otlp]
endpoint = "http://127.0.0.1:9/"
"""


def test_toml_text_and_path_give_the_same_config_and_env_wins(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(GOOD)
    from_text = load_config({"ECS_OTEL_SIDECAR_CONFIG": GOOD})
    from_path = load_config({"ECS_OTEL_SIDECAR_CONFIG": str(path)})
    assert from_text.sidecar == from_path.sidecar and from_text.pipeline == from_path.pipeline
    assert from_path.source == str(path) and from_text.source == "inline TOML"
    assert from_path.sidecar.exporters_for("traces") == ["otlp", "debug"]
    assert from_path.sidecar.exporters_for("logs") is None  # unset: the app picks the default
    assert from_path.pipeline.queue_max_items == 500
    assert from_path.table("exporters", "otlp") == {"endpoint": "http://127.0.0.1:9/"}
    env = {"ECS_OTEL_SIDECAR_CONFIG": str(path), "ECS_OTEL_QUEUE_MAX_ITEMS": "42", "ECS_OTEL_LOGS_EXPORTERS": "none",
           "ECS_OTEL_TRACES_PROCESSORS": "none"}
    overridden = load_config(env)
    assert overridden.pipeline.queue_max_items == 42
    assert overridden.sidecar.exporters_for("logs") == []
    assert overridden.sidecar.processors_for("traces") == []
    assert overridden.pipeline.batch_timeout_s == 0.5  # untouched keys keep the file's value


def test_defaults_without_any_configuration() -> None:
    config = load_config({})
    s, p = config.sidecar, config.pipeline
    assert (s.receiver_host, s.otlp_http_port, s.otlp_grpc_port, s.status_port) == ("127.0.0.1", 4318, 4317, 13133)
    assert s.shutdown_timeout_s == 10
    assert s.processors_for("metrics") == ["enrich", "redaction", "cardinality"]
    assert s.max_request_bytes == 8 * 1024 * 1024
    assert 0 < p.batch_timeout_s <= 5
    assert read_document({}) == ({}, "defaults")


@pytest.mark.parametrize(
    ("env", "document", "key"),
    [
        ({"ECS_OTEL_QUEUE_MAX_ITEMS": "lots"}, "", "ECS_OTEL_QUEUE_MAX_ITEMS"),
        ({"ECS_OTEL_LOG_FORMAT": "xml"}, "", "ECS_OTEL_LOG_FORMAT"),
        ({}, "[pipeline]\nqueue_max_itemz = 3\n", "pipeline.queue_max_itemz"),
        ({}, "[pipeline]\nbatch_timeout_s = 60\n", "pipeline.batch_timeout_s"),
        ({}, "[sidecar]\nstatus_port = \"x\"\n", "sidecar.status_port"),
        ({}, "[sidecar]\ntraces_exporters = [\"zipkin\"]\n", "sidecar.traces_exporters"),
        ({}, "[sidecar]\nlog_level = \"LOUD\"\n", "sidecar.log_level"),
        ({}, "[receivers]\nport = 1\n", "receivers"),
        ({}, "[exporters.nope]\nx = 1\n", "exporters.nope"),
        ({}, "[sidecar\n", "ECS_OTEL_SIDECAR_CONFIG"),
        ({"ECS_OTEL_TRACES_EXPORTERS": "otlp,jaeger"}, "", "ECS_OTEL_TRACES_EXPORTERS"),
        ({"ECS_OTEL_BATCH_TIMEOUT": "30"}, "", "ECS_OTEL_BATCH_TIMEOUT"),
        ({"ECS_OTEL_OTLP_HTTP_PORT": "70000"}, "", "ECS_OTEL_OTLP_HTTP_PORT"),
        # Non-finite numbers were accepted (an infinite shutdown budget never ends the flush).
        ({"ECS_OTEL_SHUTDOWN_TIMEOUT": "inf"}, "", "ECS_OTEL_SHUTDOWN_TIMEOUT"),
        ({"ECS_OTEL_SHUTDOWN_TIMEOUT": "nan"}, "", "ECS_OTEL_SHUTDOWN_TIMEOUT"),
        ({"ECS_OTEL_RETRY_INITIAL": "1e400"}, "", "ECS_OTEL_RETRY_INITIAL"),
        ({}, "[pipeline]\nretry_initial_s = inf\n", "pipeline.retry_initial_s"),
    ],
)
def test_bad_values_name_the_key(env: dict[str, str], document: str, key: str) -> None:
    if document:
        env = {**env, "ECS_OTEL_SIDECAR_CONFIG": document}
    with pytest.raises(ConfigError) as info:
        load_config(env)
    assert info.value.key == key
    assert info.value.expected


def test_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config({"ECS_OTEL_SIDECAR_CONFIG": str(tmp_path / "absent.toml")})
    assert info.value.key == "ECS_OTEL_SIDECAR_CONFIG"


def test_log_level_spec_is_the_librarys() -> None:
    """One level parser for the app and the sidecar: the configuration check uses the library's."""
    spec = parse_level_spec("WARNING,botocore=ERROR, aiohttp.access=INFO")
    assert (spec.root, spec.loggers) == (30, {"botocore": 40, "aiohttp.access": 20})
    with pytest.raises(ConfigError, match="ECS_OTEL_LOG_LEVEL"):
        load_config({"ECS_OTEL_LOG_LEVEL": "INFO,botocore=LOUD"})
    with pytest.raises(ConfigError, match="ECS_OTEL_LOG_MAX_BYTES"):
        load_config({"ECS_OTEL_LOG_MAX_BYTES": "512"})  # the library's bounds: 1024 to 1 MiB


def test_bad_config_process_exits_2_naming_the_key(tmp_path: Path) -> None:
    result = run_sidecar_command([], {"ECS_OTEL_BATCH_TIMEOUT": "soon", "ECS_OTEL_STATUS_PORT": "0",
                                      "ECS_OTEL_OTLP_HTTP_PORT": "0", "ECS_OTEL_OTLP_GRPC_PORT": "0"})
    assert result.returncode == 2
    assert "ECS_OTEL_BATCH_TIMEOUT" in result.stderr and "a number" in result.stderr
    path = tmp_path / "bad.toml"
    path.write_text("[exporters.otlp]\nendpointt = 'http://x'\n")
    result = run_sidecar_command([], {"ECS_OTEL_SIDECAR_CONFIG": str(path), "ECS_OTEL_TRACES_EXPORTERS": "otlp",
                                      "ECS_OTEL_STATUS_PORT": "0", "ECS_OTEL_OTLP_HTTP_PORT": "0",
                                      "ECS_OTEL_OTLP_GRPC_PORT": "0"})
    assert result.returncode == 2, result.stderr
    assert "exporters.otlp.endpointt" in result.stderr
    path.write_text("[exporters.file]\nno_such_key = 1\n")  # a table for an exporter that is not wired in
    result = run_sidecar_command([], {"ECS_OTEL_SIDECAR_CONFIG": str(path), "ECS_OTEL_TRACES_EXPORTERS": "none",
                                      "ECS_OTEL_METRICS_EXPORTERS": "none", "ECS_OTEL_LOGS_EXPORTERS": "none",
                                      "ECS_OTEL_STATUS_PORT": "0", "ECS_OTEL_OTLP_HTTP_PORT": "0",
                                      "ECS_OTEL_OTLP_GRPC_PORT": "0"})
    assert result.returncode == 2, result.stderr
    assert "exporters.file.no_such_key" in result.stderr


def test_validate_config_command(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(GOOD)
    result = run_sidecar_command(["validate-config", str(good)], {})
    assert result.returncode == 0, result.stderr
    assert "exporters.otlp" in result.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text(GOOD.replace("queue_max_items = 500", "queue_max_items = -5"))
    result = run_sidecar_command(["validate-config", str(bad)], {})
    assert result.returncode == 2
    assert "pipeline.queue_max_items" in result.stderr
    help_result = run_sidecar_command(["--help"], {})
    assert help_result.returncode == 0
    assert "healthcheck" in help_result.stdout and "validate-config" in help_result.stdout


def test_unknown_key_suggests_the_closest_known_one() -> None:
    with pytest.raises(ConfigError) as info:
        load_config({"ECS_OTEL_SIDECAR_CONFIG": '[sidecar]\ntraces_exporter = ["debug"]\n'})
    assert info.value.key == "sidecar.traces_exporter"
    assert "did you mean traces_exporters?" in str(info.value)
    with pytest.raises(ConfigError) as info:
        load_config({"ECS_OTEL_SIDECAR_CONFIG": "[pipeline]\nzzz = 1\n"})
    assert info.value.key == "pipeline.zzz" and "did you mean" not in str(info.value)


PORTS = {"ECS_OTEL_STATUS_PORT": "0", "ECS_OTEL_OTLP_HTTP_PORT": "0", "ECS_OTEL_OTLP_GRPC_PORT": "0"}


@pytest.mark.parametrize(("env", "key", "secret"), [
    ({"ECS_OTEL_OTLP_HEADERS": "x-api-key=s3cr3t-value\r\nInjected: yes"}, "ECS_OTEL_OTLP_HEADERS", "s3cr3t-value"),
    ({"ECS_OTEL_OTLP_HEADERS": "x-api-key=s3cr3t-value%0D%0AInjected: yes"}, "ECS_OTEL_OTLP_HEADERS", "s3cr3t-value"),
    ({"ECS_OTEL_OTLP_HEADERS": "bad name=v"}, "ECS_OTEL_OTLP_HEADERS", None),
])
def test_headers_that_http_cannot_carry_stop_validate_config_and_start_up(
        tmp_path: Path, env: dict[str, str], key: str, secret: str | None) -> None:
    config = tmp_path / "c.toml"
    config.write_text(GOOD)
    for args in (["validate-config", str(config)], []):
        result = run_sidecar_command(args, {**env, **PORTS, "ECS_OTEL_SIDECAR_CONFIG": str(config)})
        assert result.returncode == 2, (args, result.stderr)
        assert key in result.stderr
        assert secret is None or secret not in result.stderr + result.stdout  # header values are not echoed


def test_a_file_exporter_path_that_is_a_file_stops_validate_config_and_start_up(tmp_path: Path) -> None:
    taken = tmp_path / "not-a-directory"
    taken.write_text("x")
    config = tmp_path / "c.toml"
    config.write_text(GOOD.replace('traces_exporters = ["otlp", "debug"]', 'traces_exporters = ["file"]'))
    for target in (taken, taken / "below"):
        env = {**PORTS, "ECS_OTEL_FILE_PATH": str(target), "ECS_OTEL_SIDECAR_CONFIG": str(config)}
        for args in (["validate-config", str(config)], []):
            result = run_sidecar_command(args, env)
            assert result.returncode == 2, (args, result.stderr)
            assert "ECS_OTEL_FILE_PATH" in result.stderr
