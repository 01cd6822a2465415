"""The README's configuration reference is generated from the settings declarations; it must not drift."""

from __future__ import annotations

import re

from sidecar.config import reference
from tests.conftest import ROOT

README = ROOT / "README.md"


def test_config_reference_matches_the_code() -> None:
    text = README.read_text(encoding="utf-8")
    start, end = text.index(reference.BEGIN), text.index(reference.END) + len(reference.END)
    assert text[start:end] == reference.render(), (
        "README configuration reference is stale: run `python -m sidecar.config.reference --write README.md`"
    )


def test_every_ecs_otel_variable_in_the_code_is_documented() -> None:
    text = README.read_text(encoding="utf-8")
    used: set[str] = set()
    for path in [*ROOT.joinpath("ecs_otel").rglob("*.py"), *ROOT.joinpath("sidecar").rglob("*.py")]:
        used |= set(re.findall(r"\bECS_OTEL_[A-Z0-9_]*[A-Z0-9]\b", path.read_text(encoding="utf-8")))
    # Names built by prefixing (e.g. "ECS_OTEL_" + signal) are not variables of their own.
    used = {name for name in used if not name.endswith("_") and name != "ECS_OTEL"}
    missing = sorted(name for name in used if f"`{name}`" not in text)
    assert not missing, f"ECS_OTEL_* variables read by the code but not in the README: {missing}"


def test_readme_opens_with_the_two_commands() -> None:
    head = README.read_text(encoding="utf-8")[:1500]
    assert "make demo" in head and "make test" in head


def test_benchmark_tables_are_the_ones_make_bench_wrote() -> None:
    """Issue 9: the README's numbers come from bench/RESULTS.md; a re-run of `make bench` must be copied over."""
    text = README.read_text(encoding="utf-8")
    begin, end = "<!-- BEGIN bench -->", "<!-- END bench -->"
    block = text[text.index(begin) + len(begin):text.index(end)].strip("\n")
    results = ROOT.joinpath("bench", "RESULTS.md").read_text(encoding="utf-8")
    body = results.split("\n", 1)[1].strip("\n")  # without the document's title
    body = "\n".join("#" + line if line.startswith("## ") else line for line in body.splitlines())
    assert block.startswith(body), "README benchmark section differs from bench/RESULTS.md: copy the new run over"
