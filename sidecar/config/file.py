"""The sidecar's configuration document: ``ECS_OTEL_SIDECAR_CONFIG`` (a TOML path or TOML text).

Layout::

    [sidecar]              # SidecarSettings: receivers, status server, wiring, logging
    [pipeline]             # PipelineSettings: queues, batching, retries, memory
    [exporters.<name>]     # each component declares its own Settings dataclass
    [processors.<name>]
    [scrapers.<name>]

Environment variables override the file, key by key. Everything is validated before the
sidecar opens a port: a typo must stop the start, naming the key, not be silently ignored.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecs_otel._setting import ENV, load_settings
from ecs_otel.logging.levels import parse_level_spec
from sidecar import registry
from sidecar.config import environment_variables as V
from sidecar.config.errors import ConfigError
from sidecar.config.settings import PipelineSettings, SidecarSettings

#: Names the configuration document (a TOML file path, or TOML text).
CONFIG_ENV = V.ECS_OTEL_SIDECAR_CONFIG

#: Component kinds → the registry table that names what may appear under them.
KINDS: dict[str, dict[str, str]] = {
    "exporters": registry.EXPORTERS,
    "processors": registry.PROCESSORS,
    "scrapers": registry.SCRAPERS,
}
_TOP_LEVEL = ("sidecar", "pipeline", *KINDS)


@dataclass
class SidecarConfig:
    sidecar: SidecarSettings
    pipeline: PipelineSettings
    #: ``{"exporters": {"otlp": {...}}, ...}``: raw tables, validated by each component's Settings.
    components: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    #: Where the document came from (a path, "inline TOML" or "defaults"), for the start-up log.
    source: str = "defaults"

    def table(self, kind: str, name: str) -> dict[str, Any]:
        return self.components.get(kind, {}).get(name, {})


def read_document(env: Mapping[str, str]) -> tuple[dict[str, Any], str]:
    """The parsed TOML document named by ``ECS_OTEL_SIDECAR_CONFIG`` (empty when unset)."""
    raw = env.get(CONFIG_ENV, "")
    if not raw.strip():
        return {}, "defaults"
    looks_like_text = "\n" in raw or "=" in raw or raw.lstrip().startswith("[")
    path = Path(raw.strip()) if not looks_like_text else None
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(CONFIG_ENV, "a readable TOML file path or TOML text", f"{raw} ({exc.strerror})") from None
        return parse_toml(text, str(path)), str(path)
    return parse_toml(raw, CONFIG_ENV), "inline TOML"


def parse_toml(text: str, origin: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(origin, "valid TOML", str(exc)) from None


def load_config(env: Mapping[str, str], document: Mapping[str, Any] | None = None, source: str = "") -> SidecarConfig:
    """Validate the document's layout and the sidecar's own tables; components are checked by :func:`build_settings`."""
    if document is None:
        document, source = read_document(env)
    for key, value in document.items():
        if key not in _TOP_LEVEL:
            raise ConfigError(key, "one of the tables " + ", ".join(f"[{k}]" for k in _TOP_LEVEL))
        if not isinstance(value, dict):
            raise ConfigError(key, "a table", value)
    components: dict[str, dict[str, dict[str, Any]]] = {}
    for kind, known in KINDS.items():
        section = document.get(kind, {})
        for name, table in section.items():
            if name not in known:
                raise ConfigError(f"{kind}.{name}", "one of " + ", ".join(sorted(known)))
            if not isinstance(table, dict):
                raise ConfigError(f"{kind}.{name}", "a table", table)
        components[kind] = {name: dict(table) for name, table in section.items()}
    sidecar = load_settings(SidecarSettings, document.get("sidecar"), env, "sidecar")
    pipeline = load_settings(PipelineSettings, document.get("pipeline"), env, "pipeline")
    _check_wiring(sidecar, env)
    return SidecarConfig(sidecar=sidecar, pipeline=pipeline, components=components, source=source or "defaults")


def component_class(kind: str, name: str) -> Any:
    """Import a registered component; a component missing from this build is a configuration error."""
    ref = KINDS[kind].get(name)
    if ref is None:
        raise ConfigError(f"{kind}.{name}", "one of " + ", ".join(sorted(KINDS[kind])))
    try:
        return registry.resolve(ref)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"{kind}.{name}", "a component available in this build", str(exc)) from None


def build_settings(kind: str, name: str, cls: type, config: SidecarConfig, env: Mapping[str, str]) -> Any:
    """The component's ``Settings`` from its TOML table and env (a class without Settings takes ``None``)."""
    settings_cls = getattr(cls, "Settings", None)
    table = config.table(kind, name)
    if not isinstance(settings_cls, type) or not dataclasses.is_dataclass(settings_cls):
        if table:
            raise ConfigError(f"{kind}.{name}", "no keys (this component has no settings)", table)
        return None
    settings = load_settings(settings_cls, table, env, f"{kind}.{name}")
    # A component's own rules (values that parse but cannot work, such as a header with a line break):
    # checked here so that validate-config and start-up refuse them alike, naming the key.
    check = getattr(settings, "check", None)
    if callable(check):
        check(lambda field: setting_key(settings_cls, f"{kind}.{name}", field, env))
    return settings


def setting_key(cls: type, table: str, name: str, env: Mapping[str, str]) -> str:
    """How to name a setting in an error: its env variable when that is where the value came from."""
    field = {f.name: f for f in dataclasses.fields(cls)}[name]
    env_name = field.metadata.get(ENV)
    return env_name if env_name and env.get(env_name, "") != "" else f"{table}.{name}"


def _check_wiring(s: SidecarSettings, env: Mapping[str, str]) -> None:
    def bad(name: str, expected: str, got: object) -> ConfigError:
        return ConfigError(setting_key(SidecarSettings, "sidecar", name, env), expected, got)

    for signal in ("traces", "metrics", "logs"):
        for name in s.exporters_for(signal) or []:
            if name not in registry.EXPORTERS:
                raise bad(f"{signal}_exporters", "names from " + ", ".join(sorted(registry.EXPORTERS)) + " or none",
                          name)
        for name in s.processors_for(signal):
            if name not in registry.PROCESSORS:
                raise bad(f"{signal}_processors", "names from " + ", ".join(sorted(registry.PROCESSORS)) + " or none",
                          name)
    for name in s.scrapers or []:
        if name.lower() != "none" and name not in registry.SCRAPERS:
            raise bad("scrapers", "names from " + ", ".join(sorted(registry.SCRAPERS)) + " or none", name)
    try:
        parse_level_spec(s.log_level)
    except ValueError:
        raise bad("log_level", "a level such as INFO, or INFO,botocore=WARNING", s.log_level) from None
