"""The summary a person reads at the end of ``make demo``: aligned tables, a trace tree, no tracebacks."""

from __future__ import annotations

import json
import math
import re
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from examples.demo import readout
from examples.demo.run import KEEP_RATE_PER_S, ORDERS_SERIES_LIMIT, DemoRun

WIDTH = max(80, min(shutil.get_terminal_size((100, 24)).columns, 140))
SPARKS = "▁▂▃▄▅▆▇█"
CUSTOM_METRIC = "shop.orders"


def heading(title: str) -> str:
    return f"\n{title}\n{'─' * len(title)}"


def table(head: Sequence[str], rows: Sequence[Sequence[Any]], indent: int = 2) -> str:
    """Columns sized to their content; numbers right-aligned, text left-aligned."""
    cells = [[str(c) for c in head]] + [[_cell(c) for c in row] for row in rows]
    numeric = [all(_is_number(r[i]) for r in cells[1:]) and len(cells) > 1 for i in range(len(head))]
    widths = [max(len(r[i]) for r in cells) for i in range(len(head))]

    def line(row: Sequence[str]) -> str:
        parts = [c.rjust(w) if num else c.ljust(w) for c, w, num in zip(row, widths, numeric, strict=True)]
        return " " * indent + "  ".join(parts).rstrip()

    rule = " " * indent + "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return "–" if math.isnan(v) else f"{v:,.1f}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)


def _is_number(s: str) -> bool:
    return bool(re.fullmatch(r"[–\-+]?[\d,]*\.?\d+( ms| MiB| vCPU| B/s| %)?|–", s))


def sparkline(values: Sequence[float]) -> str:
    if not values:
        return ""
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    return "".join(SPARKS[min(len(SPARKS) - 1, int((v - lo) / span * (len(SPARKS) - 1) + 0.5))] for v in values)


def _cut(text: str, width: int = WIDTH - 4) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


# -- sections ---------------------------------------------------------------------------------------


def requests_section(run: DemoRun) -> str:
    load = run.load
    rows = [[label.rsplit(" ", 1)[0], label.rsplit(" ", 1)[1], n] for label, n in sorted(load.by_status.items())]
    rate = load.requests / load.seconds if load.seconds else 0.0
    return "\n".join([heading(f"Load: {load.requests:,} requests in {load.seconds:.1f} s ({rate:.0f}/s)"),
                      table(["request", "status", "count"], rows)])


def routes_section(spans: list[readout.Span]) -> str:
    rows = [[r.route, r.count, r.errors, f"{r.p50_ms:.1f} ms", f"{r.p95_ms:.1f} ms", f"{r.max_ms:.1f} ms"]
            for r in readout.route_stats(spans)]
    if not rows:
        return heading("Spans per route") + "\n  (no server spans reached the sidecar)"
    services = sorted({s.service for s in spans})
    title = f"Spans per route ({len(spans):,} spans from {', '.join(services)})"
    return "\n".join([heading(title), table(["route", "spans", "5xx", "p50", "p95", "max"], rows)])


def _ms(v: float) -> str:
    return "–" if math.isnan(v) else f"{v:.1f} ms"


def _bound(v: float) -> str:
    return "–" if math.isnan(v) else ("> 60 s" if math.isinf(v) else f"≤ {v:g} ms")


def served(run: DemoRun) -> int:
    """Requests the shop answered (any HTTP status; a connection error was not served)."""
    return sum(n for label, n in run.load.by_status.items() if not label.endswith(" error"))


