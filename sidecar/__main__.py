"""``ecs-otel-sidecar`` / ``python -m sidecar``: run (default), ``healthcheck``, ``validate-config FILE``.

Exit codes: 0 clean exit (SIGTERM after a flush, healthy, valid), 1 runtime failure
(unhealthy, cannot listen), 2 bad configuration (the message names the key).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from sidecar.config.errors import ConfigError
from sidecar.config.file import CONFIG_ENV, KINDS, build_settings, component_class, load_config, parse_toml
from sidecar.config.settings import SidecarSettings

EXIT_OK, EXIT_RUNTIME, EXIT_CONFIG = 0, 1, 2

_DESCRIPTION = """\
ecs-otel sidecar: receives OTLP (HTTP :4318, gRPC :4317 on 127.0.0.1), runs each signal through
its processors, then exports to one or more backends. Status on 127.0.0.1:13133: /healthz,
/metrics (Prometheus text), / (status page).

Components (names as used in configuration):
  exporters   otlp, xray, cloudwatch, prometheus, debug, file
  processors  enrich       adds the ECS task's attributes the app did not set
              redaction    replaces secrets (password, token, authorization, ...) by [REDACTED]
                           and scrubs credentials out of URLs
              cardinality  bounds series per metric; the excess is folded into an overflow series
  scrapers    ecs_stats    task and container CPU, memory, network and disk from the task metadata

Configuration: ECS_OTEL_SIDECAR_CONFIG (a TOML file path, or TOML text) with [sidecar],
[pipeline], [exporters.<name>], [processors.<name>], [scrapers.<name>] tables; ECS_OTEL_*
environment variables override the file. Exit codes: 0 ok, 1 runtime failure, 2 bad configuration.
"""

_EPILOG = """\
main environment variables:
  ECS_OTEL_TRACES_EXPORTERS   exporters for traces, comma-separated (e.g. otlp,debug)
  ECS_OTEL_METRICS_EXPORTERS  exporters for metrics
  ECS_OTEL_LOGS_EXPORTERS     exporters for logs
  ECS_OTEL_OTLP_ENDPOINT      base URL of the otlp exporter's backend (/v1/<signal> is appended)
  ECS_OTEL_RECEIVER_HOST      address the OTLP receivers listen on (default 127.0.0.1; 0.0.0.0 in bridge mode)
  ECS_OTEL_STATUS_PORT        port of the status server (default 13133)
  ECS_OTEL_SIDECAR_CONFIG     TOML file path or TOML text; ECS_OTEL_* variables win over it

example:
  ECS_OTEL_TRACES_EXPORTERS=otlp ECS_OTEL_OTLP_ENDPOINT=http://collector:4318 ecs-otel-sidecar
  ecs-otel-sidecar validate-config sidecar.toml
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ecs-otel-sidecar", description=_DESCRIPTION, epilog=_EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=_version())
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser(
        "run", help="run the sidecar until SIGTERM/SIGINT (the default command)",
        description="Run the sidecar: listen for OTLP, process and export until SIGTERM/SIGINT, then flush "
        "the queues within ECS_OTEL_SHUTDOWN_TIMEOUT and exit 0.",
    )
    run.add_argument("--ports-file", type=Path,
                     help="write the bound ports as JSON here once listening (useful with port 0)")
    hc = sub.add_parser(
        "healthcheck", help="exit 0 when the running sidecar's /healthz says healthy, else 1",
        description="Query the running sidecar's /healthz (for a task definition's healthCheck, no curl "
        "needed): exit 0 when healthy, 1 when unhealthy or unreachable.",
    )
    hc.add_argument("--url", help="health URL (default: http://127.0.0.1:$ECS_OTEL_STATUS_PORT/healthz)")
    hc.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for an answer (default 3)")
    vc = sub.add_parser(
        "validate-config", help="check a TOML configuration file (plus env overrides); exit 0 or 2",
        description="Load FILE with the same ECS_OTEL_* overrides the sidecar would apply and build every "
        "component it names, without listening; prints what it checked and the pipeline each signal would run "
        "through, and warns about ECS_OTEL_* variables that no setting reads (with the closest name).",
    )
    vc.add_argument("file", type=Path, help="TOML file to check")
    return p


def _version() -> str:
    from ecs_otel import __version__

    return f"ecs-otel-sidecar {__version__} (Python {sys.version.split()[0]})"


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list or (args_list[0].startswith("--") and args_list[0] not in ("-h", "--help", "--version")):
        args_list.insert(0, "run")
    args = _parser().parse_args(args_list)
    environ = dict(os.environ if env is None else env)
    if args.command == "healthcheck":
        from sidecar.status.healthcheck import check, status_url

        return check(status_url(_status_env(environ), args.url), args.timeout)
    if args.command == "validate-config":
        return _validate(args.file, environ)
    return _run(environ, args.ports_file)


def _status_env(env: Mapping[str, str]) -> dict[str, str]:
    """Where the running sidecar's status server is: env, else the config file, else the defaults."""
    out = dict(env)
    try:
        s = load_config(env).sidecar
    except ConfigError:
        return out
    out.setdefault("ECS_OTEL_STATUS_HOST", s.status_host)
    out.setdefault("ECS_OTEL_STATUS_PORT", str(s.status_port))
    return out


