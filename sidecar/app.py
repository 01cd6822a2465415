"""Wiring and lifecycle: configuration in, a running pipeline out, and a clean flush on SIGTERM.

Start order follows the data backwards (exporters, queues, processors, receivers, then
scrapers) so nothing is accepted before there is somewhere to put it; stop order follows it
forwards (stop accepting, drain processors, flush queues within the shutdown budget, close
exporters) so nothing accepted is silently lost: what cannot be sent in time is counted.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal as signals
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import psutil

from ecs_otel.metadata import ENV_URI_V4, TaskMetadata
from ecs_otel.resource import detect, task_attributes
from sidecar import logs
from sidecar.aws.region import resolve_region
from sidecar.config.errors import ConfigError
from sidecar.config.file import SidecarConfig, build_settings, component_class, setting_key
from sidecar.config.settings import SidecarSettings
from sidecar.context import DEFAULT_SERIES_EXPIRY_S, SidecarContext
from sidecar.otlp.signals import Signal
from sidecar.pipeline.consumer import Consumer
from sidecar.pipeline.exporter import Exporter, ListeningExporter
from sidecar.pipeline.fanout import FanOut
from sidecar.pipeline.health import ExporterHealth
from sidecar.pipeline.memory import MemoryBudget, default_limit_bytes
from sidecar.pipeline.processor import Processor
from sidecar.pipeline.queue import ExporterQueue
from sidecar.pipeline.stage import TimedStage
from sidecar.pipeline.telemetry import publish_cache_evictions
from sidecar.receivers.auth import BearerToken
from sidecar.receivers.base import Receiver
from sidecar.receivers.ingest import Ingest
from sidecar.receivers.otlp_http import OtlpHttpReceiver
from sidecar.scrapers.base import Scraper
from sidecar.status.history import HistoryTap, StatsHistory
from sidecar.status.senders import SendersTap, SenderTable
from sidecar.status.server import StatusServer
from sidecar.status.snapshot import collect_process_telemetry, pipeline_snapshot

log = logging.getLogger("ecs_otel.sidecar")

VERSION = "0.1.0"


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
        publish_cache_evictions(self.telemetry)
        self.started_at = time.time()
        self.exporters: dict[str, Exporter] = {}
        self.health_of: dict[str, ExporterHealth] = {}
        self.queues: list[ExporterQueue] = []
        self.processors: list[Processor] = []
        self.chains: dict[Signal, Consumer] = {}
        self.chain_names: dict[Signal, list[str]] = {}
        self.scrapers: list[Scraper] = []
        self._scraper_tasks: list[asyncio.Task[None]] = []
        self.receivers: list[Receiver] = []
        self.budget: MemoryBudget | None = None
        self.status_server: StatusServer | None = None
        self.history = StatsHistory(self.telemetry)
        self.senders = SenderTable(self.telemetry)
        self.process = psutil.Process()
        self._stopping = False

    # -- building ---------------------------------------------------------------------------------

    async def resolve_environment(self) -> None:
        """Task attributes and region into the context; outside ECS (or on any error) they stay empty."""
        task = await _load_task(self.env)
        if task is not None:
            self.context.task_attributes = _task_attributes(task)
        self.context.region = resolve_region(self.config.sidecar.region, self.env, self.context.task_attributes)
        limit_mib = self.config.pipeline.memory_limit_mib
        self.budget = MemoryBudget(limit_mib * 1024 * 1024 if limit_mib else default_limit_bytes(_task_memory(task)))

    def build(self) -> None:
        """Instantiate every component the configuration names; any mistake is a ConfigError (exit 2)."""
        if self.budget is None:
            limit_mib = self.config.pipeline.memory_limit_mib
            self.budget = MemoryBudget(limit_mib * 1024 * 1024 if limit_mib else default_limit_bytes())
        s = self.config.sidecar
        self.context.series_expiry_s = self._series_expiry_s()
        self.context.receiver_host = s.receiver_host
        # One instance per processor name, shared by every signal it handles: a processor's state
        # (the cardinality report, caches) must not be split or overwritten by a second copy.
        instances: dict[str, Processor] = {}
        for signal in Signal:
            queues: list[ExporterQueue] = []
            configured = s.exporters_for(signal.value)
            for name in self._default_exporters() if configured is None else configured:
                exporter = self._exporter(name)
                if signal not in exporter.signals:
                    key = setting_key(SidecarSettings, "sidecar", f"{signal.value}_exporters", self.env)
                    raise ConfigError(key, f"exporters that handle {signal.value}", name)
                queues.append(ExporterQueue(exporter, name, signal, self.config.pipeline, self.telemetry,
                                            self.budget, self.health_of[name]))
            self.queues.extend(queues)
            head: Consumer = FanOut(signal, queues, self.budget, self.telemetry)
            names: list[str] = []
            for name in reversed(s.processors_for(signal.value)):
                cls = component_class("processors", name)
                if signal not in cls.signals:
                    continue
                proc = instances.get(name)
                if proc is None:
                    proc = cls(build_settings("processors", name, cls, self.config, self.env), self.context)
                    self.processors.append(proc)
                    instances[name] = proc
                head = TimedStage(name, proc, signal, head, self.telemetry)
                names.insert(0, name)
            self.chains[signal] = head
            self.chain_names[signal] = names
        for name in self._scraper_names():
            cls = component_class("scrapers", name)
            scraper = cls(build_settings("scrapers", name, cls, self.config, self.env), self.context)
            # The status page charts what the scrapers deliver: the tap sits in front of their consumer.
            scraper.consumer = HistoryTap(_ScraperIngest(Ingest(f"scraper_{name}",
                                                                {Signal.METRICS: self.chains[Signal.METRICS]},
                                                                self.telemetry)), self.history)
            self.scrapers.append(scraper)
        self._validate_unused_sections()
        token = BearerToken(s.receiver_token)
        max_items = self.config.pipeline.queue_max_items  # a request bigger than a queue could never fit
        # What the receivers take is tallied by sender for the status page (scrapers' data is not).
        received: dict[Signal, Consumer] = {sig: SendersTap(chain, self.senders) for sig, chain in self.chains.items()}
        self.receivers.append(OtlpHttpReceiver(Ingest("otlp_http", received, self.telemetry, max_items=max_items,
                                                      budget=self.budget), host=s.receiver_host,
                                               port=s.otlp_http_port, max_body_bytes=s.max_request_bytes, token=token,
                                               header_timeout_s=s.header_read_timeout_s,
                                               body_timeout_s=s.body_read_timeout_s,
                                               max_connections=s.receiver_max_connections))
        if s.otlp_grpc_port >= 0:
            from sidecar.receivers.otlp_grpc import OtlpGrpcReceiver  # grpc costs ~10 MB: only when enabled

            self.receivers.append(OtlpGrpcReceiver(Ingest("otlp_grpc", received, self.telemetry,
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
            return ["ecs_stats"] if self.env.get(ENV_URI_V4) else []
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
            await proc.start()
        for receiver in self.receivers:
            await receiver.start()
        s = self.config.sidecar
        self.status_server = StatusServer(self, s.status_host, s.status_port, self.history)
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

    async def _run_scraper(self, scraper: Scraper) -> None:
        try:
            await scraper.run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("scraper stopped", extra={"scraper": scraper.name})

    def ports(self) -> dict[str, int | None]:
        out: dict[str, int | None] = {"otlp_http": None, "otlp_grpc": None, "pid": os.getpid()}
        for receiver in self.receivers:
            out[receiver.name] = receiver.port
        out["status"] = self.status_server.port if self.status_server else None
        for name, exporter in self.exporters.items():
            if isinstance(exporter, ListeningExporter):
                out[name] = exporter.port
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
            await _bounded(proc.shutdown(deadline), deadline, loop)
        # Leave a little of the budget for closing exporters.
        flush_deadline = deadline - min(1.0, self.config.sidecar.shutdown_timeout_s / 10)
        await asyncio.gather(*(q.close(flush_deadline) for q in self.queues))
        for name, exporter in self.exporters.items():
            try:
                await _bounded(exporter.shutdown(deadline), deadline + 0.5, loop)
            except Exception:
                log.exception("exporter shutdown failed", extra={"exporter": name})
        logs.limiter.flush()  # the lines suppressed in the current window are summarised, not forgotten
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
        return pipeline_snapshot(self, VERSION)

    def _collect(self) -> None:
        collect_process_telemetry(self)


async def _bounded(awaitable: Any, deadline: float, loop: asyncio.AbstractEventLoop) -> None:
    try:
        await asyncio.wait_for(awaitable, timeout=max(0.05, deadline - loop.time()))
    except TimeoutError:
        log.warning("shutdown step ran out of time")
    except Exception:
        log.exception("shutdown step failed")


# -- environment resolution (ECS metadata, region) ----------------------------------------------------


async def _load_task(env: Mapping[str, str]) -> TaskMetadata | None:
    """The task metadata document (the library's one ECS detection), or None outside ECS or on any error."""
    found = await asyncio.to_thread(detect, env, None, None, True)
    if found.on_ecs and found.task is None:
        log.warning("cannot read task metadata; continuing without task attributes",
                    extra={"error": "; ".join(found.errors)})
    return found.task


def _task_attributes(task: TaskMetadata) -> dict[str, Any]:
    try:
        return dict(task_attributes(task))
    except Exception as exc:
        log.warning("cannot map task metadata to attributes", extra={"error": repr(exc)})
        return {}


def _task_memory(task: TaskMetadata | None) -> int | None:
    """The task's memory limit in MiB, when the metadata has one (a fallback under the cgroup limit)."""
    value = task.memory_limit_mib if task is not None else None
    return int(value) if value and value > 0 else None


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
