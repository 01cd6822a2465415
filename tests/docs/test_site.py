"""The documentation site: it builds strictly, and what it says about the code is what the code does.

The build is mkdocs' own (``mkdocs build --strict`` with the validation settings of ``mkdocs.yml``), so
a broken link, a missing anchor, a page left out of the navigation or a missing included file fails
here as it fails ``make docs``. The reference pages are generated from the code and compared with the
committed ones; the hand-written pages' TOML examples and tables are checked against the code too.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from sidecar.config import reference
from tests.conftest import ROOT

DOCS = ROOT / "docs"
_TOML = re.compile(r"^```toml\n(.*?)\n```$", re.M | re.S)

pytestmark = pytest.mark.timeout(120)


def build(config_dir: Path, site_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config_dir / "mkdocs.yml"),
         "--site-dir", str(site_dir)],
        cwd=config_dir, env=env, capture_output=True, text=True, timeout=100,
    )


def pages() -> dict[Path, str]:
    return {path: path.read_text(encoding="utf-8") for path in sorted(DOCS.rglob("*.md"))}


def test_the_site_builds_strictly_and_the_benchmarks_page_is_bench_results(tmp_path: Path) -> None:
    site = tmp_path / "site"
    done = build(ROOT, site)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert not re.search(r"^(WARNING|ERROR)\b", output, re.M), output

    # Issue 9's rule, moved from the README: the benchmark tables are bench/RESULTS.md as `make bench` wrote it.
    results = ROOT.joinpath("bench", "RESULTS.md").read_text(encoding="utf-8").splitlines()
    built = site.joinpath("benchmarks", "index.html").read_text(encoding="utf-8")
    assert results[0].startswith("# ") and results[0][2:] not in built, "the file's own title is not included"
    run_line = next(line for line in results if line.startswith("Run "))
    assert run_line.split(".")[0] in built
    headings = [line[3:] for line in results if line.startswith("## ")]
    assert headings and all(f">{h}<" in built.replace("&amp;", "&") for h in headings), headings
    for row in (line for line in results if line.startswith("| ") and not line.startswith("|---")):
        first_cell = row.split("|")[1].strip()
        assert first_cell.replace("&", "&amp;") in built, first_cell


def test_a_broken_link_or_anchor_fails_the_build(tmp_path: Path) -> None:
    """The strictness is the configuration's: a copy of the site with one bad link must not build."""
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    shutil.copytree(DOCS, tmp_path / "docs")
    shutil.copytree(ROOT / "bench", tmp_path / "bench", ignore=shutil.ignore_patterns("*.py", "results", ".venvs"))
    assert build(tmp_path, tmp_path / "ok").returncode == 0
    for bad in ("[gone](no-such-page.md)", "[gone](exporters.md#no-such-section)", "[gone](../README.md)"):
        page = tmp_path / "docs" / "index.md"
        original = page.read_text(encoding="utf-8")
        page.write_text(original + f"\n{bad}\n", encoding="utf-8")
        done = build(tmp_path, tmp_path / "bad")
        page.write_text(original, encoding="utf-8")
        assert done.returncode != 0, f"{bad} did not fail the build"


def test_reference_pages_match_the_code() -> None:
    assert not reference.stale_pages(DOCS), (
        f"docs reference pages are stale: run `{reference.COMMAND}`"
    )
    for rel in reference.PAGES:
        assert rel in ROOT.joinpath("mkdocs.yml").read_text(encoding="utf-8"), f"{rel} is not in the nav"


def test_every_ecs_otel_variable_in_the_code_is_documented() -> None:
    text = "\n".join(pages().values())
    used: set[str] = set()
    for path in [*ROOT.joinpath("ecs_otel").rglob("*.py"), *ROOT.joinpath("sidecar").rglob("*.py")]:
        used |= set(re.findall(r"\bECS_OTEL_[A-Z0-9_]*[A-Z0-9]\b", path.read_text(encoding="utf-8")))
    # Names built by prefixing (e.g. "ECS_OTEL_" + signal) are not variables of their own.
    used = {name for name in used if not name.endswith("_") and name != "ECS_OTEL"}
    missing = sorted(name for name in used if f"`{name}`" not in text)
    assert not missing, f"ECS_OTEL_* variables read by the code but not in docs/: {missing}"


def test_every_ecs_otel_variable_the_docs_name_exists() -> None:
    """The other direction: a page naming a setting the code does not read (a typo, a removed one) fails."""
    code = "\n".join(p.read_text(encoding="utf-8")
                     for p in [*ROOT.joinpath("ecs_otel").rglob("*.py"), *ROOT.joinpath("sidecar").rglob("*.py")])
    named = {n for text in pages().values() for n in re.findall(r"\bECS_OTEL_[A-Z0-9_]*[A-Z0-9]\b", text)}
    unknown = sorted(n for n in named if n not in code)
    assert not unknown, f"docs/ name ECS_OTEL_* variables the code does not read: {unknown}"


def test_toml_examples_are_valid_configuration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sidecar.__main__ import main
    from sidecar.processors.cardinality._internal.rules import RuleSet

    examples = [(path, m.group(1)) for path, text in pages().items() for m in _TOML.finditer(text)]
    assert len(examples) >= 2
    for i, (path, toml) in enumerate(examples):
        file = tmp_path / f"example-{i}.toml"
        file.write_text(toml, encoding="utf-8")
        assert main(["validate-config", str(file)], env={}) == 0, (path.name, toml, capsys.readouterr())
        # validate-config does not parse cardinality rules; the processor does, at start.
        rules = tomllib.loads(toml).get("processors", {}).get("cardinality", {}).get("rules")
        if rules is not None:
            RuleSet(rules, f"{path.name} example {i}")


def test_container_insights_table_is_the_exporters_mapping() -> None:
    from sidecar.exporters.cloudwatch._internal.container_insights import mapping_table

    assert mapping_table() in DOCS.joinpath("exporters.md").read_text(encoding="utf-8")

