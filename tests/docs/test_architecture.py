"""The layout the architecture page describes is the layout of the code.

Imports run one way (app wiring → stages → ``pipeline`` → ``otlp``/``config``), no stage imports another,
nothing outside a component imports its ``_internal``, the library never imports the sidecar, and every
package says what it exports. Checked with ``ast`` over the source (no import is executed), so a new import
in the wrong direction fails here rather than in a review.
"""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sidecar import registry
from tests.conftest import ROOT

PACKAGES = ("ecs_otel", "sidecar")
ARCHITECTURE = ROOT / "docs" / "architecture.md"
STAGE_KINDS = ("exporters", "processors", "receivers", "scrapers")



@dataclass(frozen=True)
class Edge:
    source: str  # importing module, dotted
    target: str  # imported module or name, dotted
    line: int

    def __str__(self) -> str:
        return f"{self.source}:{self.line} imports {self.target}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _edges() -> Iterator[Edge]:
    """Every import in the two packages (function-level and ``TYPE_CHECKING`` ones included)."""
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            source = _module_name(path)
            here = source if path.name == "__init__.py" else source.rpartition(".")[0]
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    for alias in node.names:
                        yield Edge(source, alias.name, node.lineno)
                elif isinstance(node, ast.ImportFrom):
                    if node.level:
                        base = here.split(".")[: len(here.split(".")) - node.level + 1]
                        module = ".".join([*base, *([node.module] if node.module else [])])
                    else:
                        module = node.module or ""
                    yield Edge(source, module, node.lineno)
                    # ``from sidecar import registry`` imports the module sidecar.registry
                    for alias in node.names:
                        yield Edge(source, f"{module}.{alias.name}", node.lineno)


EDGES = [e for e in _edges() if e.target.split(".")[0] in PACKAGES]


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _stage(name: str) -> str | None:
    """The stage a module belongs to: a registered component's package or module, or the receivers."""
    if _within(name, "sidecar.receivers"):
        return "sidecar.receivers"
    for table in (registry.EXPORTERS, registry.PROCESSORS, registry.SCRAPERS):
        for ref in table.values():
            module = ref.partition(":")[0]
            parent, _, leaf = module.rpartition(".")
            owner = parent if leaf in ("exporter", "processor", "scraper") else module
            if _within(name, owner):
                return owner
    return None


def _violations(source_prefix: str, forbidden: tuple[str, ...]) -> list[str]:
    return [str(e) for e in EDGES if _within(e.source, source_prefix) and any(_within(e.target, f) for f in forbidden)]


def test_the_library_never_imports_the_sidecar() -> None:
    assert _violations("ecs_otel", ("sidecar",)) == []


def test_the_pipeline_knows_contracts_not_components() -> None:
    assert _violations("sidecar.pipeline", (*(f"sidecar.{k}" for k in STAGE_KINDS), "sidecar.app",
                                            "sidecar.status", "sidecar.__main__")) == []


@pytest.mark.parametrize("layer", ["sidecar.otlp", "sidecar.config"])
def test_shared_formats_and_configuration_import_nothing_above_them(layer: str) -> None:
    assert _violations(layer, ("sidecar.pipeline", *(f"sidecar.{k}" for k in STAGE_KINDS), "sidecar.app",
                               "sidecar.status", "sidecar.__main__")) == []


def test_nothing_imports_the_app_but_the_command() -> None:
    assert [str(e) for e in EDGES if _within(e.target, "sidecar.app") and e.source != "sidecar.__main__"] == []


def test_no_stage_imports_another_stage() -> None:
    crossing = []
    for e in EDGES:
        mine, theirs = _stage(e.source), _stage(e.target)
        if mine and theirs and mine != theirs:
            crossing.append(str(e))
    assert crossing == []


def test_nothing_outside_a_component_imports_its_internals() -> None:
    leaks = []
    for e in EDGES:
        if "._internal" in e.target:
            owner = e.target.split("._internal")[0]
            if not _within(e.source, owner):
                leaks.append(str(e))
    assert leaks == []


def test_the_checks_see_real_imports() -> None:
    """Guard against a vacuous pass: the walk finds the imports the layering relies on."""
    found = {(e.source, e.target) for e in EDGES}
    assert ("sidecar.exporters.otlp_http", "sidecar.pipeline.exporter") in found
    # The OTLP modes of xray and cloudwatch compose the shared sender, which is no stage of its own.
    assert ("sidecar.exporters.xray.exporter", "sidecar.exporters.otlp_http") in found
    assert _stage("sidecar.exporters.otlp_http") is None and _stage("sidecar.exporters.otlp") == "sidecar.exporters.otlp"
    assert ("sidecar.__main__", "sidecar.app") in found
    assert any(_within(t, "sidecar.exporters.xray._internal") for s, t in found if _within(s, "sidecar.exporters.xray"))
    assert _stage("sidecar.exporters.xray._internal.segment") == "sidecar.exporters.xray"
    assert _stage("sidecar.processors.enrich") == "sidecar.processors.enrich"


def _packages() -> list[str]:
    return sorted(_module_name(p) for pkg in PACKAGES for p in (ROOT / pkg).rglob("__init__.py")
                  if "_internal" not in p.parts)


@pytest.mark.parametrize("package", _packages())
def test_every_public_package_lists_its_public_names(package: str) -> None:
    module = importlib.import_module(package)
    names = getattr(module, "__all__", None)
    assert isinstance(names, list | tuple), f"{package}/__init__.py has no __all__"
    missing = [n for n in names if not hasattr(module, n) and not _is_submodule(package, n)]
    assert missing == [], f"{package}.__all__ names what it does not define: {missing}"


def _is_submodule(package: str, name: str) -> bool:
    base = ROOT.joinpath(*package.split("."))
    return (base / f"{name}.py").is_file() or (base / name / "__init__.py").is_file()


def _table_paths() -> set[str]:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    section = text[text.index("## Where things live"):text.index("## Scaling past one task")]
    paths = set()
    for row in re.findall(r"^\| (`[^|]+)\|", section, re.M):
        cell = re.findall(r"`([^`]+)`", row)
        first = cell[0]
        folder = Path(first.rstrip("/")).parent.as_posix()
        paths.add(first)
        # ``ecs_otel/auto.py`, `distro.py``: later names in the same cell are beside the first
        paths |= {f"{folder}/{c}" if "/" not in c.rstrip("/") else c for c in cell[1:]}
    return paths


def test_the_where_tables_name_paths_that_exist() -> None:
    paths = _table_paths()
    assert len(paths) > 20
    missing = sorted(p for p in paths if not (ROOT / p).exists())
    assert missing == [], f"docs/architecture.md names paths that are not in the tree: {missing}"


def test_every_top_level_module_and_package_is_in_a_where_table() -> None:
    paths = _table_paths()
    tree = set()
    for package in PACKAGES:
        for child in (ROOT / package).iterdir():
            if child.name.startswith(("_", ".")) and child.name not in ("__main__.py",):
                continue  # private modules are described by the public ones that use them
            if child.suffix == ".py" or (child / "__init__.py").is_file():
                tree.add(f"{package}/{child.name}" + ("/" if child.is_dir() else ""))
    absent = sorted(p for p in tree if not any(q == p or q.startswith(p) for q in paths))
    assert absent == [], f"docs/architecture.md's tables do not mention: {absent}"
