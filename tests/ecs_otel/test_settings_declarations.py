"""The library's settings: declared once, named by one constant each, parsed with the sidecar's table.

A bad value is refused exactly as the sidecar refuses it (``inf``, ``nan``, ``1e400``, out of bounds), but the
library's reaction is one warning naming the variable and the default, never an exception into the app.
"""

from __future__ import annotations

import ast
import logging
import sys
from pathlib import Path

import pytest

import ecs_otel.environment_variables as lib_env
from ecs_otel import _setting
from ecs_otel.metadata.client import MetadataClient
from ecs_otel.resource import EcsResourceDetector
from ecs_otel.settings import LIBRARY_SETTINGS, LibraryVariables, LoggingVariables, OtelVariables, Settings
from tests.support.emulator import EmulatorProcess
from tests.support.paths import REPO_ROOT

DECLARATIONS = (LibraryVariables, LoggingVariables, OtelVariables)
#: Read by the library but set by the ECS agent: constants, not settings.
AGENT_VARIABLES = {"ECS_CONTAINER_METADATA_URI_V4", "ECS_CONTAINER_METADATA_URI", "AWS_EXECUTION_ENV"}
NOT_A_TIMEOUT = ["inf", "nan", "1e400", "-inf", "0", "-1", "soon"]


def _constants(module: object) -> dict[str, str]:
    return {k: v for k, v in vars(module).items() if k.isupper() and isinstance(v, str)}


