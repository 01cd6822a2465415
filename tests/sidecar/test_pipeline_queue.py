"""The exporter queue in-process: batching, merging, retries, drops by reason and the accounting invariant."""

from __future__ import annotations

import asyncio
import random
from typing import ClassVar

import pytest
from google.protobuf.message import Message
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from sidecar.config.settings import PipelineSettings
from sidecar.otlp.signals import Signal, item_count
from sidecar.pipeline.consumer import BackPressure
from sidecar.pipeline.exporter import Exporter, ExportOutcome
from sidecar.pipeline.fanout import FanOut
from sidecar.pipeline.health import ExporterHealth
from sidecar.pipeline.memory import MemoryBudget, default_limit_bytes
from sidecar.pipeline.queue import DROPPED, EXPORTED, QUEUED, RECEIVED, RETRIED, ExporterQueue
from sidecar.pipeline.telemetry import Registry

# The async tests used to run under asyncio.wait_for(..., 60); the same bound on a hang, per test.
pytestmark = pytest.mark.timeout(60)


def spans_request(n: int, service: str = "svc") -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.add(key="service.name").value.string_value = service
    ss = rs.scope_spans.add()
    for i in range(n):
        span = ss.spans.add(name=f"op{i}")
        span.trace_id = random.randbytes(16)
        span.span_id = random.randbytes(8)
    return req


class ScriptedExporter(Exporter):
    """Answers from a script of outcomes (then success), remembering every batch it was given."""

    signals: ClassVar[frozenset[Signal]] = frozenset(Signal)

    def __init__(self, script: list[ExportOutcome] | None = None, delay_s: float = 0.0) -> None:
        self.script = list(script or [])
        self.delay_s = delay_s
        self.batches: list[Message] = []
        self.attempts = 0

    async def export(self, signal: Signal, batch: Message) -> ExportOutcome:
        self.attempts += 1
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.script:
            outcome = self.script.pop(0)
            if not outcome.ok:
                return outcome
            self.batches.append(batch)
            return outcome
        self.batches.append(batch)
        return ExportOutcome.success()

    def exported_items(self) -> int:
        return sum(item_count(Signal.TRACES, b) for b in self.batches)


def make_queue(exporter: Exporter, telemetry: Registry, budget: MemoryBudget | None = None, **overrides) -> ExporterQueue:
    defaults = {"batch_timeout_s": 0.05, "retry_initial_s": 0.01, "retry_max_interval_s": 0.05}
    settings = PipelineSettings(**{**defaults, **overrides})
    return ExporterQueue(exporter, "test", Signal.TRACES, settings, telemetry,
                         budget or MemoryBudget(1 << 34), ExporterHealth("test"))


def counts(t: Registry) -> tuple[float, float, float, float]:
    m = t.metrics()
    labels = {"signal": "traces", "exporter": "test"}
    return (m[RECEIVED].get(**labels), m[EXPORTED].get(**labels), m[DROPPED].total(**labels), m[QUEUED].get(**labels))


def assert_balanced(t: Registry) -> None:
    received, exported, dropped, queued = counts(t)
    assert received == exported + dropped + queued, (received, exported, dropped, queued)


async def test_small_requests_are_merged_into_one_export_without_losing_resources() -> None:
    t = Registry()
    exporter = ScriptedExporter()
    q = make_queue(exporter, t, batch_timeout_s=0.2, batch_max_items=1000, export_concurrency=1)
    q.start()
    for i in range(5):
        q.offer(spans_request(10, service=f"svc{i}"), 10, 100)
    await q.close(asyncio.get_running_loop().time() + 5)
    assert len(exporter.batches) == 1
    merged = exporter.batches[0]
    assert [rs.resource.attributes[0].value.string_value for rs in merged.resource_spans] == [
        f"svc{i}" for i in range(5)
    ]
    assert counts(t) == (50, 50, 0, 0)


