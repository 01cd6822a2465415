"""Wiring and lifecycle: configuration in, a running pipeline out, and a clean flush on SIGTERM.

Start order follows the data backwards (exporters, queues, processors, receivers, then
scrapers) so nothing is accepted before there is somewhere to put it; stop order follows it
forwards (stop accepting, drain processors, flush queues within the shutdown budget, close
exporters) so nothing accepted is silently lost: what cannot be sent in time is counted.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import signal as signals
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import psutil

from sidecar.config.errors import ConfigError
from sidecar.config.file import SidecarConfig, build_settings, component_class, setting_key
from sidecar.config.settings import SidecarSettings
from sidecar.context import DEFAULT_SERIES_EXPIRY_S, SidecarContext
from sidecar.otlp.signals import Signal
from sidecar.pipeline.consumer import Consumer
from sidecar.pipeline.exporter import Exporter
from sidecar.pipeline.fanout import FanOut
from sidecar.pipeline.health import ExporterHealth
from sidecar.pipeline.memory import MemoryBudget, default_limit_bytes
from sidecar.pipeline.processor import Processor
from sidecar.pipeline.queue import LATENCY, ExporterQueue
from sidecar.pipeline.stage import BATCHES, DURATION, stage
from sidecar.pipeline.telemetry import Histogram, Metric
from sidecar.receivers.auth import BearerToken
from sidecar.receivers.base import Receiver
from sidecar.receivers.ingest import ACCEPTED, REFUSED, REQUESTS, Ingest
from sidecar.receivers.otlp_http import OtlpHttpReceiver
from sidecar.status.server import StatusServer

log = logging.getLogger("ecs_otel.sidecar")

VERSION = "0.1.0"
METADATA_ENV = "ECS_CONTAINER_METADATA_URI_V4"


class _ScraperIngest:
    """The consumer a scraper holds: counted like a receiver, then the head of the metrics chain."""

    def __init__(self, ingest: Ingest) -> None:
        self.ingest = ingest

    async def consume(self, signal: Signal, batch: Any) -> None:
        await self.ingest.deliver(signal, batch, batch.ByteSize())


class Sidecar:
    def __init__(self, config: SidecarConfig, env: Mapping[str, str], ports_file: Path | None = None) -> None:
        self.config = config
        self.env = env
        self.ports_file = ports_file
        self.context = SidecarContext(env=dict(env), logger=log)
        self.telemetry = self.context.telemetry
        self.started_at = time.time()
        self.exporters: dict[str, Exporter] = {}
        self.health_of: dict[str, ExporterHealth] = {}
        self.queues: list[ExporterQueue] = []
        self.processors: list[Any] = []
        self.chains: dict[Signal, Consumer] = {}
        self.chain_names: dict[Signal, list[str]] = {}
        self.scrapers: list[Any] = []
        self._scraper_tasks: list[asyncio.Task[None]] = []
        self.receivers: list[Receiver] = []
        self.budget: MemoryBudget | None = None
        self.status_server: StatusServer | None = None
        self._process = psutil.Process()
        self._stopping = False

    # -- building ---------------------------------------------------------------------------------

    async def resolve_environment(self) -> None:
        """Task attributes and region into the context; outside ECS (or on any error) they stay empty."""
        task = await _load_task(self.env)
        if task is not None:
            self.context.task_attributes = _task_attributes(task)
        self.context.region = resolve_region(self.config.sidecar.region, self.env, self.context.task_attributes, task)
        limit_mib = self.config.pipeline.memory_limit_mib
        self.budget = MemoryBudget(limit_mib * 1024 * 1024 if limit_mib else default_limit_bytes(_task_memory(task)))

    def build(self) -> None:
        """Instantiate every component the configuration names; any mistake is a ConfigError (exit 2)."""
        if self.budget is None:
            limit_mib = self.config.pipeline.memory_limit_mib
            self.budget = MemoryBudget(limit_mib * 1024 * 1024 if limit_mib else default_limit_bytes())
        s = self.config.sidecar
        self.context.series_expiry_s = self._series_expiry_s()
        # One instance per processor name, shared by every signal it handles: a processor's state
        # (the cardinality report, caches) must not be split or overwritten by a second copy.
        instances: dict[str, Any] = {}
        for signal in Signal:
            queues: list[ExporterQueue] = []
            configured = s.exporters_for(signal.value)
            for name in self._default_exporters() if configured is None else configured:
                exporter = self._exporter(name)
                if signal not in getattr(exporter, "signals", frozenset(Signal)):
                    key = setting_key(SidecarSettings, "sidecar", f"{signal.value}_exporters", self.env)
                    raise ConfigError(key, f"exporters that handle {signal.value}", name)
                queues.append(ExporterQueue(exporter, name, signal, self.config.pipeline, self.telemetry,
                                            self.budget, self.health_of[name]))
            self.queues.extend(queues)
            head: Consumer = FanOut(signal, queues, self.budget, self.telemetry)
            names: list[str] = []
            for name in reversed(s.processors_for(signal.value)):
                cls = component_class("processors", name)
                wanted = getattr(cls, "signals", None)
                if wanted is not None and signal not in wanted:
                    continue
                # A processor with its own consume() follows ``.next`` itself, so it needs one copy per chain.
                shared = getattr(cls, "consume", None) is Processor.consume
                proc = instances.get(name) if shared else None
                if proc is None:
                    proc = cls(build_settings("processors", name, cls, self.config, self.env), self.context)
                    self.processors.append(proc)
                    if shared:
                        instances[name] = proc
                head = stage(name, proc, signal, head, self.telemetry)
                names.insert(0, name)
            self.chains[signal] = head
            self.chain_names[signal] = names
        for name in self._scraper_names():
            cls = component_class("scrapers", name)
            scraper = cls(build_settings("scrapers", name, cls, self.config, self.env), self.context)
            scraper.consumer = _ScraperIngest(Ingest(f"scraper_{name}", {Signal.METRICS: self.chains[Signal.METRICS]},
                                                     self.telemetry))
            self.scrapers.append(scraper)
        self._validate_unused_sections()
        token = BearerToken(s.receiver_token)
        max_items = self.config.pipeline.queue_max_items  # a request bigger than a queue could never fit
        self.receivers.append(OtlpHttpReceiver(Ingest("otlp_http", self.chains, self.telemetry, max_items=max_items,
                                                      budget=self.budget), host=s.receiver_host,
                                               port=s.otlp_http_port, max_body_bytes=s.max_request_bytes, token=token))
        if s.otlp_grpc_port >= 0:
            from sidecar.receivers.otlp_grpc import OtlpGrpcReceiver  # grpc costs ~10 MB: only when enabled

            self.receivers.append(OtlpGrpcReceiver(Ingest("otlp_grpc", self.chains, self.telemetry,
                                                          max_items=max_items, budget=self.budget),
                                                   host=s.receiver_host, port=s.otlp_grpc_port,
                                                   max_body_bytes=s.max_request_bytes, token=token))
        self.telemetry.on_collect(self._collect)

    def _series_expiry_s(self) -> float:
        """The cardinality processor's configured expiry (TOML or env), which every series keeper shares."""
        cls = component_class("processors", "cardinality")
        expiry = getattr(build_settings("processors", "cardinality", cls, self.config, self.env), "expiry_s", None)
        return float(expiry) if expiry else DEFAULT_SERIES_EXPIRY_S

    def _validate_unused_sections(self) -> None:
        """A typo in the table of a component that is not wired in yet must still stop the start."""
        used = {("exporters", n) for n in self.exporters} | {("scrapers", n) for n in self._scraper_names()}
        used |= {("processors", n) for names in self.chain_names.values() for n in names}
        for kind, sections in self.config.components.items():
            for name in sections:
                if (kind, name) not in used:
                    build_settings(kind, name, component_class(kind, name), self.config, self.env)

    def _default_exporters(self) -> list[str]:
        return ["otlp"] if self.env.get("ECS_OTEL_OTLP_ENDPOINT") else ["debug"]

    def _scraper_names(self) -> list[str]:
        names = self.config.sidecar.scrapers
        if names is None:
            return ["ecs_stats"] if self.env.get(METADATA_ENV) else []
        return [n for n in names if n.lower() != "none"]

    def _exporter(self, name: str) -> Exporter:
        if name not in self.exporters:
            cls = component_class("exporters", name)
            self.exporters[name] = cls(build_settings("exporters", name, cls, self.config, self.env), self.context)
            self.health_of[name] = ExporterHealth(name)
        return self.exporters[name]

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        for exporter in self.exporters.values():
            await exporter.start()
        for queue in self.queues:
            queue.start()
        for proc in self.processors:
            start = getattr(proc, "start", None)
            if start is not None:
                await start()
        for receiver in self.receivers:
            await receiver.start()
        s = self.config.sidecar
        self.status_server = StatusServer(self, s.status_host, s.status_port)
        await self.status_server.start()
        for scraper in self.scrapers:
            self._scraper_tasks.append(asyncio.create_task(self._run_scraper(scraper), name=f"scraper-{scraper.name}"))
        ports = self.ports()
        if self.ports_file is not None:
            tmp = self.ports_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(ports))
            os.replace(tmp, self.ports_file)
        log.info("sidecar started", extra={
            "ports": ports, "config_source": self.config.source, "region": self.context.region,
            "pipeline": {sig.value: {"processors": self.chain_names[sig],
                                     "exporters": [q.name for q in self.queues if q.signal is sig]} for sig in Signal},
            "scrapers": [sc.name for sc in self.scrapers], "memory_limit_bytes": self.budget.limit_bytes if self.budget
            else None, "auth": "bearer" if s.receiver_token else "none",
        })

    async def _run_scraper(self, scraper: Any) -> None:
        try:
            await scraper.run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("scraper stopped", extra={"scraper": getattr(scraper, "name", "?")})

    def ports(self) -> dict[str, int | None]:
        out: dict[str, int | None] = {"otlp_http": None, "otlp_grpc": None, "pid": os.getpid()}
        for receiver in self.receivers:
            out[receiver.name] = receiver.port
        out["status"] = self.status_server.port if self.status_server else None
        return out

    async def stop(self) -> None:
        """Stop accepting, flush within the shutdown budget, close exporters, log the final counts."""
        if self._stopping:
            return
        self._stopping = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.sidecar.shutdown_timeout_s
        log.info("sidecar stopping", extra={"flush_budget_s": self.config.sidecar.shutdown_timeout_s,
                                             "queued_items": sum(q.queued_items for q in self.queues)})
        for task in self._scraper_tasks:
            task.cancel()
        for scraper in self.scrapers:
            await _bounded(scraper.shutdown(deadline), deadline, loop)
        await asyncio.gather(*(r.stop() for r in self.receivers), return_exceptions=True)
        for proc in self.processors:
            shutdown = getattr(proc, "shutdown", None)
            if shutdown is not None:
                await _bounded(shutdown(deadline), deadline, loop)
        # Leave a little of the budget for closing exporters.
        flush_deadline = deadline - min(1.0, self.config.sidecar.shutdown_timeout_s / 10)
        await asyncio.gather(*(q.close(flush_deadline) for q in self.queues))
        for name, exporter in self.exporters.items():
            try:
                await _bounded(exporter.shutdown(deadline), deadline + 0.5, loop)
            except Exception:
                log.exception("exporter shutdown failed", extra={"exporter": name})
        log.info("sidecar stopped", extra={"final_counts": [
            {k: q.snapshot()[k] for k in ("exporter", "signal", "received", "exported", "dropped", "queued")}
            for q in self.queues]})
        if self.status_server is not None:
            await self.status_server.stop()

    # -- status -----------------------------------------------------------------------------------

    def health(self) -> tuple[bool, list[str]]:
        reasons = [f"receiver {r.name} is not listening" for r in self.receivers if not r.listening]
        for name, h in self.health_of.items():
            if h.failed_persistently():
                reasons.append(f"exporter {name} failed every attempt in the last 60 s ({h.last_error})")
        if self._stopping:
            reasons.append("shutting down")
        return not reasons, reasons

    def component_status(self, key: str) -> Any:
        return self.context.status.get(key)

    def snapshot(self) -> dict[str, Any]:
        ok, reasons = self.health()
        latency = self.telemetry.find(LATENCY)
        queues = []
        for q in self.queues:
            snap = q.snapshot()
            labels = {"signal": q.signal.value, "exporter": q.name}
            snap["latency"] = ({"p50": latency.quantile(0.5, **labels), "p99": latency.quantile(0.99, **labels)}
                               if isinstance(latency, Histogram) else {"p50": None, "p99": None})
            snap["failed_persistently"] = self.health_of[q.name].failed_persistently()
            queues.append(snap)
        requests = self.telemetry.counter(REQUESTS, "", ("receiver", "signal", "outcome"))
        accepted = self.telemetry.counter(ACCEPTED, "", ("receiver", "signal"))
        refused = self.telemetry.counter(REFUSED, "", ("receiver", "signal", "reason"))
        receiver_names = [r.name for r in self.receivers] + [f"scraper_{sc.name}" for sc in self.scrapers]
        receivers = []
        for rname in receiver_names:
            for sig in Signal:
                by_outcome = {k[2]: v for k, v in requests.values.items() if k[0] == rname and k[1] == sig.value}
                receivers.append({"receiver": rname, "signal": sig.value,
                                  "accepted": accepted.get(receiver=rname, signal=sig.value),
                                  "refused": refused.total(receiver=rname, signal=sig.value),
                                  "requests": by_outcome})
        duration = self.telemetry.find(DURATION)
        batches = self.telemetry.find(BATCHES)
        processors = []
        for sig in Signal:
            for name in self.chain_names.get(sig, []):
                labels = {"signal": sig.value, "processor": name}
                processors.append({
                    "processor": name, "signal": sig.value,
                    "batches": batches.get(**labels) if isinstance(batches, Metric) else 0,
                    "duration": {"p50": duration.quantile(0.5, **labels), "p99": duration.quantile(0.99, **labels)}
                    if isinstance(duration, Histogram) else {"p50": None, "p99": None},
                })
        cpu = self._process.cpu_times()
        return {
            "version": VERSION,
            "uptime_s": time.time() - self.started_at,
            "health": {"healthy": ok, "reasons": reasons},
            "region": self.context.region,
            "task_attributes": self.context.task_attributes,
            "ports": self.ports(),
            "pipeline": {sig.value: {"receivers": receiver_names if sig is Signal.METRICS else
                                     [r.name for r in self.receivers],
                                     "processors": self.chain_names.get(sig, []),
                                     "exporters": [q.name for q in self.queues if q.signal is sig]}
                         for sig in Signal},
            "receivers": receivers,
            "processors": processors,
            "queues": queues,
            "process": {"rss_bytes": self._process.memory_info().rss,
                        "cpu_seconds": cpu.user + cpu.system,
                        "memory_limit_bytes": self.budget.limit_bytes if self.budget else 0,
                        "queued_bytes": self.budget.queued_bytes if self.budget else 0},
            "components": self.context.status,
        }

    def _collect(self) -> None:
        t = self.telemetry
        cpu = self._process.cpu_times()
        t.counter("ecs_otel_sidecar_process_cpu_seconds_total", "CPU time of the sidecar process.").set(
            cpu.user + cpu.system)
        t.gauge("ecs_otel_sidecar_process_resident_memory_bytes", "Resident memory of the sidecar process.").set(
            self._process.memory_info().rss)
        if self.budget is not None:
            t.gauge("ecs_otel_sidecar_memory_limit_bytes", "Memory limit above which receivers refuse data.").set(
                self.budget.limit_bytes)
            t.gauge("ecs_otel_sidecar_queued_bytes", "Encoded bytes queued across every exporter.").set(
                self.budget.queued_bytes)
        t.gauge("ecs_otel_sidecar_uptime_seconds", "Seconds since the sidecar started.").set(
            round(time.time() - self.started_at, 3))
        up = t.gauge("ecs_otel_sidecar_exporter_up", "0 when the exporter failed every attempt in the last 60 s.",
                     ("exporter",))
        for name, h in self.health_of.items():
            up.set(0 if h.failed_persistently() else 1, exporter=name)
        listening = t.gauge("ecs_otel_sidecar_receiver_up", "1 while the receiver is listening.", ("receiver",))
        for r in self.receivers:
            listening.set(1 if r.listening else 0, receiver=r.name)