def app_signals_section(run: DemoRun, rows: list[readout.RedRow], spans: list[readout.Span]) -> str:
    """Per operation and per dependency RED from the Application Signals metrics, set against the spans."""
    entries = [r for r in rows if r.is_entry]
    calls = [r for r in rows if not r.is_entry]
    if not entries:
        return heading("Application Signals") + "\n  (no Application Signals metrics in the output)"
    versions = sorted({r.version for r in entries if r.version})
    service = ", ".join(sorted({r.service for r in entries}))
    title = (f"Application Signals: {service}" + (f" version {', '.join(versions)}" if versions else "")
             + " (Latency, Error, Fault from every request)")
    lines = [heading(title),
             table(["operation", "calls", "avg", "p95", "4xx", "5xx"],
                   [[r.operation, r.calls, _ms(r.avg_ms), _bound(r.p95_bound_ms()), r.errors, r.faults]
                    for r in entries])]
    if calls:
        lines.append("")
        lines.append(table(["operation", "dependency", "remote operation", "target", "calls", "avg", "p95",
                            "4xx", "5xx"],
                           [[r.operation, r.remote_service, r.remote_operation, _cut(r.remote_target, 28) or "–",
                             r.calls, _ms(r.avg_ms), _bound(r.p95_bound_ms()), r.errors, r.faults]
                            for r in calls]))
    counted = sum(r.calls for r in entries)
    sampled = sum(1 for s in spans if s.kind == readout.SERVER)
    answered = served(run)
    verdict = "=" if counted == answered else "≠"
    lines.append(f"\n  Counted {counted:,} requests in the metrics {verdict} {answered:,} served by the shop; the "
                 f"sampler (parentbased_traceidratio {run.trace_ratio:g})\n  exported {sampled:,} of them as "
                 "traces. Sampling cuts the spans, never the counts.")
    return "\n".join(lines)


def _describe(span: readout.Span) -> str:
    a = span.attributes
    detail = ""
    if span.kind == readout.CLIENT:
        if a.get("rpc.system") == "aws-api":
            tables = a.get("aws.dynamodb.table_names")
            detail = f"aws {a.get('rpc.service', '')}" + (f" table={','.join(tables)}" if tables else "")
        else:
            url = a.get("url.full") or a.get("http.url") or ""
            detail = str(url)
    status = readout.http_status(span)
    if status:
        detail = f"{detail} → {status}".strip()
    return detail


def trace_section(spans: list[readout.Span]) -> str:
    root = readout.sample_trace(spans)
    if root is None:
        return heading("Sample trace") + "\n  (no complete trace in the output)"
    trace_id = root.span.trace_id
    lines = [heading(f"Sample trace {trace_id} (X-Ray 1-{trace_id[:8]}-{trace_id[8:]})")]
    t0 = root.span.start_ns

    def walk(node: readout.TreeNode, prefix: str, last: bool, top: bool) -> None:
        s = node.span
        branch = "" if top else ("└─ " if last else "├─ ")
        label = f"{prefix}{branch}{s.name} [{readout.KINDS.get(s.kind, s.kind)}]"
        offset = (s.start_ns - t0) / 1e6
        lines.append(f"  {label:<52} {s.ms:7.1f} ms  +{offset:5.1f} ms  {_cut(_describe(s), 46)}".rstrip())
        child_prefix = prefix + ("" if top else ("   " if last else "│  "))
        for i, child in enumerate(node.children):
            walk(child, child_prefix, i == len(node.children) - 1, False)

    walk(root, "", True, True)
    return "\n".join(lines)


