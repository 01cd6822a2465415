"""One declaration style and one coercion table for the sidecar and the library.

The sidecar declares with the library's ``setting()`` and parses with its table, so a value one side refuses
the other refuses too; the sidecar stops (exit 2 naming the key), the library warns and keeps the default.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, get_type_hints

import pytest

import sidecar.config
import sidecar.config.environment_variables as sidecar_env
from ecs_otel import _setting
from ecs_otel.settings import LibraryVariables, LoggingVariables, OtelVariables, Settings
from sidecar.config import ConfigError, setting
from sidecar.config.file import CONFIG_ENV, load_config
from sidecar.config.variables import settings_classes

LIBRARY = (LibraryVariables, LoggingVariables, OtelVariables)
NOT_NUMBERS = ["inf", "nan", "1e400", "-inf", "soon", "-1"]


def _declared(classes: Any) -> dict[str, tuple[type, dataclasses.Field[Any]]]:
    out: dict[str, tuple[type, dataclasses.Field[Any]]] = {}
    for cls in classes:
        for name, f in _setting.env_variables(cls):
            assert name not in out, f"{name} is declared twice ({out[name][0].__qualname__}, {cls.__qualname__})"
            out[name] = (cls, f)
    return out


def test_both_halves_share_one_declaration_style_and_one_table() -> None:
    assert setting is _setting.setting
    assert sidecar.config.coerce is _setting.coerce and sidecar.config.load_settings is _setting.load_settings
    assert ConfigError is _setting.SettingError


def test_every_sidecar_variable_is_declared_once_and_a_named_constant() -> None:
    declared = _declared(settings_classes())
    constants = {k: v for k, v in vars(sidecar_env).items() if k.isupper() and isinstance(v, str)}
    assert all(k == v for k, v in constants.items())
    assert set(constants) == set(declared) | {CONFIG_ENV}
    assert all(f.metadata[_setting.HELP].strip() for _, f in declared.values())


def test_variables_both_halves_read_are_refused_alike() -> None:
    """Where the library and the sidecar read the same variable, the same non-numbers are refused by both."""
    lib, side = _declared(LIBRARY), _declared(settings_classes())
    shared = sorted(set(lib) & set(side))
    assert {"ECS_OTEL_SHUTDOWN_TIMEOUT", "ECS_OTEL_LOG_MAX_BYTES", "ECS_OTEL_METRIC_CARDINALITY_LIMIT"} <= set(shared)

    def refuses(decl: tuple[type, dataclasses.Field[Any]], name: str, raw: str) -> bool:
        cls, f = decl
        try:
            _setting.coerce(get_type_hints(cls)[f.name], raw, name, from_env=True,
                            bounds=f.metadata.get(_setting.BOUNDS))
        except _setting.SettingError as exc:
            assert exc.key == name
            return True
        return False

    for name in shared:
        for raw in NOT_NUMBERS:
            assert refuses(lib[name], name, raw) == refuses(side[name], name, raw), (name, raw)


@pytest.mark.parametrize("raw", NOT_NUMBERS)
def test_same_parse_different_reaction(raw: str, caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(ConfigError) as info:
        load_config({"ECS_OTEL_SHUTDOWN_TIMEOUT": raw})
    assert info.value.key == "ECS_OTEL_SHUTDOWN_TIMEOUT"
    with caplog.at_level(logging.WARNING, logger="ecs_otel"):
        assert Settings.from_env({"ECS_OTEL_SHUTDOWN_TIMEOUT": raw}).shutdown_timeout_s == 5.0
    assert [r.getMessage() for r in caplog.records] == [
        f"ecs_otel: ignoring ECS_OTEL_SHUTDOWN_TIMEOUT={raw!r} (invalid); using 5"]


@pytest.mark.parametrize(("document", "key"), [
    ("[sidecar]\nlog_max_bytes = 512\n", "sidecar.log_max_bytes"),
    ("[sidecar]\notlp_grpc_port = -2\n", "sidecar.otlp_grpc_port"),
    ("[sidecar]\nstatus_port = 65536\n", "sidecar.status_port"),
    ("[sidecar]\nmax_request_bytes = 1023\n", "sidecar.max_request_bytes"),
    ("[sidecar]\nreceiver_max_connections = 0\n", "sidecar.receiver_max_connections"),
    ("[sidecar]\nlog_repeat_interval_s = 0\n", "sidecar.log_repeat_interval_s"),
    ("[sidecar]\nheader_read_timeout_s = -1\n", "sidecar.header_read_timeout_s"),
    ("[pipeline]\nmemory_limit_mib = -1\n", "pipeline.memory_limit_mib"),
    ("[pipeline]\nexport_concurrency = 0\n", "pipeline.export_concurrency"),
    ("[pipeline]\nbatch_timeout_s = 5.5\n", "pipeline.batch_timeout_s"),
    ("[pipeline]\nretry_max_age_s = nan\n", "pipeline.retry_max_age_s"),
])
def test_declared_bounds_name_the_key(document: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config({"ECS_OTEL_SIDECAR_CONFIG": document})
    assert info.value.key == key and info.value.expected


def test_bounds_at_their_edges_are_accepted() -> None:
    config = load_config({"ECS_OTEL_SIDECAR_CONFIG": "[sidecar]\nlog_max_bytes = 1048576\notlp_grpc_port = -1\n"
                          "status_port = 0\n[pipeline]\nbatch_timeout_s = 5\nmemory_limit_mib = 0\n"})
    assert (config.sidecar.log_max_bytes, config.sidecar.otlp_grpc_port, config.pipeline.batch_timeout_s) == (
        1048576, -1, 5.0)


def test_no_undeclared_ecs_otel_variable_in_the_sidecars_source() -> None:
    """Every ``ECS_OTEL_*`` name the sidecar's code spells is a declared variable of the sidecar or the library
    (a variable read somewhere without a declaration would be missing from the reference and from the
    unknown-variable check of ``validate-config``)."""
    import ast

    import ecs_otel.environment_variables as lib_env
    from tests.support.paths import REPO_ROOT

    known = {k for module in (lib_env, sidecar_env) for k, v in vars(module).items() if k.isupper() and k == v}
    found = set()
    for path in (REPO_ROOT / "sidecar").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("ECS_OTEL_") \
                    and not node.value.endswith("_") and node.value.replace("_", "").isalnum() and node.value.isupper():
                found.add(node.value)
    assert found, "the walk found no variable names at all"
    assert found - known == set()
