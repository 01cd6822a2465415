"""The one table `make bench` leads with: each issue's target next to what this run measured.

Each suite's rows have their own shape; this module knows where the headline number of each
lives. A suite that did not run (or lacks a peer on this machine) gives ``n/a``, never a guess.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Rows = list[dict[str, Any]]
Line = tuple[str, str, str, str]  # claim, measured, peer, target


def _first(rows: Rows, **match: Any) -> dict[str, Any] | None:
    return next((r for r in rows if all(str(r.get(k, "")).startswith(str(v)) for k, v in match.items())), None)


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}×" if a and b else "n/a"


def logging_lines(rows: Rows) -> list[Line]:
    ours = _first(rows, name="ecs_otel JsonFormatter (orjson")
    pjl = _first(rows, name="python-json-logger")
    text = _first(rows, name="stdlib logging.Formatter")
    if not ours:
        return []
    return [
        ("JSON log records/s vs python-json-logger", f"{ours['records_per_s']:,}",
         f"{pjl['records_per_s']:,}" if pjl else "n/a",
         f"≥ 1.5× — got {_ratio(ours['records_per_s'], pjl and pjl['records_per_s'])}"),
        ("JSON log records/s vs stdlib text formatter", f"{ours['records_per_s']:,}",
         f"{text['records_per_s']:,}" if text else "n/a",
         f"≥ 1.0× — got {_ratio(ours['records_per_s'], text and text['records_per_s'])}"),
    ]


def startup_lines(rows: Rows) -> list[Line]:
    ours = _first(rows, kind="startup", name="import ecs_otel.auto")
    adot = _first(rows, kind="startup", name="opentelemetry-instrument, aws-opentelemetry-distro (same")
    ours_rps = _first(rows, kind="throughput", name="aiohttp app, import ecs_otel.auto")
    adot_rps = _first(rows, kind="throughput", name="aiohttp app, opentelemetry-instrument + ADOT")
    plain_rps = _first(rows, kind="throughput", name="aiohttp app, uninstrumented")
    out: list[Line] = []
    if ours:
        out.append(("start-up to the app's first line (ms) vs ADOT", f"{ours['seconds'] * 1000:.0f}",
                    f"{adot['seconds'] * 1000:.0f}" if adot else "n/a",
                    f"≤ 0.6× — got {_ratio(ours['seconds'], adot and adot['seconds'])}"))
    if ours_rps:
        out.append(("aiohttp requests/s vs ADOT", f"{ours_rps['rps']:.0f}",
                    f"{adot_rps['rps']:.0f}" if adot_rps else "n/a",
                    f"≥ 1.1× — got {_ratio(ours_rps['rps'], adot_rps and adot_rps['rps'])}"))
    if ours_rps and plain_rps:
        added = ours_rps["cpu_us"] - plain_rps["cpu_us"]
        adot_added = f"{adot_rps['cpu_us'] - plain_rps['cpu_us']:.0f} (ADOT)" if adot_rps else "n/a"
        out.append(("aiohttp server CPU µs/request added by instrumentation", f"{added:.0f}", adot_added,
                    f"≤ 100 µs — {'met' if added <= 100 else 'missed'}"))
        for floor, label in (("floor: upstream instrumentor, no SDK", "the upstream instrumentor alone"),
                             ("floor: upstream instrumentor + stock SDK", "instrumentor + stock SDK, nothing exported")):
            row = _first(rows, kind="throughput", name=f"aiohttp app, {floor}")
            if row:
                out.append((f"aiohttp server CPU µs/request added: ecs_otel vs {label}", f"{added:.0f}",
                            f"{row['cpu_us'] - plain_rps['cpu_us']:.0f}", "floor, measured, no target"))
    return out


def sidecar_lines(rows: Rows) -> list[Line]:
    out: list[Line] = []
    chains = (("default chain", "ecs-otel sidecar (default chain", "≥ 1.0×"),
              ("enrichment only", "ecs-otel sidecar (enrich)", "≥ 1.3×"))
    for clients in (1, 2):
        peer = _first(rows, collector="rotel", clients=clients, load="max")
        for label, collector, target in chains:
            ours = _first(rows, collector=collector, clients=clients, load="max")
            if ours:
                out.append((f"sidecar spans per CPU-second vs rotel, {clients} client(s), {label}",
                            f"{ours['spans_per_cpu_s']:,}", f"{peer['spans_per_cpu_s']:,}" if peer else "n/a",
                            f"{target} — got {_ratio(ours['spans_per_cpu_s'], peer and peer['spans_per_cpu_s'])}"))
    paced = _first(rows, collector="ecs-otel sidecar (default chain", load="10,000")
    peer = _first(rows, collector="rotel", load="10,000")
    if paced:
        out.append(("sidecar peak RSS at 10,000 spans/s (MB)", f"{paced['peak_rss_mb']}",
                    f"{peer['peak_rss_mb']}" if peer else "n/a", "≤ 60 MB"))
    return out


def redaction_lines(rows: Rows) -> list[Line]:
    screen = _first(rows, case="processor, clean batch")
    walk = _first(rows, case="full walk")
    if not screen:
        return []
    return [("redaction of a clean 100-span batch (µs): byte screen vs full walk", f"{screen['us']:.0f}",
             f"{walk['us']:.0f}" if walk else "n/a",
             f"measured, no target — got {_ratio(screen['us'], walk and walk['us'])}")]


def cardinality_lines(rows: Rows) -> list[Line]:
    ours = _first(rows, case="distinct")
    base = _first(rows, case="baseline-distinct")
    if not ours:
        return []
    return [("cardinality processor, 1M distinct sets: points per CPU-second (peak MiB)",
             f"{ours['points_per_cpu_s']:,} ({ours['peak_mib']})",
             f"{base['points_per_cpu_s']:,} (naive baseline)" if base else "n/a", "measured, no target")]


def scrape_lines(rows: Rows) -> list[Line]:
    http = _first(rows, step="scrape_once")
    if not http:
        return []
    return [("CPU time of one scrape of a 10-container task (ms)", f"{http['ms']:.1f}", "—", "measured, no target")]


def prometheus_lines(rows: Rows) -> list[Line]:
    cold = _first(rows, name="ecs-otel prometheus", case="render_cold")
    warm = _first(rows, name="ecs-otel prometheus", case="render_warm_1pct")
    peer = _first(rows, name="opentelemetry-exporter-prometheus")
    if not cold:
        return []
    return [("Prometheus scrape of 10,000 series (ms): cold / 1 % changed", f"{cold['ms']} / {warm['ms'] if warm else 'n/a'}",
             f"{peer['ms']}" if peer else "n/a", "a small fraction of a second")]


def app_signals_lines(rows: Rows) -> list[Line]:
    on = _first(rows, name="Application Signals on")
    off = _first(rows, name="Application Signals off")
    if not on:
        return []
    return [("server CPU µs/request, Application Signals on vs off", f"{on['cpu_us']:.0f}",
             f"{off['cpu_us']:.0f}" if off else "n/a",
             f"measured, no target — got {_ratio(on['cpu_us'], off and off['cpu_us'])}")]


EXTRACTORS: dict[str, Callable[[Rows], list[Line]]] = {
    "bench.logging_bench": logging_lines,
    "bench.startup_bench": startup_lines,
    "bench.app_signals_bench": app_signals_lines,
    "bench.sidecar_vs_rotel": sidecar_lines,
    "bench.redaction_bench": redaction_lines,
    "bench.cardinality_bench": cardinality_lines,
    "bench.scrape_bench": scrape_lines,
    "bench.prometheus_bench": prometheus_lines,
}


def table(results: dict[str, Rows]) -> str:
    lines = ["| measure | ecs-otel | peer | target |", "|---|---:|---:|---|"]
    for module, extract in EXTRACTORS.items():
        try:
            found = extract(results.get(module, []))
        except (KeyError, TypeError, ZeroDivisionError):
            found = []
        for claim, ours, peer, target in found:
            lines.append(f"| {claim} | {ours} | {peer} | {target} |")
    return "\n".join(lines)
