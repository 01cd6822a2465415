"""The encoded (wire) path for traces: shallow views, the ids check on bytes, and processors on bytes.

Every fast path here is checked against the decoded path it replaces: same decoded output (byte for
byte where the input was canonically encoded), same counters, same redaction.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from bench.sidecar_vs_rotel import build_bodies
from ecs_otel.otlp.wire import varint
from sidecar.context import SidecarContext
from sidecar.otlp import ids, shallow
from sidecar.otlp.signals import Signal, item_count
from sidecar.pipeline.consumer import WireBatch
from sidecar.pipeline.stage import TimedStage
from sidecar.pipeline.telemetry import Registry
from sidecar.processors.cardinality.processor import CardinalityProcessor
from sidecar.processors.enrich import EnrichProcessor
from sidecar.processors.redaction import RedactionProcessor
from sidecar.receivers.ingest import Ingest
from tests.sidecar.exporters import spans
from tests.sidecar.exporters.spans import kv

TASK = {"cloud.region": "eu-west-1", "aws.ecs.task.arn": "arn:aws:ecs:eu-west-1:123456789012:task/prod/abc",
        "aws.ecs.task.family": "checkout", "aws.ecs.task.revision": "7"}


def _field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field, encoded by hand (to build what no SDK would send)."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def _request(*span_encodings: bytes, resources: tuple[bytes, ...] = ()) -> bytes:
    scope = b"".join(_field(2, s) for s in span_encodings)
    entry = b"".join(_field(1, r) for r in resources) + _field(2, scope)
    return _field(1, entry)


# -- shallow views ---------------------------------------------------------------------------------------


def _samples() -> list[bytes]:
    out = build_bodies(variants=3)
    out.append(spans.traces(20).SerializeToString())
    multi = spans.traces(5)
    multi.resource_spans.add().CopyFrom(spans.traces(3, seed=2).resource_spans[0])
    multi.resource_spans[0].scope_spans.add().CopyFrom(spans.traces(2, seed=3).resource_spans[0].scope_spans[0])
    multi.resource_spans[0].scope_spans[0].spans[1].flags = 257
    multi.resource_spans[0].scope_spans[0].spans[1].trace_state = "k=v"
    out.append(multi.SerializeToString())
    return out


@pytest.mark.parametrize("body", _samples())
def test_shallow_views_write_back_what_they_read(body: bytes) -> None:
    """The resource view writes the same bytes; the names view the same message (names first in a span)."""
    assert shallow.resource_view(Signal.TRACES, body).SerializeToString() == body
    names = shallow.names_view(body).SerializeToString()
    assert ExportTraceServiceRequest.FromString(names) == ExportTraceServiceRequest.FromString(body)


# -- the ids check on bytes --------------------------------------------------------------------------------

_IDS = st.sampled_from(["ok", "ok", "ok", "zero", "short", "empty"])


def _id(kind: str, size: int, rnd: random.Random) -> bytes:
    return {"ok": bytes([1 + rnd.randrange(255)]) + rnd.randbytes(size - 1), "zero": bytes(size),
            "short": rnd.randbytes(size - 1), "empty": b""}[kind]


@settings(max_examples=400, deadline=None, derandomize=True)
@given(spec=st.lists(st.tuples(_IDS, _IDS, _IDS, st.sampled_from([None, 1, 2, 4])), min_size=1, max_size=6),
       seed=st.integers(0, 1000))
def test_span_ids_valid_agrees_with_the_decoded_screen(spec: list[tuple[str, str, str, int | None]],
                                                       seed: int) -> None:
    """Whatever the ids (zero, short, missing, or a field sent twice where the last one wins), the check
    on bytes lets a request through exactly when the decoded screen would neither drop nor repair."""
    rnd = random.Random(seed)
    encodings = []
    for trace_kind, span_kind, parent_kind, duplicate in spec:
        span = Span(trace_id=_id(trace_kind, 16, rnd), span_id=_id(span_kind, 8, rnd),
                    parent_span_id=_id(parent_kind, 8, rnd), name="op")
        raw = span.SerializeToString()
        if duplicate is not None:  # the same field again after the others: a parser keeps the last one
            size = 16 if duplicate == 1 else 8
            raw += _field(duplicate, _id(rnd.choice(["ok", "zero", "short"]), size, rnd))
        encodings.append(raw)
    body = _request(*encodings)
    decoded = ExportTraceServiceRequest.FromString(body)
    n = item_count(Signal.TRACES, decoded)
    untouched = ids.screen(Signal.TRACES, decoded) == (0, 0)
    assert shallow.span_ids_valid(body) == (n if untouched else None)


def test_span_ids_valid_refuses_bytes_that_do_not_parse() -> None:
    body = spans.traces(3).SerializeToString()
    assert shallow.span_ids_valid(body) == 3
    assert shallow.span_ids_valid(body[:-5]) is None


def test_ingest_sends_clean_trace_requests_on_as_bytes() -> None:
    class WireSink:
        async def consume(self, signal: Signal, batch: Any) -> None: ...

        async def consume_wire(self, signal: Signal, batch: WireBatch) -> None: ...

    ingest = Ingest("otlp_http", {Signal.TRACES: WireSink()}, Registry())
    clean = spans.traces(4)
    body = clean.SerializeToString()
    wire = ingest.wire_batch(Signal.TRACES, body, clean)
    assert wire is not None and wire.body is body and wire.items == 4 and wire.message is clean
    clean.resource_spans[0].scope_spans[0].spans[2].span_id = bytes(8)
    assert ingest.wire_batch(Signal.TRACES, clean.SerializeToString(), clean) is None  # screened, decoded
    plain = Ingest("otlp_http", {Signal.TRACES: object()}, Registry())  # type: ignore[dict-item]
    assert plain.wire_batch(Signal.TRACES, body, clean) is None  # a chain without the wire path


@pytest.mark.parametrize("transport", ["http", "grpc"])
async def test_both_receivers_send_clean_trace_requests_on_as_their_bytes(transport: str) -> None:
    """OTLP/HTTP and OTLP/gRPC answer alike: a clean trace request reaches a wire chain as the bytes the
    client sent (no decoded batch), one with an invalid id is screened and goes on decoded."""
    import aiohttp
    import grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

    from sidecar.receivers.auth import BearerToken
    from sidecar.receivers.otlp_grpc import OtlpGrpcReceiver
    from sidecar.receivers.otlp_http import OtlpHttpReceiver

    sink = _Sink()
    ingest = Ingest(f"otlp_{transport}", {Signal.TRACES: sink}, Registry())
    kind = OtlpHttpReceiver if transport == "http" else OtlpGrpcReceiver
    receiver = kind(ingest, host="127.0.0.1", port=0, max_body_bytes=4 << 20, token=BearerToken(None))
    clean = spans.traces(3)
    dirty = spans.traces(3)
    dirty.resource_spans[0].scope_spans[0].spans[1].span_id = bytes(8)
    await receiver.start()
    try:
        for request in (clean, dirty):
            if transport == "http":
                async with aiohttp.ClientSession() as session, session.post(
                        f"http://127.0.0.1:{receiver.port}/v1/traces", data=request.SerializeToString(),
                        headers={"Content-Type": "application/x-protobuf"}) as resp:
                    assert resp.status == 200
            else:
                async with grpc.aio.insecure_channel(f"127.0.0.1:{receiver.port}") as channel:
                    await trace_service_pb2_grpc.TraceServiceStub(channel).Export(request, timeout=10)
    finally:
        await receiver.stop()
    assert [door for door, _ in sink.got] == ["wire", "decoded"]
    assert sink.got[0][1] == clean.SerializeToString()


# -- processors on bytes, against the decoded path ---------------------------------------------------------


class _Sink:
    """The end of a chain: records what arrives and by which door."""

    def __init__(self) -> None:
        self.got: list[tuple[str, bytes]] = []

    async def consume(self, signal: Signal, batch: Any) -> None:
        self.got.append(("decoded", batch.SerializeToString()))

    async def consume_wire(self, signal: Signal, batch: WireBatch) -> None:
        self.got.append(("wire", batch.body))


def _chain(sink: _Sink) -> tuple[Any, SidecarContext]:
    ctx = SidecarContext(task_attributes=dict(TASK))
    head: Any = sink
    for name, proc in (("redaction", RedactionProcessor(RedactionProcessor.Settings(), ctx)),
                       ("cardinality", CardinalityProcessor(CardinalityProcessor.Settings(), ctx)),
                       ("enrich", EnrichProcessor(EnrichProcessor.Settings(), ctx))):
        head = TimedStage(name, proc, Signal.TRACES, head, ctx.telemetry)
    return head, ctx


def _with_secret() -> bytes:
    batch = spans.traces(12)
    batch.resource_spans[0].scope_spans[0].spans[5].attributes.append(kv("db.password", "hunter2"))
    return batch.SerializeToString()


def _named(*names: str) -> bytes:
    batch = spans.traces(len(names))
    for span, name in zip(batch.resource_spans[0].scope_spans[0].spans, names, strict=True):
        span.name = name
    return batch.SerializeToString()


_CASES = [*build_bodies(variants=2), spans.traces(30).SerializeToString(), _with_secret(),
          _named("GET /users/123", "checkout", "GET /users/{id}", "process 8f14e45fceea167a5a36dedd4bea2543")]


@pytest.mark.parametrize("body", _CASES)
async def test_the_chain_on_bytes_gives_what_the_decoded_chain_gives(body: bytes) -> None:
    """enrich → cardinality → redaction: the same batch through ``consume`` (decoded) and ``consume_wire``
    (bytes) reaches the fan-out as the same bytes, with the same counters; a clean batch stays bytes
    all the way (no processor decoded it), one holding a secret is decoded and redacted."""
    decoded_sink, wire_sink = _Sink(), _Sink()
    decoded_head, decoded_ctx = _chain(decoded_sink)
    wire_head, wire_ctx = _chain(wire_sink)
    message = ExportTraceServiceRequest.FromString(body)
    await decoded_head.consume(Signal.TRACES, ExportTraceServiceRequest.FromString(body))
    await wire_head.consume_wire(Signal.TRACES, WireBatch(body, item_count(Signal.TRACES, message), message))
    ((_, expected),) = decoded_sink.got
    ((door, got),) = wire_sink.got
    # The same message (a renamed span is written name first, see shallow.names_view; nothing else moves).
    assert ExportTraceServiceRequest.FromString(got) == ExportTraceServiceRequest.FromString(expected)
    renamed = any(s.name != t.name for s, t in zip(*(
        [s for rs in ExportTraceServiceRequest.FromString(b).resource_spans for ss in rs.scope_spans for s in ss.spans]
        for b in (body, expected)), strict=True))
    assert (got == expected) or renamed
    secret = b"hunter2" in body
    assert door == ("decoded" if secret else "wire")
    assert b"hunter2" not in got and b"aws.ecs.task.arn" in got
    for name in ("ecs_otel_sidecar_processor_items_in_total", "ecs_otel_sidecar_processor_items_out_total",
                 "ecs_otel_sidecar_processor_batches_total", "ecs_otel_sidecar_redaction_batches_total",
                 "ecs_otel_sidecar_enrich_resources_total", "ecs_otel_sidecar_cardinality_normalized_values_total"):
        assert wire_ctx.telemetry.counter(name, "").values == decoded_ctx.telemetry.counter(name, "").values, name


def test_enrich_remembers_resource_keys_within_its_bounds() -> None:
    """Resource keys are parsed once per distinct encoded resource: the same resource keeps getting the same
    attributes; many distinct or huge resources never grow the memory past its bounds."""
    from sidecar.processors.enrich import RESOURCE_KEYS_CACHE, RESOURCE_KEYS_CACHE_MAX_BYTES

    ctx = SidecarContext(task_attributes=dict(TASK))
    proc = EnrichProcessor(EnrichProcessor.Settings(), ctx)
    span = Span(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="op").SerializeToString()

    def body(resource: Resource) -> bytes:
        return _request(span, resources=(resource.SerializeToString(),))

    same = body(Resource(attributes=[kv("service.name", "cart")]))
    slow = ExportTraceServiceRequest.FromString(same)
    proc.process(Signal.TRACES, slow)
    for _ in range(3):
        assert proc.process_wire(Signal.TRACES, same) == slow.SerializeToString()
    for i in range(RESOURCE_KEYS_CACHE + 10):
        proc.process_wire(Signal.TRACES, body(Resource(attributes=[kv("service.name", f"cart-{i}")])))
        assert len(proc._keys_of) <= RESOURCE_KEYS_CACHE
    assert proc._keys_of.evicted == RESOURCE_KEYS_CACHE  # one clear of a full cache, counted
    huge = Resource(attributes=[kv("service.name", "x" * RESOURCE_KEYS_CACHE_MAX_BYTES)])
    out = proc.process_wire(Signal.TRACES, body(huge))
    assert out is not None and b"aws.ecs.task.arn" in out
    assert huge.SerializeToString() not in proc._keys_of


def test_cardinality_renames_spans_on_bytes() -> None:
    proc = CardinalityProcessor(CardinalityProcessor.Settings(), SidecarContext())
    body = _named("GET /users/123", "checkout")
    out = proc.process_wire(Signal.TRACES, body)
    assert out is not None and out != body
    names = [s.name for s in ExportTraceServiceRequest.FromString(out).resource_spans[0].scope_spans[0].spans]
    assert names == ["GET /users/{id}", "checkout"]
    assert proc.process_wire(Signal.TRACES, out) is out  # nothing left to rename: the same bytes, no re-encoding
    assert proc.process_wire(Signal.METRICS, spans.metrics().SerializeToString()) is None  # metrics: decoded path


def test_enrich_on_bytes_with_resources_sent_twice_or_not_at_all() -> None:
    """A resource field sent twice is one merged resource to a parser: its keys count as present. A
    resource spans entry without a resource gets one (first, where an encoder puts it)."""
    ctx = SidecarContext(task_attributes=dict(TASK))
    proc = EnrichProcessor(EnrichProcessor.Settings(), ctx)
    span = Span(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="op").SerializeToString()
    first = Resource(attributes=[kv("service.name", "cart")]).SerializeToString()
    second = Resource(attributes=[kv("aws.ecs.task.family", "app-set-this")]).SerializeToString()
    for body in (_request(span, resources=(first, second)), _request(span)):
        slow = ExportTraceServiceRequest.FromString(body)
        proc.process(Signal.TRACES, slow)
        out = proc.process_wire(Signal.TRACES, body)
        assert out is not None
        assert ExportTraceServiceRequest.FromString(out) == slow
        if b"cart" not in body:
            assert out == slow.SerializeToString()
    done = slow.SerializeToString()
    assert proc.process_wire(Signal.TRACES, done) is done  # every key present: the same bytes


# -- the redaction screen's automaton ----------------------------------------------------------------------


def test_the_automaton_screen_answers_as_the_plain_screen() -> None:
    """One Aho-Corasick scan must flag exactly what the passes per needle flag (so the no-false-negative
    property of the plain screen carries over), on inputs long enough to take the automaton."""
    pytest.importorskip("ahocorasick_rs")
    from ecs_otel.redaction import _AUTOMATON_MIN_BYTES, ByteScreen, KeyRedactor, screen_for

    fast = screen_for(KeyRedactor())
    assert fast.automaton is not None
    plain = ByteScreen.build(set(KeyRedactor().needles()) | {b"identified", b"://", b"sig=", b"signature=",
                                                              b"code=", b"credential"}, automaton=False)
    assert plain.automaton is None and (plain.needles, plain.around) == (fast.needles, fast.around)
    rnd = random.Random(11)
    words = ["password", "X-Api-Key", "apiKey", "to\u212aen", "https://h/x", "?code=1", "sig=2", "IDENTIFIED BY",
             "clientSecret", "Authorization", "credentials", "tokens", "cache_key", "page_size", "=", ":", "/"]
    flagged = 0
    for _ in range(400):
        parts = [rnd.randbytes(rnd.randint(0, 600)) for _ in range(3)]
        for _ in range(rnd.randint(0, 2)):
            parts.insert(rnd.randint(0, len(parts)), rnd.choice(words).encode())
        data = b"".join(parts) + b"e" * _AUTOMATON_MIN_BYTES * 2  # a letter the folding keeps
        want = plain.may_match(data)
        assert fast.may_match(data) == want, data[:80]
        flagged += want
    assert 50 < flagged < 400  # both verdicts really occur


def test_a_run_of_id_records_is_valid_only_with_every_fixed_byte_in_place() -> None:
    """The run check reads the tags and lengths of each record: any one of them wrong (a record of another
    size, or another field where an id belongs) sends the batch to the decoded screen."""
    from sidecar.otlp.shallow import _valid_run

    rnd = random.Random(3)

    def ident(size: int) -> bytes:
        return bytes(1 + rnd.randrange(255) for _ in range(size))

    with_parent = (b"\x12\x26\x0a\x10" + ident(16) + b"\x12\x08" + ident(8) + b"\x22\x08" + ident(8), (0, 1, 2, 3, 20, 21, 30, 31))
    without = (b"\x12\x1c\x0a\x10" + ident(16) + b"\x12\x08" + ident(8), (0, 1, 2, 3, 20, 21))
    for runs in ([with_parent] * 3, [without] * 3, [with_parent, without, with_parent]):
        run = b"".join(record for record, _ in runs)
        assert _valid_run(run)
        start = len(runs[0][0])  # break the second record
        for offset in runs[1][1]:
            broken = bytearray(run)
            broken[start + offset] ^= 0x40
            assert not _valid_run(bytes(broken)), offset