@pytest.mark.parametrize("raw", NOT_A_TIMEOUT)
def test_detector_given_a_bad_metadata_timeout_warns_naming_it_and_uses_the_default(
    raw: str, ecs_emulator: EmulatorProcess, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """EcsResourceDetector reads the variable through the metadata client: it used to fall back in silence."""
    monkeypatch.setenv("ECS_CONTAINER_METADATA_URI_V4", ecs_emulator.uri)
    monkeypatch.setenv("ECS_OTEL_METADATA_TIMEOUT", raw)
    with caplog.at_level(logging.WARNING, logger="ecs_otel"):
        resource = EcsResourceDetector().detect()
        client = MetadataClient.from_environment()
    assert resource.attributes.get("aws.ecs.task.arn")  # detection went on, with the default budget
    assert client is not None and client.timeout_s == 1.0
    warnings = [r.getMessage() for r in caplog.records if "ECS_OTEL_METADATA_TIMEOUT" in r.getMessage()]
    assert warnings[0] == f"ecs_otel: ignoring ECS_OTEL_METADATA_TIMEOUT={raw!r} (invalid); using 1.0"
    assert len(warnings) == 2  # one per read: the detector's and from_environment's


@pytest.mark.parametrize("raw", NOT_A_TIMEOUT)
def test_settings_and_detector_refuse_the_same_values(raw: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="ecs_otel"):
        settings = Settings.from_env({"ECS_OTEL_METADATA_TIMEOUT": raw})
    assert settings.metadata_timeout_s == 1.0
    assert [r.getMessage() for r in caplog.records] == [
        f"ecs_otel: ignoring ECS_OTEL_METADATA_TIMEOUT={raw!r} (invalid); using 1.0"]


@pytest.mark.parametrize(("name", "raw", "field", "default"), [
    ("ECS_OTEL_XRAY_SAMPLING_INTERVAL", "0.5", "xray_sampling_interval_s", 300.0),  # below its bound (>= 1)
    ("ECS_OTEL_XRAY_SAMPLING_INTERVAL", "inf", "xray_sampling_interval_s", 300.0),
    ("ECS_OTEL_METRIC_CARDINALITY_LIMIT", "0", "metric_cardinality_limit", 2000),
    ("ECS_OTEL_SHUTDOWN_TIMEOUT", "nan", "shutdown_timeout_s", 5.0),
    ("ECS_OTEL_RUNTIME_METRICS", "maybe", "runtime_metrics", True),
    ("ECS_OTEL_LOGGING", "sometimes", "logging", "auto"),
    ("OTEL_AWS_APPLICATION_SIGNALS_ENABLED", "perhaps", "application_signals", False),
])
def test_every_refusal_is_one_warning_and_the_declared_default(
    name: str, raw: str, field: str, default: object, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="ecs_otel"):
        settings = Settings.from_env({name: raw, "ECS_OTEL_SHUTDOWN_TIMEOUT" if name != "ECS_OTEL_SHUTDOWN_TIMEOUT"
                                      else "ECS_OTEL_METRIC_CARDINALITY_LIMIT": "7"})
    assert getattr(settings, field) == default
    assert len(caplog.records) == 1 and name in caplog.records[0].getMessage()
    assert 7 in (settings.shutdown_timeout_s, settings.metric_cardinality_limit)  # the others keep their values


def test_valid_values_read_as_before() -> None:
    s = Settings.from_env({"ECS_OTEL_METADATA_TIMEOUT": "2.5", "ECS_OTEL_SHUTDOWN_TIMEOUT": "0",
                           "ECS_OTEL_XRAY_SAMPLING_INTERVAL": "1", "ECS_OTEL_LOGGING": "TRUE",
                           "ECS_OTEL_SERVICE_NAME_SOURCE": " Container ", "ECS_OTEL_RUNTIME_METRICS": "off",
                           "ECS_OTEL_RECEIVER_TOKEN": "  t0k  ", "ECS_OTEL_XRAY_SAMPLING_ENDPOINT": "http://x:2000/",
                           "OTEL_AWS_APPLICATION_SIGNALS_ENABLED": "TRUE"})
    assert (s.metadata_timeout_s, s.shutdown_timeout_s, s.xray_sampling_interval_s) == (2.5, 0.0, 1.0)
    assert (s.logging, s.service_name_source, s.runtime_metrics, s.receiver_token) == ("true", "container", False,
                                                                                       "t0k")
    assert s.xray_sampling_endpoint == "http://x:2000" and s.application_signals is True


def test_every_library_variable_is_declared_once_documented_and_a_constant() -> None:
    declared = [name for cls in DECLARATIONS for name, _ in _setting.env_variables(cls)]
    assert len(declared) == len(set(declared)), "a variable is declared twice"
    constants = _constants(lib_env)
    assert all(k == v for k, v in constants.items())
    assert set(constants) == set(declared) | AGENT_VARIABLES
    page = (REPO_ROOT / "docs" / "reference" / "library.md").read_text(encoding="utf-8")
    for cls in DECLARATIONS:
        for name, f in _setting.env_variables(cls):
            assert f.metadata[_setting.HELP].strip(), name
            assert f"| `{name}` |" in page, f"{name} is missing from the generated reference"
    assert [s.name for s in LIBRARY_SETTINGS] == [n for n in declared if n.startswith("ECS_OTEL_")]


def _string_literals(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def test_no_undeclared_ecs_otel_variable_in_the_librarys_source() -> None:
    """Every ``ECS_OTEL_*`` name the library's code spells is a declared variable (the sidecar's port names
    appear in the export-health hint, which tells the user what to set on the sidecar)."""
    import sidecar.config.environment_variables as sidecar_env

    known = set(_constants(lib_env)) | set(_constants(sidecar_env))
    found = {lit for path in (REPO_ROOT / "ecs_otel").rglob("*.py") for lit in _string_literals(path)
             if lit.startswith("ECS_OTEL_") and lit.rstrip("_").isupper() and " " not in lit}
    assert found - known == set()


def test_the_declaration_module_is_stdlib_only() -> None:
    """The library imports it at start-up: it may not pull in a third-party package (or the sidecar)."""
    tree = ast.parse(Path(_setting.__file__).read_text(encoding="utf-8"))
    roots = {alias.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for alias in n.names}
    roots |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert roots <= set(sys.stdlib_module_names) | {"__future__"}
