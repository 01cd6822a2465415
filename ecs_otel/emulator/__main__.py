"""``python -m ecs_otel.emulator``: run a local ECS task metadata endpoint v4."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path
from types import FrameType

from ecs_otel.emulator.faults import DEFAULT_SLOW_DELAY_S, FAULTS, FaultState
from ecs_otel.emulator.fixtures import DEFAULT_FIXTURES_DIR, SCENARIOS, FixtureSource, load_json
from ecs_otel.emulator.server import EmulatorServer
from ecs_otel.emulator.source import DocumentSource
from ecs_otel.emulator.synthetic import SyntheticSource, SyntheticTask

_SCENARIO_LINES = "\n".join(f"  {name:<18} {s.description}" for name, s in SCENARIOS.items())
EPILOG = f"""\
document sources (pick one; --synthesize is the default):
  --synthesize            a task built from this machine: psutil counters that advance
  --scenario NAME         recorded documents from the checkout's tests/fixtures/ecs/
  --task FILE [...]       your own files (FILE#N picks element N of a JSON array)

scenarios:
{_SCENARIO_LINES}

routes (for every container id the emulator serves):
  GET  /v4/<id>  /v4/<id>/task  /v4/<id>/taskWithTags  /v4/<id>/stats  /v4/<id>/task/stats
  GET  /v4/<id>/tasks                      (managed-instances scenario only)
  GET  /__control                          current fault, request counts, URIs of all containers
  POST /__control {{"fault": "hang", "delay_s": 0.5}}   switch the fault at run time (null = healthy)

example:
  python -m ecs_otel.emulator --port 51678 &
  export ECS_CONTAINER_METADATA_URI_V4=http://127.0.0.1:51678/v4/<id printed on start>
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m ecs_otel.emulator",
        description="A local Amazon ECS task metadata endpoint (v4) for development and tests. "
        "On start it prints the ECS_CONTAINER_METADATA_URI_V4 value to export.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    net = p.add_argument_group("listening")
    net.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    net.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one (default: %(default)s)")
    net.add_argument("--port-file", type=Path, help="write the bound port to this file once listening")

    src = p.add_argument_group("documents")
    mode = src.add_mutually_exclusive_group()
    mode.add_argument("--synthesize", action="store_true", help="synthesise a task from this machine (default)")
    mode.add_argument("--scenario", choices=sorted(SCENARIOS), help="serve a recorded fixture scenario")
    mode.add_argument("--task", type=Path, help="task metadata JSON file (the /task document)")
    src.add_argument("--task-stats", type=Path, help="with --task: /task/stats JSON file")
    src.add_argument("--container", type=Path, help="with --task: container JSON file (default: from the task)")
    src.add_argument("--container-stats", type=Path, help="with --task: /stats JSON file (default: from task stats)")
    src.add_argument("--task-with-tags", type=Path, help="with --task: /taskWithTags JSON file")
    src.add_argument("--container-name", help="with --scenario/--task: which container the advertised URI is for")
    src.add_argument("--fixtures-dir", type=Path, default=DEFAULT_FIXTURES_DIR,
                     help="directory holding the scenario fixtures (default: the checkout's tests/fixtures/ecs)")

    syn = p.add_argument_group("synthesised task")
    syn.add_argument("--containers", type=int, default=2, help="number of containers (default: %(default)s)")
    syn.add_argument("--launch-type", choices=["FARGATE", "EC2", "MANAGED_INSTANCES"], default="FARGATE",
                     help="launch type (default: %(default)s)")
    syn.add_argument("--region", default="us-east-1", help="region in the ARNs (default: %(default)s)")
    syn.add_argument("--cluster", default="ecs-otel-local", help="cluster name (default: %(default)s)")
    syn.add_argument("--family", default="ecs-otel-demo", help="task definition family (default: %(default)s)")

    flt = p.add_argument_group("faults")
    flt.add_argument("--fault", choices=FAULTS,
                     help="misbehave from the start: slow (answer after --fault-delay), hang (never answer), "
                     "500, 404, malformed (truncated JSON)")
    flt.add_argument("--fault-delay", type=float,
                     help=f"seconds to wait before answering (default: {DEFAULT_SLOW_DELAY_S} for slow, else 0)")
    p.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return p


def build_source(args: argparse.Namespace, parser: argparse.ArgumentParser) -> DocumentSource:
    explicit = [args.task_stats, args.container, args.container_stats, args.task_with_tags]
    if args.task is None and any(explicit):
        parser.error("--task-stats/--container/--container-stats/--task-with-tags need --task")
    try:
        if args.scenario:
            return FixtureSource.from_scenario(args.scenario, args.fixtures_dir, container_name=args.container_name)
        if args.task:

            def opt(path: Path | None):  # type: ignore[no-untyped-def]
                return None if path is None else load_json(path)

            return FixtureSource(
                load_json(args.task),
                container_name=args.container_name,
                container=opt(args.container),
                task_stats=opt(args.task_stats),
                container_stats=opt(args.container_stats),
                task_with_tags=opt(args.task_with_tags),
            )
        return SyntheticSource(
            SyntheticTask(
                containers=args.containers,
                launch_type=args.launch_type,
                region=args.region,
                cluster=args.cluster,
                family=args.family,
            )
        )
    except (OSError, ValueError, IndexError) as exc:
        parser.error(str(exc))
        raise  # unreachable: parser.error exits


def _write_port(path: Path, port: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(str(port))
    os.replace(tmp, path)  # readers never see a half-written file


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s emulator %(message)s", stream=sys.stderr)
    source = build_source(args, parser)
    try:
        faults = FaultState(args.fault, args.fault_delay)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        server = EmulatorServer(args.host, args.port, source, faults, verbose=args.verbose)
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1

    def _stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    if args.port_file:
        _write_port(args.port_file, server.port)
    print(f"export ECS_CONTAINER_METADATA_URI_V4={server.uri()}", flush=True)
    if args.fault:
        print(f"# fault: {faults.current.name} (delay {faults.current.delay_s}s)", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
