"""The ``enrich`` and ``redaction`` processors."""

from __future__ import annotations

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


async def test_enrich_runs_in_a_stage_of_a_chain() -> None:
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
    await head.consume(Signal.TRACES, spans.traces(1))
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


def _nest(depth: int, leaf: KeyValue) -> AnyValue:
    value = AnyValue(kvlist_value=KeyValueList(values=[leaf]))
    for _ in range(depth):
        value = AnyValue(kvlist_value=KeyValueList(values=[KeyValue(key="level", value=value)]))
    return value


def test_redaction_of_what_issue_14_found_leaking() -> None:
    proc = RedactionProcessor(RedactionProcessor.Settings(), SidecarContext())
    batch = spans.traces(1)
    span = batch.resource_spans[0].scope_spans[0].spans[0]
    span.name = "GET https://bob:pw1@api.example.com/cb?code=c0de&state=ok"
    cookies = AnyValue(array_value=ArrayValue(values=[AnyValue(string_value="sid=s1"), AnyValue(string_value="x=2")]))
    span.attributes.extend([
        KeyValue(key="http.response.header.set-cookie", value=cookies),  # list-valued, as instrumentations emit
        kv("http.request.header.proxy-authorization", "Basic cHJveHk6cHc="),
        kv("http.request.header.x-amz-security-token", "sts-tok"),
        kv("http.request.header.x-api-key", "hdr-k1"),
        kv("access_token", "at-1"), kv("refresh_token", "rt-1"), kv("oauth.client_secret", "cs-1"),
        kv("aws.secret_access_key", "sak"), kv("Password ", "trailing-space"),
        kv("url.original", "https://h/p?api_key=k9&client_secret=cs9&page=2"),
        kv("http.target", "/login?access_token=t9&sig=s9&signature=g9"),
        kv("db.statement", "ALTER USER app IDENTIFIED BY 'db-pw'"),
        kv("db.query.text", "UPDATE users SET password = 'pw2' WHERE id = 7"),
        kv("gen_ai.usage.input_tokens", 12), kv("cache_key", "ck"), kv("messaging.kafka.message.key", "mk"),
        KeyValue(key="deep", value=_nest(20, kv("password", "deep-pw"))),
        KeyValue(key="deep_clean", value=_nest(20, kv("colour", "blue"))),
    ])
    span.status.message = "PermissionError: connect failed: password=status-pw"  # the SDK's description
    span.events[0].attributes.extend([
        kv("exception.message", "connect failed: password=exc-pw"),
        kv("exception.stacktrace", 'Traceback...\nValueError: {"api_key": "tb-key"}'),
    ])
    proc.process(Signal.TRACES, batch)
    data = batch.SerializeToString()
    for secret in (b"pw1", b"c0de", b"sid=s1", b"cHJveHk6cHc", b"sts-tok", b"hdr-k1", b"at-1", b"rt-1", b"cs-1", b"sak",
                   b"trailing-space", b"k9", b"cs9", b"t9", b"s9", b"g9", b"db-pw", b"pw2", b"deep-pw", b"exc-pw", b"status-pw",
                   b"tb-key"):
        assert secret not in data, secret
    a = attrs(span.attributes)
    assert span.name == "GET https://REDACTED:REDACTED@api.example.com/cb?code=REDACTED&state=ok"
    assert a["http.response.header.set-cookie"] == "[REDACTED]" and a["access_token"] == "[REDACTED]"
    assert a["url.original"] == "https://h/p?api_key=REDACTED&client_secret=REDACTED&page=2"
    assert a["db.statement"] == "ALTER USER app IDENTIFIED BY ?"
    assert a["db.query.text"] == "UPDATE users SET password = ? WHERE id = ?"
    assert (a["gen_ai.usage.input_tokens"], a["cache_key"], a["messaging.kafka.message.key"]) == (12, "ck", "mk")
    assert b"blue" in data  # past the depth limit, a structure that cannot hold a secret passes
    ev = attrs(span.events[0].attributes)
    assert ev["exception.message"] == "connect failed: password=[REDACTED]"


