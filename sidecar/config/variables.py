"""Which ``ECS_OTEL_*`` environment variables exist, taken from the settings declarations.

A misspelt variable (``..._TRACE_EXPORTERS`` for ``..._TRACES_EXPORTERS``) is silently
ignored by both the sidecar and the library, which is the worst kind of configuration bug: the
service starts and does something else. ``validate-config`` uses :func:`unknown_variables` to warn
about such names with the closest known one. The list is built from the same declarations the
reference pages are generated from (every component's ``Settings`` fields, the sidecar's and the
pipeline's tables, and :data:`ecs_otel.settings.LIBRARY_SETTINGS`), so it cannot drift from them.
A task definition usually gives the app and the sidecar containers similar environments, so the
library's variables count as known here too.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from ecs_otel._setting import ENV
from sidecar.config.file import CONFIG_ENV, KINDS, component_class
from sidecar.config.settings import PipelineSettings, SidecarSettings

PREFIX = "ECS_OTEL_"


@dataclass(frozen=True, slots=True)
class UnknownVariable:
    name: str
    suggestion: str | None

    def message(self) -> str:
        hint = f"did you mean {self.suggestion}?" if self.suggestion else "no setting has a similar name"
        return f"{self.name} is set but is not a setting of the sidecar or the library ({hint})"


def settings_classes() -> Iterator[type]:
    """Every settings dataclass of the sidecar: its own two tables and each registered component's."""
    yield SidecarSettings
    yield PipelineSettings
    for kind, table in KINDS.items():
        for name in table:
            cls = getattr(component_class(kind, name), "Settings", None)
            if isinstance(cls, type) and dataclasses.is_dataclass(cls):
                yield cls


def known_variables() -> frozenset[str]:
    """Every environment variable a declaration names, plus the configuration-file variable."""
    from ecs_otel.settings import LIBRARY_SETTINGS, OTEL_SETTINGS

    names = {CONFIG_ENV}
    for cls in settings_classes():
        names |= {f.metadata[ENV] for f in dataclasses.fields(cls) if f.metadata.get(ENV)}
    names |= {s.name for s in (*LIBRARY_SETTINGS, *OTEL_SETTINGS)}
    return frozenset(names)


def unknown_variables(env: Mapping[str, str]) -> list[UnknownVariable]:
    """The ``ECS_OTEL_*`` names in ``env`` that nothing reads, each with the closest known name."""
    known = known_variables()
    ours = sorted(k for k in known if k.startswith(PREFIX))
    out = []
    for name in sorted(env):
        if name.startswith(PREFIX) and name not in known:
            close = difflib.get_close_matches(name, ours, n=1, cutoff=0.75)
            out.append(UnknownVariable(name, close[0] if close else None))
    return out