async def test_batch_size_limit_splits_exports() -> None:
    t = Registry()
    exporter = ScriptedExporter()
    q = make_queue(exporter, t, batch_max_items=20, export_concurrency=1, batch_timeout_s=5)
    q.start()
    for _ in range(6):
        q.offer(spans_request(10), 10, 100)
    # batch_max_items reached: sent without waiting for the (long) batch timeout.
    for _ in range(100):
        if exporter.exported_items() == 60:
            break
        await asyncio.sleep(0.02)
    assert [item_count(Signal.TRACES, b) for b in exporter.batches] == [20, 20, 20]
    await q.close(asyncio.get_running_loop().time() + 2)


async def test_retryable_failures_are_retried_then_delivered_honouring_retry_after() -> None:
    t = Registry()
    exporter = ScriptedExporter([ExportOutcome.retry("503", retry_after_s=0.3), ExportOutcome.retry("503")])
    q = make_queue(exporter, t, export_concurrency=1)
    q.start()
    loop = asyncio.get_running_loop()
    started = loop.time()
    q.offer(spans_request(7), 7, 100)
    while exporter.exported_items() < 7 and loop.time() - started < 10:
        await asyncio.sleep(0.01)
    assert exporter.exported_items() == 7
    assert loop.time() - started >= 0.3  # the backend's Retry-After was a floor
    assert t.metrics()[RETRIED].get(signal="traces", exporter="test") == 14
    assert exporter.attempts == 3
    await q.close(loop.time() + 1)
    assert counts(t) == (7, 7, 0, 0)


async def test_non_retryable_failure_drops_once_and_partial_success_counts_rejected() -> None:
    t = Registry()
    exporter = ScriptedExporter([ExportOutcome.fail("400 bad"), ExportOutcome.success(rejected=2)])
    q = make_queue(exporter, t, export_concurrency=1, batch_timeout_s=0.01)
    q.start()
    q.offer(spans_request(5), 5, 100)
    await asyncio.sleep(0.2)
    q.offer(spans_request(4), 4, 100)
    await q.close(asyncio.get_running_loop().time() + 2)
    dropped = t.metrics()[DROPPED]
    assert dropped.get(signal="traces", exporter="test", reason="export_failed") == 5
    assert dropped.get(signal="traces", exporter="test", reason="rejected") == 2
    assert exporter.attempts == 2
    assert counts(t) == (9, 2, 7, 0)


async def test_queue_full_drops_exact_counts() -> None:
    t = Registry()
    exporter = ScriptedExporter(delay_s=0.2)
    q = make_queue(exporter, t, queue_max_items=25, export_concurrency=1)
    q.start()
    accepted = [q.offer(spans_request(10), 10, 100) for _ in range(5)]
    assert accepted == [True, True, False, False, False]
    assert_balanced(t)
    await q.close(asyncio.get_running_loop().time() + 5)
    assert t.metrics()[DROPPED].get(signal="traces", exporter="test", reason="queue_full") == 30
    assert counts(t) == (50, 20, 30, 0)


async def test_bytes_limit_also_bounds_the_queue() -> None:
    t = Registry()
    q = make_queue(ScriptedExporter(), t, queue_max_bytes=250)
    assert q.offer(spans_request(1), 1, 200)
    assert not q.offer(spans_request(1), 1, 100)
    assert counts(t) == (2, 0, 1, 1)


async def test_gives_up_after_max_age() -> None:
    t = Registry()
    exporter = ScriptedExporter([ExportOutcome.retry("down")] * 1000)
    q = make_queue(exporter, t, retry_max_age_s=0.3, export_concurrency=1)
    q.start()
    q.offer(spans_request(3), 3, 100)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while t.metrics()[DROPPED].get(signal="traces", exporter="test", reason="expired") < 3 and loop.time() < deadline:
        await asyncio.sleep(0.02)
    assert counts(t) == (3, 0, 3, 0)
    assert exporter.attempts >= 2
    await q.close(loop.time() + 1)


async def test_shutdown_deadline_drops_what_cannot_be_sent_and_counts_it() -> None:
    t = Registry()
    exporter = ScriptedExporter([ExportOutcome.retry("down")] * 10_000)
    q = make_queue(exporter, t, retry_max_age_s=1000, export_concurrency=1)
    q.start()
    for _ in range(3):
        q.offer(spans_request(4), 4, 100)
    await asyncio.sleep(0.1)
    loop = asyncio.get_running_loop()
    await q.close(loop.time() + 0.5)
    assert counts(t) == (12, 0, 12, 0)
    assert t.metrics()[DROPPED].get(signal="traces", exporter="test", reason="shutdown") == 12
    assert not q.offer(spans_request(1), 1, 10)  # closed: counted, not lost
    assert counts(t) == (13, 0, 13, 0)


