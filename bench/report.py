"""What every benchmark module prints the same way: its Markdown table and its command line.

``bench/__main__.py`` gathers the tables into ``bench/RESULTS.md``; each module can also run
alone (``python -m bench.scrape_bench --quick``) and prints the same table.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Sequence
from typing import Any


def markdown_table(columns: Sequence[str], rows: Iterable[Sequence[object]], *, text_columns: int = 1) -> str:
    """The first ``text_columns`` columns are left-aligned (names), the rest right-aligned (numbers)."""
    lines = [
        "| " + " | ".join(columns) + " |",
        "|" + "|".join("---" if i < text_columns else "---:" for i in range(len(columns))) + "|",
    ]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def main(doc: str | None, run: Callable[..., list[dict[str, Any]]], to_markdown: Callable[[list[dict[str, Any]]], str],
         argv: list[str] | None = None, *, quick_help: str = "fewer rounds (smoke run)") -> None:
    """``--quick`` runs a smoke-sized ``run(quick=True)``; the table goes to stdout."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    args = parser.parse_args(argv)
    print(to_markdown(run(quick=args.quick)))