def _validate(path: Path, env: Mapping[str, str]) -> int:
    """Check FILE plus the environment as the sidecar would at start-up, without listening.

    Every component the configuration wires is constructed (not started), so a mistake that only a
    component can see (a cardinality rule such as ``frob:x``, an endpoint without a scheme) is
    found here rather than at the next deployment. Unknown ``ECS_OTEL_*`` variables are warnings:
    nothing reads them, so the sidecar would start, but it would not do what they ask.
    """
    from sidecar.config.variables import unknown_variables

    try:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(str(path), "a readable TOML file", exc.strerror) from None
        config = load_config(env, parse_toml(text, str(path)), str(path))
        checked = _check_components(config, env)
        pipeline, notes = _pipeline(config, env)
    except ConfigError as exc:
        print(f"invalid configuration: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    warnings = [u.message() for u in unknown_variables(env)]
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr)
    suffix = f"; {len(warnings)} warning{'s' if len(warnings) != 1 else ''}" if warnings else ""
    print(f"{path}: valid ({', '.join(checked) or 'no components'}{suffix})")
    print("pipeline (receivers -> processors -> exporters):")
    for line in pipeline:
        print(f"  {line}")
    for note in notes:
        print(f"note: {note}")
    return EXIT_OK


def _check_components(config, env: Mapping[str, str]) -> list[str]:  # type: ignore[no-untyped-def]
    """Validate each named component's settings without starting anything."""
    s: SidecarSettings = config.sidecar
    wanted = {("exporters", n) for sig in ("traces", "metrics", "logs") for n in s.exporters_for(sig) or []}
    wanted |= {("processors", n) for sig in ("traces", "metrics", "logs") for n in s.processors_for(sig)}
    wanted |= {(kind, name) for kind in KINDS for name in config.components.get(kind, {})}
    wanted |= {("scrapers", n) for n in (s.scrapers or []) if n.lower() != "none"}
    checked = []
    for kind, name in sorted(wanted):
        cls = component_class(kind, name)
        build_settings(kind, name, cls, config, env)
        checked.append(f"{kind}.{name}")
    return checked


def _pipeline(config, env: Mapping[str, str]) -> tuple[list[str], list[str]]:  # type: ignore[no-untyped-def]
    """Build the sidecar as ``run`` would (construct, never start) and describe each signal's path."""
    from sidecar.app import Sidecar
    from sidecar.aws.region import resolve_region
    from sidecar.otlp.signals import Signal

    notes: list[str] = []
    sidecar = Sidecar(config, env)
    region = resolve_region(config.sidecar.region, env)
    if region is None:
        # On ECS the region comes from the task ARN at start-up; here there is no task to ask.
        region = "us-east-1"
        notes.append("no region configured (sidecar.region, AWS_REGION): on ECS the task ARN's region is used")
    sidecar.context.region = region
    sidecar.build()
    s = config.sidecar
    receivers = [f"otlp_http {s.receiver_host}:{s.otlp_http_port}"]
    if s.otlp_grpc_port >= 0:
        receivers.append(f"otlp_grpc {s.receiver_host}:{s.otlp_grpc_port}")
    scrapers = [sc.name for sc in sidecar.scrapers]
    exporters: dict[Signal, list[str]] = {sig: [] for sig in Signal}
    for queue in sidecar.queues:
        exporters[queue.signal].append(queue.name)
    lines = []
    for sig in Signal:
        sources = receivers + (scrapers if sig is Signal.METRICS else [])
        stages = [", ".join(sources), *sidecar.chain_names[sig], ", ".join(exporters[sig]) or "(no exporter)"]
        lines.append(f"{sig.value:<8} " + " -> ".join(stages))
    return lines, notes


def _run(env: Mapping[str, str], ports_file: Path | None) -> int:
    from sidecar import logs
    from sidecar.app import serve

    try:
        config = load_config(env)
    except ConfigError as exc:
        print(f"ecs-otel-sidecar: invalid configuration: {exc} (see {CONFIG_ENV} and ECS_OTEL_* variables)",
              file=sys.stderr)
        return EXIT_CONFIG
    s = config.sidecar
    logs.configure(s.log_level, s.log_format, s.log_max_bytes, repeat_limit=s.log_repeat_limit,
                   repeat_interval_s=s.log_repeat_interval_s)
    log = logging.getLogger("ecs_otel.sidecar")
    try:
        return asyncio.run(serve(config, env, ports_file))
    except ConfigError as exc:
        log.error("invalid configuration", extra={"key": exc.key, "expected": exc.expected, "error": str(exc)})
        print(f"ecs-otel-sidecar: invalid configuration: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except OSError as exc:
        log.error("cannot start: %s", exc.strerror or exc)
        return EXIT_RUNTIME
    except Exception as exc:
        log.exception("sidecar failed", extra={"error": repr(exc)})
        return EXIT_RUNTIME


if __name__ == "__main__":
    sys.exit(main())