async def test_exporter_exception_is_retried_not_fatal() -> None:
    class Flaky(ScriptedExporter):
        async def export(self, signal: Signal, batch: Message) -> ExportOutcome:
            self.attempts += 1
            if self.attempts == 1:
                raise RuntimeError("boom")
            self.batches.append(batch)
            return ExportOutcome.success()

    t = Registry()
    exporter = Flaky()
    q = make_queue(exporter, t, export_concurrency=1)
    q.start()
    q.offer(spans_request(2), 2, 10)
    await q.close(asyncio.get_running_loop().time() + 3)
    assert counts(t) == (2, 2, 0, 0)


async def test_invariant_holds_at_every_instant_under_random_faults() -> None:
    rng = random.Random(1234)
    script = [
        rng.choice([ExportOutcome.success(), ExportOutcome.success(rejected=1), ExportOutcome.retry("503"),
                    ExportOutcome.fail("400")])
        for _ in range(400)
    ]
    t = Registry()
    exporter = ScriptedExporter(script, delay_s=0.001)
    q = make_queue(exporter, t, queue_max_items=60, batch_max_items=15, export_concurrency=3, retry_max_age_s=0.5)
    q.start()
    sent = 0
    for _ in range(200):
        n = rng.randint(1, 9)
        q.offer(spans_request(n), n, 50 * n)
        sent += n
        assert_balanced(t)
        await asyncio.sleep(rng.choice([0, 0, 0.001, 0.005]))
        assert_balanced(t)
    await q.close(asyncio.get_running_loop().time() + 3)
    received, exported, dropped, queued = counts(t)
    assert received == sent
    assert queued == 0
    assert exported + dropped == sent
    assert dropped > 0 and exported > 0


async def test_fanout_shares_batches_and_memory_limit_raises_backpressure_before_counting() -> None:
    t = Registry()
    budget = MemoryBudget(2000, read_rss=lambda: 0)  # half (1000 bytes) may be queued
    a, b = ScriptedExporter(delay_s=1), ScriptedExporter(delay_s=1)
    qa = ExporterQueue(a, "a", Signal.TRACES, PipelineSettings(), t, budget, ExporterHealth("a"))
    qb = ExporterQueue(b, "b", Signal.TRACES, PipelineSettings(), t, budget, ExporterHealth("b"))
    fan = FanOut(Signal.TRACES, [qa, qb], budget, t)
    req = spans_request(3)
    size = req.ByteSize()
    accepted = 0
    with pytest.raises(BackPressure) as info:
        for _ in range(100):
            await fan.consume(Signal.TRACES, spans_request(3))
            accepted += 1
    assert info.value.reason == "memory_limit"
    assert 0 < accepted <= 1000 // (2 * size)
    m = t.metrics()
    for name in ("a", "b"):
        assert m[RECEIVED].get(signal="traces", exporter=name) == 3 * accepted
    assert budget.queued_bytes == 2 * accepted * size
    await qa.close(asyncio.get_running_loop().time() + 0.1)
    await qb.close(asyncio.get_running_loop().time() + 0.1)
    assert budget.queued_bytes == 0


def test_resident_memory_over_the_limit_refuses_new_data() -> None:
    rss = [100]
    budget = MemoryBudget(1000, read_rss=lambda: rss[0])
    budget.check(10)
    rss[0] = 2000
    budget._sampled_at = 0.0  # force a fresh sample
    with pytest.raises(BackPressure):
        budget.check(10)


def test_memory_check_projects_growth_instead_of_waiting_to_be_over() -> None:
    rss = [700]
    budget = MemoryBudget(1000, read_rss=lambda: rss[0])
    budget.QUEUED_SHARE = 1.0  # only the RSS guard is under test
    with pytest.raises(BackPressure):
        budget.check(101)  # 700 + 3 * 101 > 1000 although RSS is well under the limit
    budget.check(50)  # 700 + 150
    with pytest.raises(BackPressure):
        budget.check(60)  # the sample is still 700, but 150 were admitted since: 700 + 150 + 180 > 1000
    rss[0] = 720  # the next sample shows what the admitted batch really cost
    budget._sampled_at = 0.0
    budget.check(50)


