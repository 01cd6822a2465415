"""The ``enrich`` and ``redaction`` processors."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList

from sidecar.config import ConfigError, load_settings
from sidecar.context import SidecarContext
from sidecar.otlp.signals import Signal
from sidecar.processors.enrich import EnrichProcessor
from sidecar.processors.redaction import RedactionProcessor
from tests.sidecar.exporters import spans
from tests.sidecar.exporters.spans import kv

TASK = {
    "cloud.provider": "aws",
    "cloud.platform": "aws_ecs",
    "cloud.region": "eu-west-1",
    "cloud.account.id": "123456789012",
    "aws.ecs.cluster.arn": "arn:aws:ecs:eu-west-1:123456789012:cluster/prod",
    "aws.ecs.task.arn": "arn:aws:ecs:eu-west-1:123456789012:task/prod/abc",
    "aws.ecs.task.family": "checkout",
    "aws.ecs.task.revision": "7",
    "aws.ecs.launchtype": "fargate",
    # container-level: must never be copied from the sidecar onto app data
    "container.name": "otel-sidecar",
    "container.id": "deadbeef",
    "aws.ecs.container.arn": "arn:aws:ecs:eu-west-1:123456789012:container/prod/abc/x",
    "aws.log.group.names": ["/ecs/sidecar"],
}


def attrs(kvs) -> dict[str, object]:  # type: ignore[no-untyped-def]
    out: dict[str, object] = {}
    for a in kvs:
        kind = a.value.WhichOneof("value")
        out[a.key] = getattr(a.value, kind) if kind else None
    return out


def test_enrich_adds_task_attributes_only_where_missing() -> None:
    ctx = SidecarContext(task_attributes=dict(TASK))
    proc = EnrichProcessor(EnrichProcessor.Settings(), ctx)
    batch = spans.traces(3, resource={"service.name": "cart", "aws.ecs.task.family": "app-set-this"})
    second = batch.resource_spans.add()
    second.resource.attributes.extend([kv("service.name", "other"), kv("container.name", "app")])
    out = proc.process(Signal.TRACES, batch)
    assert out is batch
    first = attrs(batch.resource_spans[0].resource.attributes)
    assert first["aws.ecs.task.family"] == "app-set-this"  # never overwritten
    assert first["aws.ecs.task.arn"] == TASK["aws.ecs.task.arn"]
    assert first["aws.ecs.task.revision"] == "7"
    assert first["cloud.account.id"] == "123456789012"
    assert not any(k.startswith(("container.", "aws.ecs.container.", "aws.log.")) for k in first)
    other = attrs(second.resource.attributes)
    assert other["container.name"] == "app"
    assert other["cloud.region"] == "eu-west-1"
    keys = [a.key for a in batch.resource_spans[0].resource.attributes]
    assert len(keys) == len(set(keys))
    # a second pass changes nothing: everything is already there
    before = batch.SerializeToString()
    proc.process(Signal.TRACES, batch)
    assert batch.SerializeToString() == before
    assert ctx.telemetry.counter("ecs_otel_sidecar_enrich_resources_total", "").total() == 2


def test_enrich_all_signals_skip_and_late_attributes() -> None:
    ctx = SidecarContext()
    proc = EnrichProcessor(
        load_settings(EnrichProcessor.Settings, {}, {"ECS_OTEL_ENRICH_SKIP": "cloud.account.id"}, ""), ctx
    )
    logs = spans.logs()
    proc.process(Signal.LOGS, logs)
    assert attrs(logs.resource_logs[0].resource.attributes) == {"service.name": "checkout"}
    ctx.task_attributes.update(TASK)  # the app fills this at startup, possibly after construction
    for signal, batch in ((Signal.LOGS, logs), (Signal.METRICS, spans.metrics())):
        proc.process(signal, batch)
        entries = batch.resource_logs if signal is Signal.LOGS else batch.resource_metrics
        got = attrs(entries[0].resource.attributes)
        assert got["aws.ecs.cluster.arn"] == TASK["aws.ecs.cluster.arn"]
        assert "cloud.account.id" not in got


def test_enrich_runs_in_a_stage_of_a_chain() -> None:
    """A processor is a pure transform; the stage chains it to the next consumer."""
    from sidecar.pipeline.stage import TimedStage
    from sidecar.pipeline.telemetry import Registry

    seen = []

    class Sink:
        async def consume(self, signal, batch):  # type: ignore[no-untyped-def]
            seen.append((signal, batch))

    proc = EnrichProcessor(
        EnrichProcessor.Settings(), SidecarContext(task_attributes={"aws.ecs.task.id": "abc"})
    )
    assert not hasattr(proc, "consume") and not hasattr(proc, "next")
    head = TimedStage("enrich", proc, Signal.TRACES, Sink(), Registry())
    asyncio.run(head.consume(Signal.TRACES, spans.traces(1)))
    ((signal, batch),) = seen
    assert signal is Signal.TRACES
    assert attrs(batch.resource_spans[0].resource.attributes)["aws.ecs.task.id"] == "abc"


def _secret_trace():  # type: ignore[no-untyped-def]
    batch = spans.traces(1, resource={"service.name": "cart", "db.password": "res-secret"})
    ss = batch.resource_spans[0].scope_spans[0]
    ss.scope.attributes.append(kv("api_key", "scope-secret"))
    span = ss.spans[0]
    nested = AnyValue(
        kvlist_value=KeyValueList(
            values=[
                kv("Cookie", "c=1"),
                kv("safe", "ok"),
                KeyValue(
                    key="deeper",
                    value=AnyValue(
                        array_value=ArrayValue(
                            values=[AnyValue(kvlist_value=KeyValueList(values=[kv("token", "t")]))]
                        )
                    ),
                ),
            ]
        )
    )
    span.attributes.extend(
        [
            kv("http.request.header.authorization", "Bearer abc"),
            kv("user.password", "hunter2"),
            kv("gen_ai.usage.input_tokens", 42),
            kv("Api-Key", "k"),
            kv("x-api-key-id", "not-a-match"),
            kv("oauth.client.Secret", 12345),
            kv(
                "url.full",
                "https://bob:pw@example.com/p?X-Amz-Signature=abc&X-Amz-Credential=AKID%2F1&page=2",
            ),
            kv("http.url", "https://example.com/?token=xyz&sig=s1"),
            kv("url.query", "password=p&q=search"),
            kv("url.path", "/token/abc"),
            KeyValue(key="request", value=nested),
        ]
    )
    span.events[0].attributes.append(kv("exception.secret", "ev-secret"))
    span.links[0].attributes.append(kv("private_key", "link-secret"))
    return batch


def test_redaction_of_spans_events_links_resource_scope_and_nested() -> None:
    ctx = SidecarContext()
    proc = RedactionProcessor(RedactionProcessor.Settings(), ctx)
    batch = proc.process(Signal.TRACES, _secret_trace())
    assert batch is not None
    rs = batch.resource_spans[0]
    assert attrs(rs.resource.attributes)["db.password"] == "[REDACTED]"
    assert attrs(rs.resource.attributes)["service.name"] == "cart"
    assert attrs(rs.scope_spans[0].scope.attributes)["api_key"] == "[REDACTED]"
    span = rs.scope_spans[0].spans[0]
    a = attrs(span.attributes)
    assert a["http.request.header.authorization"] == "[REDACTED]"
    assert a["user.password"] == "[REDACTED]"
    assert a["gen_ai.usage.input_tokens"] == 42  # "tokens" is not "token": whole segments only
    assert a["Api-Key"] == "[REDACTED]"  # case-insensitive, '-' same as '_'
    assert a["x-api-key-id"] == "not-a-match"  # whole key or last segment, never a substring
    assert a["oauth.client.Secret"] == "[REDACTED]"  # non-string values too
    assert (
        a["url.full"]
        == "https://REDACTED:REDACTED@example.com/p?X-Amz-Signature=REDACTED&X-Amz-Credential=REDACTED&page=2"
    )
    assert a["http.url"] == "https://example.com/?token=REDACTED&sig=REDACTED"
    assert a["url.query"] == "password=REDACTED&q=search"
    assert a["url.path"] == "/token/abc"
    request = attrs(span.attributes)["request"].values  # type: ignore[attr-defined]
    assert attrs(request)["Cookie"] == "[REDACTED]" and attrs(request)["safe"] == "ok"
    deeper = attrs(request)["deeper"].values[0].kvlist_value.values  # type: ignore[attr-defined]
    assert attrs(deeper)["token"] == "[REDACTED]"
    assert attrs(span.events[0].attributes)["exception.secret"] == "[REDACTED]"
    assert attrs(span.links[0].attributes)["private_key"] == "[REDACTED]"
    counted = ctx.telemetry.counter("ecs_otel_sidecar_redacted_values_total", "").total()
    assert counted == 13
    # idempotent: running again changes nothing and counts nothing
    before = batch.SerializeToString()
    proc.process(Signal.TRACES, batch)
    assert batch.SerializeToString() == before
    assert ctx.telemetry.counter("ecs_otel_sidecar_redacted_values_total", "").total() == counted


def test_redaction_of_logs_and_metrics() -> None:
    proc = RedactionProcessor(RedactionProcessor.Settings(), SidecarContext())
    logs = spans.logs()
    rec = logs.resource_logs[0].scope_logs[0].log_records[0]
    rec.body.kvlist_value.values.extend([kv("password", "p"), kv("msg", "hi")])
    proc.process(Signal.LOGS, logs)
    assert attrs(rec.attributes)["user.password"] == "[REDACTED]"
    assert attrs(rec.body.kvlist_value.values) == {"password": "[REDACTED]", "msg": "hi"}

    metrics = spans.metrics()
    metric = metrics.resource_metrics[0].scope_metrics[0].metrics
    metric[0].sum.data_points[0].attributes.append(kv("auth.token", "t"))
    metric[0].sum.data_points[0].exemplars[0].filtered_attributes.append(kv("session.cookie", "c"))
    metric[1].histogram.data_points[0].attributes.append(kv("Authorization", "x"))
    proc.process(Signal.METRICS, metrics)
    dp = metric[0].sum.data_points[0]
    assert attrs(dp.attributes) == {"route": "/x", "auth.token": "[REDACTED]"}
    assert attrs(dp.exemplars[0].filtered_attributes)["session.cookie"] == "[REDACTED]"
    assert attrs(metric[1].histogram.data_points[0].attributes)["Authorization"] == "[REDACTED]"


def test_redaction_configurable_deny_list_and_url_switch() -> None:
    env = {"ECS_OTEL_REDACTION_DENY_LIST": "ssn, card-number", "ECS_OTEL_REDACTION_SCRUB_URLS": "false"}
    proc = RedactionProcessor(
        load_settings(RedactionProcessor.Settings, {}, env, "processors.redaction"), SidecarContext()
    )
    batch = spans.traces(1)
    span = batch.resource_spans[0].scope_spans[0].spans[0]
    span.attributes.extend(
        [kv("user.ssn", "1"), kv("card_number", "2"), kv("password", "3"), kv("url.full", "https://u:p@h/")]
    )
    proc.process(Signal.TRACES, batch)
    a = attrs(span.attributes)
    assert a["user.ssn"] == "[REDACTED]" and a["card_number"] == "[REDACTED]"
    assert a["password"] == "3"  # replaced list, not extended
    assert a["url.full"] == "https://u:p@h/"
    with pytest.raises(ConfigError, match="deny_list"):
        RedactionProcessor(RedactionProcessor.Settings(deny_list=[" "]), SidecarContext())


def test_redaction_screen_skips_clean_batches_but_not_unicode_case_tricks() -> None:
    """The byte-level screen never lets a sensitive key through, including non-ASCII case folding."""
    ctx = SidecarContext()
    proc = RedactionProcessor(RedactionProcessor.Settings(), ctx)
    clean = spans.traces(20)
    before = clean.SerializeToString()
    assert proc.process(Signal.TRACES, clean) is clean
    assert clean.SerializeToString() == before
    tricky = spans.traces(1)
    span = tricky.resource_spans[0].scope_spans[0].spans[0]
    span.attributes.extend(
        [kv("TO\u212aEN", "kelvin-sign k"), kv("PASSWORD", "upper"), kv("Private-Key", "x")]
    )
    proc.process(Signal.TRACES, tricky)
    a = attrs(span.attributes)
    assert a["TO\u212aEN"] == a["PASSWORD"] == a["Private-Key"] == "[REDACTED]"


def test_unicode_folding_list_is_complete() -> None:
    from sidecar.processors.redaction import UNICODE_FOLDING_TO_ASCII

    found = {
        chr(c)
        for c in range(0x80, 0x110000)
        if not 0xD800 <= c <= 0xDFFF and any(ch.isascii() for ch in chr(c).lower())
    }
    assert found == set(UNICODE_FOLDING_TO_ASCII)


def test_redaction_non_ascii_deny_entries_disable_the_screen_and_still_match() -> None:
    """No byte rule folds Unicode case in general: a non-ASCII entry means every batch is walked."""
    ctx = SidecarContext()
    proc = RedactionProcessor(RedactionProcessor.Settings(deny_list=["contraseña"]), ctx)
    batch = spans.traces(1)
    span = batch.resource_spans[0].scope_spans[0].spans[0]
    span.attributes.extend([kv("user.CONTRASEÑA", "s"), kv("other", "v")])
    proc.process(Signal.TRACES, batch)
    assert attrs(span.attributes)["user.CONTRASEÑA"] == "[REDACTED]"
    assert attrs(span.attributes)["other"] == "v"
    screened = ctx.telemetry.counter("ecs_otel_sidecar_redaction_batches_total", "")
    assert screened.get(signal="traces", result="walked") == 1


def test_redaction_screen_never_misses_a_sensitive_key_among_random_bytes() -> None:
    """Any spelling the rule treats as a deny entry or URL key (case, ``-``/``_``, the Kelvin sign)
    embedded in arbitrary bytes is seen by the screen, whatever surrounds it."""
    import random

    from ecs_otel.redaction import DEFAULT_DENY_LIST, URL_KEYS, KeyRedactor
    from sidecar.processors.redaction import ByteScreen

    redactor = KeyRedactor()
    screen = ByteScreen.build(redactor.deny_list | URL_KEYS)
    assert screen.needles is not None
    rnd = random.Random(5)

    def variant(entry: str) -> str:
        out = []
        for ch in entry:
            choice = rnd.random()
            if ch == "k" and choice < 0.3:
                out.append("\u212a")
            elif ch == "_" and choice < 0.5:
                out.append("-")
            elif choice < 0.5:
                out.append(ch.upper())
            else:
                out.append(ch)
        return "".join(out)

    for _ in range(400):
        entry = rnd.choice([*DEFAULT_DENY_LIST, *URL_KEYS])
        key = variant(entry)
        if entry not in URL_KEYS and rnd.random() < 0.5:
            key = rnd.choice(["http.request.header.", "app.", "Db."]) + key
        assert redactor.is_sensitive(key) or key.lower() in URL_KEYS, key
        data = rnd.randbytes(rnd.randint(0, 40)) + key.encode() + rnd.randbytes(rnd.randint(0, 40))
        assert screen.may_match(data), key


def test_redaction_hands_its_encoding_to_the_fan_out_only_when_exact() -> None:
    """enrich → redaction → fan-out: a clean batch is encoded once (the screen's bytes go to the
    queues); a redacted one is re-encoded, so the exporter never sees the secret."""
    from sidecar.pipeline.stage import TimedStage
    from sidecar.pipeline.telemetry import Registry

    delivered: list[tuple[bytes | None, object]] = []

    class Fan:
        async def consume(self, signal, batch):  # type: ignore[no-untyped-def]
            delivered.append((None, batch))

        async def consume_encoded(self, signal, batch, encoded):  # type: ignore[no-untyped-def]
            delivered.append((encoded, batch))

    ctx = SidecarContext(task_attributes={"aws.ecs.task.id": "abc"})
    telemetry = Registry()
    head = TimedStage("redaction", RedactionProcessor(RedactionProcessor.Settings(), ctx), Signal.TRACES, Fan(),
                      telemetry)
    head = TimedStage("enrich", EnrichProcessor(EnrichProcessor.Settings(), ctx), Signal.TRACES, head, telemetry)

    clean = spans.traces(3)
    dirty = spans.traces(1)
    dirty.resource_spans[0].scope_spans[0].spans[0].attributes.append(kv("db.password", "hunter2"))
    asyncio.run(head.consume(Signal.TRACES, clean))
    asyncio.run(head.consume(Signal.TRACES, dirty))
    (enc_clean, b_clean), (enc_dirty, b_dirty) = delivered
    assert enc_clean == b_clean.SerializeToString()  # type: ignore[attr-defined]
    assert b"aws.ecs.task.id" in enc_clean
    assert enc_dirty is None  # changed by redaction: the fan-out encodes it itself
    assert b"hunter2" not in b_dirty.SerializeToString()  # type: ignore[attr-defined]
    screened = ctx.telemetry.counter("ecs_otel_sidecar_redaction_batches_total", "")
    assert screened.get(signal="traces", result="skipped") == 1
    assert screened.get(signal="traces", result="walked") == 1


def test_redaction_finds_secrets_on_any_item_of_a_flagged_batch() -> None:
    """A batch flagged by a harmless value is screened item by item: every secret, wherever it is,
    is still redacted, and the items without one are left byte-for-byte alone."""
    proc = RedactionProcessor(RedactionProcessor.Settings(), SidecarContext())
    batch = spans.traces(60)
    items = batch.resource_spans[0].scope_spans[0].spans
    items[0].name = "POST /oauth/token"  # flags the batch, needs no change
    items[3].attributes.append(kv("db.password", "p3"))
    items[40].events[0].attributes.append(kv("app.Api-Key", "p40"))
    items[59].links[0].attributes.append(kv("http.url", "https://u:pw@h/?sig=abc"))
    untouched = {i: items[i].SerializeToString() for i in range(60) if i not in (3, 40, 59)}
    proc.process(Signal.TRACES, batch)
    assert attrs(items[3].attributes)["db.password"] == "[REDACTED]"
    assert attrs(items[40].events[0].attributes)["app.Api-Key"] == "[REDACTED]"
    scrubbed = attrs(items[59].links[0].attributes)["http.url"]
    assert "pw" not in str(scrubbed) and "abc" not in str(scrubbed)
    assert all(items[i].SerializeToString() == b for i, b in untouched.items())

    logs = spans.logs()
    rec = logs.resource_logs[0].scope_logs[0].log_records[0]
    rec.body.kvlist_value.values.append(kv("Authorization", "Bearer x"))
    proc.process(Signal.LOGS, logs)
    assert attrs(rec.body.kvlist_value.values)["Authorization"] == "[REDACTED]"
