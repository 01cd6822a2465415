"""``make bench``: every benchmark of the project in one run, written as one Markdown document.

Each module exposes ``run(quick) -> rows`` and ``to_markdown(rows)``; peers are measured in the
same run as ecs-otel so that ratios, not absolute numbers, carry the comparison. The document
goes to stdout and to ``bench/RESULTS.md``; docs/benchmarks.md includes that file.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
import time
import traceback
from pathlib import Path

from bench import headline

#: (module, section title) in the order they run.
SUITES: tuple[tuple[str, str], ...] = (
    ("bench.logging_bench", "JSON logging: records/s against python-json-logger, structlog, Powertools, stdlib"),
    ("bench.startup_bench", "Start-up and request overhead against aws-opentelemetry-distro"),
    ("bench.app_signals_bench", "Application Signals: request overhead, on against off"),
    ("bench.sidecar_vs_rotel", "Sidecar against rotel: OTLP/HTTP ingest → OTLP export"),
    ("bench.redaction_bench", "Redaction: the byte screen on a clean batch, against walking it"),
    ("bench.cardinality_bench", "Cardinality processor at 1,000,000 distinct attribute sets"),
    ("bench.scrape_bench", "ECS task stats: CPU time of one scrape"),
    ("bench.prometheus_bench", "Prometheus endpoint: render time of a 10,000-series scrape"),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run, not for the docs)")
    parser.add_argument("--only", nargs="*", help="module names to run (e.g. bench.logging_bench)")
    parser.add_argument("--out", default=str(Path(__file__).with_name("RESULTS.md")))
    args = parser.parse_args(argv)
    cpus = os.cpu_count()
    parts = [
        "# ecs-otel benchmark results",
        "",
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.machine()}, {cpus} CPUs, "
        f"Python {platform.python_version()}{' (quick)' if args.quick else ''}. "
        "Peers run in the same process or the same minute; compare the ratios.",
        "",
    ]
    failed = 0
    results: dict[str, list] = {}
    sections: list[str] = []
    for module_name, title in SUITES:
        if args.only and module_name not in args.only:
            continue
        print(f"== {title}", file=sys.stderr, flush=True)
        sections += [f"## {title}", ""]
        try:
            module = importlib.import_module(module_name)
            started = time.monotonic()
            rows = module.run(quick=args.quick)
            results[module_name] = rows
            sections += [module.to_markdown(rows), "", f"*({time.monotonic() - started:.0f} s)*", ""]
        except Exception:
            failed += 1
            sections += ["```", traceback.format_exc(limit=3).strip(), "```", ""]
    parts += ["## Headline: targets against this run", "", headline.table(results), ""]
    text = "\n".join(parts + sections)
    print(text)
    Path(args.out).write_text(text + "\n", encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