async def _bounded(awaitable: Any, deadline: float, loop: asyncio.AbstractEventLoop) -> None:
    try:
        await asyncio.wait_for(awaitable, timeout=max(0.05, deadline - loop.time()))
    except TimeoutError:
        log.warning("shutdown step ran out of time")
    except Exception:
        log.exception("shutdown step failed")


# -- environment resolution (ECS metadata, region) ----------------------------------------------------


async def _load_task(env: Mapping[str, str]) -> Any:
    """The task metadata document through ``ecs_otel.metadata``, or None outside ECS or on any error."""
    if not env.get(METADATA_ENV):
        return None
    try:
        from ecs_otel import metadata
    except ImportError:
        log.debug("ecs_otel.metadata not available; running without task attributes")
        return None
    try:
        factory = metadata.MetadataClient.from_environment
        client = factory(env) if _accepts_argument(factory) else factory()
        if client is None:
            return None
        fetch = getattr(client, "task", None) or getattr(client, "fetch_task", None)
        if fetch is None:
            return None
        result = await asyncio.to_thread(fetch) if not inspect.iscoroutinefunction(fetch) else await fetch()
        if inspect.isawaitable(result):
            result = await result
        return result
    except Exception as exc:
        log.warning("cannot read task metadata; continuing without task attributes", extra={"error": repr(exc)})
        return None