def test_default_limit_is_80_percent_of_the_cgroup_limit(tmp_path) -> None:  # type: ignore[no-untyped-def]
    v2 = tmp_path / "memory.max"
    v2.write_text("536870912\n")
    assert default_limit_bytes(cgroup_root=tmp_path) == int(536870912 * 0.8)
    v2.write_text("max\n")
    assert default_limit_bytes(cgroup_root=tmp_path) == 256 * 1024 * 1024
    assert default_limit_bytes(metadata_limit_mib=512, cgroup_root=tmp_path) == int(512 * 1024 * 1024 * 0.8)
    v1_root = tmp_path / "v1"
    (v1_root / "memory").mkdir(parents=True)
    (v1_root / "memory" / "memory.limit_in_bytes").write_text(str(9223372036854771712))  # cgroup v1 "unlimited"
    assert default_limit_bytes(cgroup_root=v1_root) == 256 * 1024 * 1024


def test_persistent_failure_needs_five_failures_and_no_success_in_a_minute() -> None:
    now = [1000.0]
    h = ExporterHealth("x", clock=lambda: now[0])
    for _ in range(4):
        h.record(False, "503")
    assert not h.failed_persistently()
    h.record(False, "503")
    assert h.failed_persistently()
    h.record(True)
    assert not h.failed_persistently()
    now[0] += 61
    for _ in range(5):
        h.record(False, "timeout")
    assert h.failed_persistently()
    assert h.last_error == "timeout"


class EncodedSink(ScriptedExporter):
    """Takes the fast path: encoded requests, merged by concatenation."""

    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[bytes] = []

    async def export_encoded(self, signal: Signal, body: bytes) -> ExportOutcome:
        self.bodies.append(body)
        return ExportOutcome.success()


async def test_encoded_fast_path_merges_by_joining_bytes() -> None:
    t = Registry()
    budget = MemoryBudget(1 << 34, read_rss=lambda: 0)
    exporter, plain = EncodedSink(), ScriptedExporter()
    settings = PipelineSettings(batch_timeout_s=0.2, export_concurrency=1)
    fast = ExporterQueue(exporter, "fast", Signal.TRACES, settings, t, budget, ExporterHealth("fast"))
    slow = ExporterQueue(plain, "plain", Signal.TRACES, settings, t, budget, ExporterHealth("plain"))
    fan = FanOut(Signal.TRACES, [fast, slow], budget, t)
    fast.start()
    slow.start()
    for i in range(4):
        await fan.consume(Signal.TRACES, spans_request(3, service=f"s{i}"))
    deadline = asyncio.get_running_loop().time() + 5
    await fast.close(deadline)
    await slow.close(deadline)
    assert len(exporter.bodies) == 1 and not exporter.batches
    merged = ExportTraceServiceRequest.FromString(exporter.bodies[0])
    assert [rs.resource.attributes[0].value.string_value for rs in merged.resource_spans] == ["s0", "s1", "s2", "s3"]
    assert merged == plain.batches[0]  # both paths deliver the same message
    assert t.metrics()[EXPORTED].get(signal="traces", exporter="fast") == 12


async def test_an_exporter_error_that_would_repeat_is_not_retried() -> None:
    class BadHeader(ScriptedExporter):
        async def export(self, signal: Signal, batch: Message) -> ExportOutcome:
            self.attempts += 1
            raise ValueError("Newline or carriage return character detected in HTTP status message or header")

    t = Registry()
    exporter = BadHeader()
    q = make_queue(exporter, t, export_concurrency=1, retry_max_age_s=60)
    q.start()
    q.offer(spans_request(3), 3, 10)
    await q.close(asyncio.get_running_loop().time() + 3)
    assert exporter.attempts == 1
    assert t.metrics()[DROPPED].get(signal="traces", exporter="test", reason="export_failed") == 3
    assert counts(t) == (3, 0, 3, 0)