@pytest.mark.parametrize(("mode", "credential", "plain"), [
    # the default: literals go where the statement names a credential, a plain query keeps them
    ("credentials", "SELECT * FROM t WHERE id = ? AND password = ?", "SELECT * FROM orders WHERE id = 42"),
    # the semantic conventions' sanitised text: every literal, every statement (then every such batch is walked)
    ("all", "SELECT * FROM t WHERE id = ? AND password = ?", "SELECT * FROM orders WHERE id = ?"),
    # literals stay; a value written next to a sensitive key still goes
    ("off", "SELECT * FROM t WHERE id = 42 AND password = '[REDACTED]'", "SELECT * FROM orders WHERE id = 42"),
])
def test_redaction_db_statement_modes(mode: str, credential: str, plain: str) -> None:
    env = {"ECS_OTEL_REDACTION_SCRUB_DB_STATEMENTS": mode}
    ctx = SidecarContext()
    proc = RedactionProcessor(load_settings(RedactionProcessor.Settings, {}, env, "processors.redaction"), ctx)
    batch = spans.traces(2)
    first, second = batch.resource_spans[0].scope_spans[0].spans
    first.attributes.append(kv("db.statement", "SELECT * FROM t WHERE id = 42 AND password = 'p'"))
    second.attributes.append(kv("db.query.text", "SELECT * FROM orders WHERE id = 42"))
    proc.process(Signal.TRACES, batch)
    assert attrs(first.attributes)["db.statement"] == credential
    assert attrs(second.attributes)["db.query.text"] == plain
    clean = spans.traces(2)
    clean.resource_spans[0].scope_spans[0].spans[0].attributes.append(kv("db.statement", plain))
    proc.process(Signal.TRACES, clean)
    walked = ctx.telemetry.counter("ecs_otel_sidecar_redaction_batches_total", "").get(signal="traces", result="walked")
    assert walked == (2 if mode == "all" else 1)  # a plain statement costs the screen nothing unless "all"


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


def test_redaction_screen_lets_realistic_clean_batches_skip_the_walk() -> None:
    """The screen earns its keep only without false alarms: the sidecar benchmark's web-service batches
    (random ids joined with text: a three-letter needle such as ``sig`` matched there) are never flagged,
    with either statement mode."""
    from bench.sidecar_vs_rotel import build_bodies

    bodies = build_bodies(16)
    for statements in ("credentials", "all"):
        proc = RedactionProcessor(RedactionProcessor.Settings(scrub_db_statements=statements), SidecarContext())
        assert [i for i, body in enumerate(bodies) if proc._screen.may_match(body)] == []
        assert not proc._screen.may_match(spans.traces(50).SerializeToString())


def test_redaction_screen_never_misses_a_sensitive_key_among_random_bytes() -> None:
    """Any spelling the rules treat as sensitive (case, ``-``/``_``/space, camelCase, the Kelvin sign, a
    credential ending) embedded in arbitrary bytes is seen by the screen, whatever surrounds it."""
    import random

    from ecs_otel.redaction import CREDENTIAL_HEADERS, KeyRedactor, screen_for

    redactor = KeyRedactor()
    screen = screen_for(redactor)
    assert screen.needles is not None
    rnd = random.Random(5)
    bases = ["password", "passwd", "secret", "token", "authorization", "cookie", "api_key", "apikey", "credentials",
             "private_key", "access_key", "secret_key", "client_secret", "refresh_token", "db_password"]

    def variant(entry: str) -> str:
        out = []
        for i, ch in enumerate(entry):
            choice = rnd.random()
            if ch == "k" and choice < 0.3:
                out.append("\u212a")
            elif ch == "_":
                out.append(rnd.choice(["_", "-", " ", ""]) if i and entry[i + 1:i + 2].isalpha() else ch)
                if out[-1] == "" and i + 1 < len(entry):  # camelCase: the boundary is the capital
                    out.append(entry[i + 1].upper())
            elif out and out[-1].isupper() and entry[i - 1] == "_":
                continue
            elif choice < 0.5:
                out.append(ch.upper())
            else:
                out.append(ch)
        return "".join(out)

    for _ in range(600):
        key = variant(rnd.choice(bases))
        if rnd.random() < 0.5:
            key = rnd.choice(["http.request.header.", "app.", "Db.", " "]) + key + rnd.choice(["", " ", "\t"])
        if rnd.random() < 0.1:
            key = rnd.choice(["http.request.header.", "http.response.header."]) + rnd.choice(CREDENTIAL_HEADERS)
        if not redactor.is_sensitive(key):
            continue  # a variant the rules do not match (e.g. "pass wd"): nothing for the screen to see
        data = rnd.randbytes(rnd.randint(0, 40)) + key.encode() + rnd.randbytes(rnd.randint(0, 40))
        assert screen.may_match(data), key


def _rule_words() -> list[str]:
    from ecs_otel.redaction import CREDENTIAL_HEADERS, DEFAULT_DENY_LIST, SIGNING_QUERY_PARAMS

    words = {e.strip("*") for e in DEFAULT_DENY_LIST} | set(CREDENTIAL_HEADERS) | set(SIGNING_QUERY_PARAMS)
    words |= {"access_token", "client_secret", "aws_secret_access_key", "db_password", "x_api_key"}
    # near misses the rules must leave alone (the screen may flag them; it must not matter)
    words |= {"input_tokens", "cache_key", "token_count", "secretary", "page_size", "message.key", "status_code"}
    return sorted(words)


