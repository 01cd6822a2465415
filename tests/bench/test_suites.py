"""`make bench` imports every suite and calls run() and to_markdown(): keep that contract importable."""

from __future__ import annotations

import importlib

import pytest

from bench.__main__ import SUITES
from bench.headline import EXTRACTORS


@pytest.mark.parametrize("module_name", [m for m, _ in SUITES])
def test_every_suite_exposes_run_and_to_markdown(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert callable(module.run) and callable(module.to_markdown)


def test_headline_covers_every_suite() -> None:
    assert set(EXTRACTORS) == {m for m, _ in SUITES}
