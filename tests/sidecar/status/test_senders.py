"""The status page's senders table: who sent what, when last, and bounded with counted evictions."""

from __future__ import annotations

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from sidecar.otlp.attributes import key_value
from sidecar.otlp.signals import Signal
from sidecar.pipeline.telemetry import Registry
from sidecar.status.drops import drops_by_reason
from sidecar.status.senders import SenderTable


def batch(*senders: tuple[str, str, int]) -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    for service, instance, spans in senders:
        rs = req.resource_spans.add()
        rs.resource.attributes.extend([key_value("service.name", service), key_value("service.instance.id", instance)])
        ss = rs.scope_spans.add()
        for _ in range(spans):
            ss.spans.add(name="s")
    return req


def test_senders_are_counted_per_service_and_instance_with_last_seen() -> None:
    now = [1000.0]
    table = SenderTable(Registry(), clock=lambda: now[0])
    table.observe(Signal.TRACES, batch(("api", "i-1", 3), ("api", "i-2", 1)))
    now[0] = 1010.0
    table.observe(Signal.TRACES, batch(("api", "i-1", 2)))
    now[0] = 1015.0
    rows = table.snapshot()["senders"]
    assert [(r["service"], r["instance"], r["items"], r["last_seen_age_s"], r["first_seen_age_s"]) for r in rows] == [
        ("api", "i-1", {"traces": 5}, 5.0, 15.0),  # most recently seen first
        ("api", "i-2", {"traces": 1}, 15.0, 15.0),
    ]


def test_the_table_is_bounded_and_counts_what_it_forgets() -> None:
    telemetry = Registry()
    table = SenderTable(telemetry, max_senders=3)
    for i in range(5):
        table.observe(Signal.TRACES, batch((f"svc-{i}", "x", 1)))
    snap = table.snapshot()
    assert [r["service"] for r in snap["senders"]] == ["svc-4", "svc-3", "svc-2"]
    assert snap["evicted"] == 2 and snap["max_senders"] == 3
    assert {"counter": "status_senders_evicted", "labels": {}, "count": 2} in drops_by_reason(telemetry)


def test_senders_read_from_the_bytes_match_the_decoded_reading() -> None:
    """One resource entry (what an SDK sends): read from the resource's bytes, remembered per encoded
    resource within bounds; the same rows as reading the decoded batch. Several entries: not read."""
    from sidecar.status.senders import IDENTITY_CACHE, IDENTITY_CACHE_MAX_BYTES

    now = [1000.0]
    telemetry = Registry()
    wire, decoded = SenderTable(telemetry, clock=lambda: now[0]), SenderTable(Registry(), clock=lambda: now[0])
    def field(payload: bytes) -> bytes:  # field 1, length-delimited (lengths under 128 here)
        return b"\x0a" + bytes([len(payload)]) + payload

    twice = batch(("api", "i-1", 2))
    twice.resource_spans[0].resource.attributes.pop()  # the instance comes in a second resource field:
    instance = field(key_value("service.instance.id", "i-1").SerializeToString())  # parsers merge the two
    body = field(twice.resource_spans[0].SerializeToString() + field(instance))
    requests = [batch(("api", "i-1", 3)).SerializeToString(), body, batch(("api", "i-1", 1)).SerializeToString(),
                ExportTraceServiceRequest(resource_spans=[{"scope_spans": [{"spans": [{"name": "s"}]}]}]).SerializeToString()]
    for raw in requests:
        now[0] += 1
        request = ExportTraceServiceRequest.FromString(raw)
        n = sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
        assert wire.observe_wire(Signal.TRACES, raw, n)
        decoded.observe(Signal.TRACES, request)
    assert wire.snapshot() == decoded.snapshot()
    assert [r["service"] for r in wire.snapshot()["senders"]] == ["?", "api"]
    assert not wire.observe_wire(Signal.TRACES, batch(("a", "1", 1), ("b", "2", 1)).SerializeToString(), 2)
    for i in range(IDENTITY_CACHE + 5):
        wire.observe_wire(Signal.TRACES, batch((f"svc-{i}", "x", 1)).SerializeToString(), 1)
        assert len(wire._identities) <= IDENTITY_CACHE
    assert wire._identities.evicted == IDENTITY_CACHE
    huge = batch(("h" * IDENTITY_CACHE_MAX_BYTES, "x", 1))
    assert wire.observe_wire(Signal.TRACES, huge.SerializeToString(), 1)
    assert huge.resource_spans[0].resource.SerializeToString() not in wire._identities.data