def _spelled(word: str, style: int) -> str:
    """``word`` as code spells keys: as is, UPPER, kebab, camelCase, Title-Kebab, a Kelvin sign for k."""
    parts = [p for p in word.replace("-", "_").split("_") if p]
    if style == 1:
        return word.upper()
    if style == 2:
        return "-".join(parts)
    if style == 3:
        return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])
    if style == 4:
        return "-".join(p[:1].upper() + p[1:] for p in parts)
    if style == 5:
        return word.replace("k", "\u212a")
    return word


def _keys():  # type: ignore[no-untyped-def]
    from hypothesis import strategies as st

    from ecs_otel.redaction import DB_STATEMENT_KEYS, TEXT_KEYS, URL_KEYS

    prefixes = st.sampled_from(["", "", "app.", "http.request.header.", "http.response.header.", " ", "user."])
    suffixes = st.sampled_from(["", "", " ", "s", "_id", ".length", "\t"])
    rule = st.builds(lambda p, w, style, x: p + _spelled(w, style) + x, prefixes, st.sampled_from(_rule_words()),
                     st.integers(0, 5), suffixes)
    special = st.sampled_from(sorted(URL_KEYS | DB_STATEMENT_KEYS | TEXT_KEYS)).map(
        lambda k: k.upper() if k.startswith("url.f") else k)
    return st.one_of(rule, special, st.text(max_size=6))


def _texts():  # type: ignore[no-untyped-def]
    """Values: URLs with user-info or query parameters, paths with a query, ``key=value`` prose, statements."""
    from hypothesis import strategies as st

    words = st.builds(_spelled, st.sampled_from(_rule_words()), st.integers(0, 5))
    plain = st.text(alphabet="ab=:&?@/ '\"x\n", max_size=8)
    url = st.builds(lambda user, name, v, tail: f"https://{user}h.example/p?{name}={v}{tail}",
                    st.sampled_from(["", "u:p@", "u@"]), words, plain, st.sampled_from(["", "&a=1", "#f", " done"]))
    userinfo = st.builds(lambda user, path: f"GET https://{user}@h.example/{path}", st.sampled_from(["u:p", "u"]),
                         plain)
    target = st.builds(lambda pre, name, v: f"{pre}/cb?{name}={v}", st.sampled_from(["", "GET "]), words, plain)
    prose = st.builds(lambda pre, name, sep, v: f"{pre}{name}{sep}{v}", st.sampled_from(["", "failed: ", "(", "?"]),
                      words, st.sampled_from(["=", ": ", "': '", '":"', " = "]), plain)
    sql = st.builds(lambda head, v: f"{head} '{v}' LIMIT 5", st.sampled_from(
        ["ALTER USER app IDENTIFIED BY", "SELECT * FROM t WHERE a =", "ALTER USER app IDENTIFI\u212aED BY"]), plain)
    return st.one_of(url, userinfo, target, prose, sql, plain)


def _any_values(depth: int):  # type: ignore[no-untyped-def]
    """Mostly values without any rule word (so a key decides alone), sometimes structured text."""
    from hypothesis import strategies as st

    scalars = st.one_of(st.integers(-(2**63), 2**63 - 1).map(lambda v: AnyValue(int_value=v)),
                        st.text(alphabet="abc xyz01", max_size=6).map(lambda v: AnyValue(string_value=v)),
                        _texts().map(lambda v: AnyValue(string_value=v)))
    if depth <= 0:
        return scalars
    inner = _any_values(depth - 1)
    kvs = st.lists(st.tuples(_keys(), inner), max_size=2).map(
        lambda items: AnyValue(kvlist_value=KeyValueList(values=[KeyValue(key=k, value=v) for k, v in items])))
    arrays = st.lists(inner, max_size=2).map(lambda items: AnyValue(array_value=ArrayValue(values=items)))
    return st.one_of(scalars, scalars, kvs, arrays)


def _one_place():  # type: ignore[no-untyped-def]
    """One key-value, span name, span status or log body: small enough that only its own content can flag
    the screen."""
    from hypothesis import strategies as st

    attribute = st.tuples(st.sampled_from(["span", "event", "link", "resource", "log"]), _keys(), _any_values(2))
    text = st.tuples(st.sampled_from(["name", "body", "status"]), _texts(), st.none())
    return st.one_of(attribute, text)


def _batch_with(place: str, key: str, value):  # type: ignore[no-untyped-def]
    if place in ("log", "body"):
        batch = spans.logs()
        rec = batch.resource_logs[0].scope_logs[0].log_records[0]
        del rec.attributes[:]
        if place == "body":
            rec.body.string_value = key
        else:
            rec.attributes.append(KeyValue(key=key, value=value))
        return Signal.LOGS, batch
    batch = spans.traces(1, seed=3, resource={})
    span = batch.resource_spans[0].scope_spans[0].spans[0]
    target = {"span": span.attributes, "event": span.events[0].attributes, "link": span.links[0].attributes,
              "resource": batch.resource_spans[0].resource.attributes}.get(place)
    if place == "name":
        span.name = key
    elif place == "status":
        span.status.message = key
    else:
        target.append(KeyValue(key=key, value=value))
    return Signal.TRACES, batch