def _self_metric_total(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and (line[len(name):len(name) + 1] in ("{", " ")):
            try:
                total += float(line.rsplit(" ", 1)[1])
            except ValueError:
                pass
    return total


def cardinality_section(run: DemoRun, series: dict[str, readout.MetricSeries]) -> str:
    before_orders = len(run.load.order_series)
    rows = []
    for name in sorted(series, key=lambda n: (n != CUSTOM_METRIC, n)):
        entry = series[name]
        after = len(entry.series)
        before: int | str = before_orders if name == CUSTOM_METRIC else (after if not entry.overflow else "?")
        note = f"overflow series (limit {ORDERS_SERIES_LIMIT})" if entry.overflow else ""
        rows.append([name, before, after, note])
    overflow_points = _self_metric_total(run.self_metrics, "ecs_otel_sidecar_cardinality_overflow_points_total")
    live = _self_metric_total(run.self_metrics, "ecs_otel_sidecar_cardinality_series_total")
    lines = [heading("Metric series before and after the sidecar's cardinality control"),
             table(["metric (from the shop)", "series in", "series out", ""], rows)]
    lines.append(f"\n  {CUSTOM_METRIC} carries user.id on purpose: {len(run.load.users):,} users, "
                 f"{before_orders:,} attribute sets in the app.")
    lines.append(f"  The sidecar folded {int(overflow_points):,} points of the excess series into one series with "
                 "otel.metric.overflow=true;\n  metrics under their limit passed unchanged.")
    if live:
        lines.append(f"  Live series over all metrics at the end (/metrics): {int(live):,}.")
    top = (run.cardinality or {}).get("top") or []
    if top:
        lines.append("  /cardinality top: " + ", ".join(
            f"{t['metric']} {t['series']}/{t['limit']}" + (" overflowing" if t.get("overflowing") else "")
            for t in top[:4]))
    return "\n".join(lines)


def stats_section(run: DemoRun) -> str:
    stats = readout.ecs_stats(run.out_dir)
    if not stats:
        return heading("ECS task stats") + "\n  (no ECS stats in the output: did the ecs_stats scraper run?)"
    def last(who: str, metric: str) -> float:
        samples = stats.get((who, metric))
        return samples[-1].value if samples else math.nan

    containers = sorted({who for who, _ in stats if who != "task"})
    rows = []
    for who in [*containers, "task"]:
        prefix = "ecs.task" if who == "task" else "container"
        rows.append([
            who if who != "task" else "task (total)",
            f"{last(who, prefix + '.cpu.usage.vcpu'):.3f} vCPU",
            f"{last(who, prefix + '.memory.utilized'):.1f} MiB",
            f"{last(who, prefix + '.network.rate.rx'):,.0f} B/s",
            f"{last(who, prefix + '.network.rate.tx'):,.0f} B/s",
        ])
    scrapes = len(stats.get(("task", "ecs.task.memory.utilized"), []))
    cpu = [s.value for s in stats.get(("task", "ecs.task.cpu.usage.vcpu"), [])]
    mem = [s.value for s in stats.get(("task", "ecs.task.memory.utilized"), [])]
    lines = [heading(f"ECS task stats (ecs_stats scraper, {scrapes} scrapes, latest values)"),
             table(["container", "CPU", "memory", "net rx", "net tx"], rows)]
    if len(cpu) > 1:
        lines.append(f"\n  task CPU    {sparkline(cpu)}  {min(cpu):.3f} … {max(cpu):.3f} vCPU")
    if len(mem) > 1:
        lines.append(f"  task memory {sparkline(mem)}  {min(mem):.1f} … {max(mem):.1f} MiB")
    return "\n".join(lines)


def logs_section(run: DemoRun) -> str:
    path = run.out_dir / "logs" / "shop.stdout.log"
    newest = readout.newest_json_lines(path, 3)
    exported = readout.log_record_count(run.out_dir)
    lines = [heading(f"Newest app log lines (JSON on stdout; {exported:,} records also exported over OTLP)")]
    lines += [f"  {json.dumps(obj, separators=(',', ':'))}" for obj in newest] or ["  (no JSON log lines)"]
    return "\n".join(lines)


def pipeline_section(run: DemoRun) -> str:
    rows = []
    for q in run.final_counts:
        dropped = sum((q.get("dropped") or {}).values())
        rows.append([q["signal"], q["exporter"], q["received"], q["exported"], dropped, q["queued"]])
    title = "its counts now" if run.live else "its final counts, after the flush"
    lines = [heading(f"Sidecar pipeline ({title})")]
    if rows:
        lines.append(table(["signal", "exporter", "received", "exported", "dropped", "queued"], rows))
    else:
        lines.append("  (the sidecar did not log its final counts; see demo-output/logs/sidecar.stderr.log)")
    if run.prometheus_text:
        series = [line for line in run.prometheus_text.splitlines() if line and not line.startswith("#")]
        orders = sum(1 for line in series if line.startswith("shop_orders"))
        lines.append(f"\n  {endpoint('Prometheus scrape endpoint', run.prometheus_url, run.live)}")
        lines.append(f"  its scrape: {len(series):,} samples, {orders} of them shop_orders*; saved as "
                     "demo-output/prometheus.prom")
    where = "the default port" if run.status_port_is_default else "13133 was taken, so a free port"
    lines.append(f"\n  {endpoint('status page', run.status_url, run.live)}  ({where})")
    if not run.live:
        lines.append("  DEMO_KEEP=1 make demo (or DEMO_SECONDS=0) keeps everything up until Ctrl-C")
    return "\n".join(lines)


def endpoint(label: str, url: str, live: bool) -> str:
    """A URL as the truth stands when the line is printed: live only while its server runs."""
    return f"{label}: {url}" if live else f"{label} was at {url} (stopped)"


def keep_banner(run: DemoRun) -> str:
    """What the keep-running mode prints after its summary: the URLs that answer now, and how to stop."""
    rows = [["status page", run.status_url], ["shop", run.shop_url + "/products/sku-mug"]]
    if run.prometheus_url:
        rows.append(["Prometheus", run.prometheus_url])
    width = max(len(r[0]) for r in rows) + 1
    return "\n".join([
        heading("Still running: press Ctrl-C to stop"),
        f"  Everything stays up under a gentle load ({KEEP_RATE_PER_S:.0f} requests/s) so the status page moves:",
        *(f"  {(name + ':').ljust(width)} {url}" for name, url in rows),
    ])


def files_section(out_dir: Path) -> str:
    rows = []
    for path in sorted(out_dir.glob("*.jsonl*")) + sorted((out_dir / "logs").glob("*.log")) + sorted(
            out_dir.glob("*.json")) + sorted(out_dir.glob("*.prom")):
        rows.append([str(path.relative_to(out_dir.parent)), f"{path.stat().st_size:,}"])
    return "\n".join([heading("Output files (left in place)"), table(["file", "bytes"], rows)])


def _safely(title: str, build: Callable[[], str]) -> str:
    """A section, or one line saying why it could not be built: the summary never ends in a traceback."""
    try:
        return build()
    except Exception as exc:  # a malformed file or a half-written output must not hide the other sections
        return f"{heading(title)}\n  (could not summarise: {type(exc).__name__}: {exc})"


def render(run: DemoRun) -> str:
    try:
        spans = readout.spans(run.out_dir)
    except Exception:
        spans = []
    service = spans[0].service if spans else "ecs-otel-demo"
    parts = [
        _safely("Load", lambda: requests_section(run)),
        _safely("Application Signals", lambda: app_signals_section(run, readout.app_signals(run.out_dir), spans)),
        _safely("Spans per route", lambda: routes_section(spans)),
        _safely("Sample trace", lambda: trace_section(spans)),
        _safely("Metric series", lambda: cardinality_section(run, readout.metric_series(run.out_dir, service))),
        _safely("ECS task stats", lambda: stats_section(run)),
        _safely("Newest app log lines", lambda: logs_section(run)),
        _safely("Sidecar pipeline", lambda: pipeline_section(run)),
        _safely("Output files", lambda: files_section(run.out_dir)),
        (f"\nSummary after {run.seconds:.1f} s; the demo's processes (pids "
         f"{', '.join(str(p) for p in run.pids.values())}) are still running." if run.live else
         f"\nDone in {run.seconds:.1f} s; every process the demo started (pids "
         f"{', '.join(str(p) for p in run.pids.values())}) has exited."),
    ]
    return "\n".join(parts)