def _accepts_argument(fn: Any) -> bool:
    try:
        return len(inspect.signature(fn).parameters) >= 1
    except (TypeError, ValueError):
        return False


def _task_attributes(task: Any) -> dict[str, Any]:
    try:
        from ecs_otel.resource import task_attributes
    except ImportError:
        return {}
    try:
        return dict(task_attributes(task))
    except Exception as exc:
        log.warning("cannot map task metadata to attributes", extra={"error": repr(exc)})
        return {}


def _task_memory(task: Any) -> int | None:
    """The task's memory limit in MiB, when the metadata has one (a fallback under the cgroup limit)."""
    value = task.get("Limits", {}).get("Memory") if isinstance(task, dict) else getattr(task, "memory_limit_mib", None)
    return int(value) if isinstance(value, int | float) and value > 0 else None


def resolve_region(configured: str | None, env: Mapping[str, str], attributes: Mapping[str, Any], task: Any) -> str | None:
    """Configuration, then AWS_REGION, AWS_DEFAULT_REGION, then the task ARN's region (DESIGN.md)."""
    for candidate in (configured, env.get("AWS_REGION"), env.get("AWS_DEFAULT_REGION")):
        if candidate:
            return candidate
    if attributes.get("cloud.region"):
        return str(attributes["cloud.region"])
    arn = None
    if isinstance(task, dict):
        arn = task.get("TaskARN")
    elif task is not None:
        arn = getattr(task, "task_arn", None) or getattr(task, "arn", None)
    arn = arn or attributes.get("aws.ecs.task.arn")
    if isinstance(arn, str) and arn.startswith("arn:"):
        parts = arn.split(":")
        if len(parts) > 3 and parts[3]:
            return parts[3]
    return None


async def serve(config: SidecarConfig, env: Mapping[str, str], ports_file: Path | None = None) -> int:
    """Run until SIGTERM/SIGINT; returns the exit code (0 after a clean flush)."""
    sidecar = Sidecar(config, env, ports_file)
    await sidecar.resolve_environment()
    sidecar.build()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signals.SIGTERM, signals.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await sidecar.start()
    await stop.wait()
    await sidecar.stop()
    return 0
