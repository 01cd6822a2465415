"""``make demo`` installs the light ``demo`` extra, and that extra is enough for what the demo runs.

The demo used to install ``dev`` (moto, playwright, benchmark peers: ~120 packages). These tests keep the split
honest without a network: the Makefile's dry run names the extra each target installs, and every third-party
import of the demo's code (and the OpenTelemetry instrumentation of each library it imports, which is what puts
its spans in the summary) is inside the ``demo`` extra's dependency closure, read from installed metadata.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, entry_points, packages_distributions, requires
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.support.paths import REPO_ROOT

ROOT = REPO_ROOT
DEMO_CODE = [*sorted((ROOT / "examples" / "demo").glob("*.py")), *sorted((ROOT / "examples" / "shop").glob("*.py"))]
OURS = {"examples", "ecs_otel", "sidecar"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _closure(extra: str) -> set[str]:
    """Distributions ``pip install '.[extra]'`` brings in (as installed here), by normalised name."""
    project = _pyproject()
    seen: set[str] = set()
    todo: list[Requirement] = [Requirement(r) for r in project["dependencies"]]
    extras_todo, extras_done = [extra], set()
    while extras_todo:
        name = extras_todo.pop()
        if name in extras_done:
            continue
        extras_done.add(name)
        for raw in project["optional-dependencies"][name]:
            req = Requirement(raw)
            if _norm(req.name) == _norm(project["name"]):
                extras_todo.extend(req.extras)
            else:
                todo.append(req)
    while todo:
        req = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        key = _norm(req.name)
        extras = {_norm(e) for e in req.extras}
        if key in seen and not extras:
            continue
        seen.add(key)
        try:
            deps = requires(req.name) or []
        except PackageNotFoundError:
            continue
        for dep in map(Requirement, deps):
            if dep.marker is None or dep.marker.evaluate({"extra": ""}) or any(
                    dep.marker.evaluate({"extra": e}) for e in extras):
                todo.append(dep)
    return seen


def _third_party_imports() -> set[str]:
    names: set[str] = set()
    for path in DEMO_CODE:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in OURS and n != "__future__"}


def test_make_demo_installs_the_demo_extra_and_make_test_the_dev_one(tmp_path: Path) -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    venv = tmp_path / "venv"  # a dry run: nothing is created, make only prints what it would do
    demo = subprocess.run(["make", "-n", "demo", f"VENV={venv}"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=True).stdout
    test = subprocess.run(["make", "-n", "test", f"VENV={venv}"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=True).stdout
    assert "pip install --quiet -e '.[demo]'" in demo and ".[dev]" not in demo, demo
    assert "pip install --quiet -e '.[dev]'" in test, test


def test_the_demo_extra_covers_every_import_of_the_demo_and_its_instrumentations() -> None:
    closure = _closure("demo")
    assert "moto" not in closure and "playwright" not in closure and "pytest" not in closure, sorted(closure)
    provided = packages_distributions()
    imported_dists: set[str] = set()
    for module in sorted(_third_party_imports()):
        dists = {_norm(d) for d in provided.get(module, [])}
        assert dists, f"{module} is imported by the demo but not installed at all"
        assert dists & closure, f"{module} (from {sorted(dists)}) is not in the demo extra's closure"
        imported_dists |= dists
    assert {"aiohttp", "botocore"} <= imported_dists  # the shop's server, client and AWS calls
    for ep in entry_points(group="opentelemetry_instrumentor"):
        if ep.dist is None:
            continue
        instrumented = {_norm(Requirement(r).name) for r in ep.dist.requires or []
                        if Requirement(r).marker is not None
                        and any(Requirement(r).marker.evaluate({"extra": e}) for e in ("instruments", "instruments-any"))}
        if instrumented & imported_dists:
            assert _norm(ep.dist.name) in closure, f"{ep.dist.name} instruments what the demo imports"


def test_the_license_is_an_spdx_expression_so_setuptools_prints_no_deprecation_banner() -> None:
    """``project.license`` as a table (``{text = ...}``) or a ``License ::`` classifier makes setuptools >= 77 print
    a ``SetuptoolsDeprecationWarning`` banner on every install (three times per ``make demo``); an SPDX string
    needs the setuptools that understands it (PEP 639), so the build requirement says so."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = pyproject["project"]
    assert isinstance(project["license"], str) and project["license"] == "Apache-2.0"
    assert not [c for c in project.get("classifiers", []) if c.startswith("License ::")]
    setuptools = [Requirement(r) for r in pyproject["build-system"]["requires"] if Requirement(r).name == "setuptools"]
    assert setuptools and not setuptools[0].specifier.contains("76.9") and setuptools[0].specifier.contains("77.0")


def test_editable_installs_are_a_plain_pth_so_setuptools_prints_no_banner() -> None:
    """With the packages' directory left implicit, setuptools installs ``-e .`` through an import finder and prints an
    "Editable installation" banner on every ``make demo``/``make test`` install; said explicitly (``"" = "."``), the
    layout is simple and the install is a silent ``.pth`` entry. (``editable_mode=compat`` would print a banner of its
    own: that mode is being removed.)"""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["tool"]["setuptools"]["package-dir"] == {"": "."}
    found = pyproject["tool"]["setuptools"]["packages"]["find"]
    assert found.get("where", ["."]) == ["."] and found["include"] == ["ecs_otel*", "sidecar*"]