def _full_walk_processor(statements: str = "credentials") -> RedactionProcessor:
    """The same processor with a screen that flags everything: the full matcher."""
    from ecs_otel.redaction import ByteScreen

    proc = RedactionProcessor(RedactionProcessor.Settings(scrub_db_statements=statements), SidecarContext())
    proc._screen = ByteScreen(b"", b"", None)
    return proc


#: One minimal example per rule (and so per screen needle): the full matcher changes it and the screen flags it.
#: Dropping any needle from the screen fails one of these.
RULE_EXAMPLES: list[tuple[str, str, str, str]] = [  # (place, key or text, value, the secret that must go)
    ("span", "refresh_token", "r1-zq9", "r1-zq9"),
    ("span", "user.Password", "p1-zq9", "p1-zq9"),
    ("span", "db_passwd", "p2-zq9", "p2-zq9"),
    ("span", "webhook_secret", "s1-zq9", "s1-zq9"),
    ("span", "http.request.header.authorization", "Bearer a1-zq9", "a1-zq9"),
    ("span", "http.response.header.set-cookie", "c=c1-zq9", "c1-zq9"),
    ("span", "stripe-api-key", "k1-zq9", "k1-zq9"),
    ("span", "aws_access_key", "k2-zq9", "k2-zq9"),
    ("span", "sshPrivateKey", "k3-zq9", "k3-zq9"),
    ("span", "db.credentials", "c2-zq9", "c2-zq9"),
    ("span", "http.target", "/s3/o?X-Amz-Credential=AKIA%2Fzq9", "AKIA%2Fzq9"),
    ("span", "url.query", "sig=sig-zq9", "sig-zq9"),
    ("span", "http.target", "/cb?code=code-zq9&state=1", "code-zq9"),
    ("name", "GET https://u:ui-zq9@h.example/x", "", "ui-zq9"),
    ("span", "db.statement", "ALTER USER app IDENTIFIED BY 'pw-zq9'", "pw-zq9"),
    ("span", "db.query.text", "INSERT INTO api_keys VALUES ('k-987654321')", "987654321"),
    ("event", "exception.message", "login failed password=ex-zq9", "ex-zq9"),
    ("body", "POST /login?access_token=body-zq9", "", "body-zq9"),
]


@pytest.mark.parametrize(("place", "key", "value", "secret"), RULE_EXAMPLES, ids=[r[1] for r in RULE_EXAMPLES])
def test_redaction_rule_examples_change_and_are_flagged(place: str, key: str, value: str, secret: str) -> None:
    signal, batch = _batch_with(place, key, AnyValue(string_value=value))
    assert secret.encode() in batch.SerializeToString()
    proc = RedactionProcessor(RedactionProcessor.Settings(), SidecarContext())
    assert proc._screen.may_match(batch.SerializeToString())
    proc.process(signal, batch)
    assert secret.encode() not in batch.SerializeToString()


@pytest.mark.parametrize("statements", ["credentials", "all"])
def test_redaction_screen_has_no_false_negatives_property(statements: str) -> None:
    """Issue 14: the wider rules keep the byte screen. Whatever the full matcher (every item walked, every
    rule applied) changes, the screen flags; so screening never changes the output. Each example holds one
    key-value (nested up to two levels), span name or log body, so no other content can flag it."""
    from hypothesis import given, settings

    proc = RedactionProcessor(RedactionProcessor.Settings(scrub_db_statements=statements), SidecarContext())
    full = _full_walk_processor(statements)
    changes = []

    @settings(max_examples=1000, deadline=None, derandomize=True)
    @given(one=_one_place())
    def check(one) -> None:  # type: ignore[no-untyped-def]
        signal, original = _batch_with(*one)
        data = original.SerializeToString()
        screened, walked = type(original)(), type(original)()
        screened.CopyFrom(original)
        walked.CopyFrom(original)
        changed = full._walk(signal, walked)
        if changed:
            changes.append(one)
            assert proc._screen.may_match(data), one
        proc.process(signal, screened)
        assert screened.SerializeToString() == walked.SerializeToString(), one

    check()
    assert len(changes) >= 250  # the strategy really produces things to redact


async def test_redaction_hands_its_encoding_to_the_fan_out_only_when_exact() -> None:
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
    await head.consume(Signal.TRACES, clean)
    await head.consume(Signal.TRACES, dirty)
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
