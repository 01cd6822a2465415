"""The README is the path (what it is, the two commands, install, import, sidecar, task definition) and points
into docs/ for the rest; the reference tables and benchmark numbers it used to carry are checked in
tests/docs/test_site.py, where they moved."""

from __future__ import annotations

import re

from markdown.extensions.toc import slugify

from tests.conftest import ROOT

README = ROOT / "README.md"
_LINK = re.compile(r"\]\(([^)\s]+)\)")


def _headings(text: str) -> set[str]:
    return {slugify(m.group(1).strip(), "-") for m in re.finditer(r"^#{1,6} (.+)$", text, re.M)}


def test_readme_opens_with_the_two_commands() -> None:
    head = README.read_text(encoding="utf-8")[:1500]
    assert "make demo" in head and "make test" in head


def test_readme_is_the_path_and_short() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 200
    order = ["make demo", "## Try it with your own app", "## Install", "## In the app", "## In the task",
             "## The task definition", "## Documentation"]
    positions = [text.index(word) for word in order]
    assert positions == sorted(positions), "the README should follow install → import → sidecar → task definition"


def test_readme_links_into_docs_resolve() -> None:
    text = README.read_text(encoding="utf-8")
    local = [link for link in _LINK.findall(text) if not re.match(r"[a-z]+:", link)]
    assert any(link.startswith("docs/") for link in local)
    for link in local:
        path, _, anchor = link.partition("#")
        target = ROOT / path
        assert target.is_file(), f"README links to {link}, which does not exist"
        if anchor:
            assert anchor in _headings(target.read_text(encoding="utf-8")), f"README links to {link}: no such heading"


def test_install_says_how_until_the_package_is_published() -> None:
    """Issue 19: `pip install ecs-otel` finds nothing yet; the clone and git-URL installs come first."""
    for path in (README, ROOT / "docs" / "getting-started.md"):
        text = path.read_text(encoding="utf-8")
        assert "pip install -e '.[sidecar]'" in text, path
        assert "@ git+https://github.com/<org>/ecs-otel" in text, path
        assert "pip install ecs-otel" in text and "not on a package index" in text, path
        assert "`<org>` is a placeholder" in text, path
        urls = re.findall(r"https://github\.com/[^\s')`]+", text)
        assert urls and all(url.startswith("https://github.com/<org>/ecs-otel") for url in urls), urls


def test_readme_has_a_short_application_signals_section_pointing_to_its_page() -> None:
    """Issue 16: what differs from ADOT + the CloudWatch agent and why, in a few lines, then the docs page."""
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## Application Signals\n")
    end = text.index("\n## ", start + 1)
    section = text[start:end]
    assert len(section.strip().splitlines()) <= 20, "keep it short: the page has the details"
    assert text.index("## The task definition") < start < text.index("## Documentation")
    assert "(docs/application-signals.md)" in section
    assert "OTEL_AWS_APPLICATION_SIGNALS_ENABLED=true" in section and "ECS_OTEL_METRICS_EXPORTERS=cloudwatch" in section
    assert "ADOT" in section and "agent" in section and "why" in section
    for path in re.findall(r"`(examples/[^`]+)`", section):
        assert (ROOT / path).is_file(), path
