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
from sidecar.settings import SidecarSettings

EXIT_OK, EXIT_RUNTIME, EXIT_CONFIG = 0, 1, 2

_DESCRIPTION = """\
ecs-otel sidecar: receives OTLP (HTTP :4318, gRPC :4317 on 127.0.0.1), enriches, redacts and
controls cardinality, then exports (otlp, xray, cloudwatch, prometheus, debug, file).
Status on 127.0.0.1:13133: /healthz, /metrics, / (status page).

Configuration: ECS_OTEL_SIDECAR_CONFIG (a TOML file path, or TOML text) with [sidecar],
[pipeline], [exporters.<name>], [processors.<name>], [scrapers.<name>] tables; ECS_OTEL_*
environment variables override the file. Exit codes: 0 ok, 1 runtime failure, 2 bad configuration.
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ecs-otel-sidecar", description=_DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser("run", help="run the sidecar until SIGTERM/SIGINT (the default command)")
    run.add_argument("--ports-file", type=Path,
                     help="write the bound ports as JSON here once listening (useful with port 0)")
    hc = sub.add_parser("healthcheck", help="exit 0 when the running sidecar's /healthz says healthy, else 1")
    hc.add_argument("--url", help="health URL (default: http://127.0.0.1:$ECS_OTEL_STATUS_PORT/healthz)")
    hc.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for an answer (default 3)")
    vc = sub.add_parser("validate-config", help="check a TOML configuration file (plus env overrides); exit 0 or 2")
    vc.add_argument("file", type=Path, help="TOML file to check")
    return p


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list or (args_list[0].startswith("--") and args_list[0] not in ("-h", "--help")):
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
    try:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(str(path), "a readable TOML file", exc.strerror) from None
        config = load_config(env, parse_toml(text, str(path)), str(path))
        checked = _check_components(config, env)
    except ConfigError as exc:
        print(f"invalid configuration: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    print(f"{path}: valid ({', '.join(checked) or 'no components'})")
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
    logs.configure(s.log_level, s.log_format, s.log_max_bytes)
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
