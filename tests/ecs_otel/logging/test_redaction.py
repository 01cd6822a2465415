from __future__ import annotations

import logging

import pytest

from ecs_otel.logging import JsonFormatter
from ecs_otel.redaction import (
    CREDENTIAL_HEADERS,
    DB_STATEMENT_KEYS,
    DEFAULT_DENY_LIST,
    REDACTED,
    SIGNING_QUERY_PARAMS,
    URL_KEYS,
    KeyRedactor,
    TextMasker,
    env_secrets,
    redact_mapping,
    scrub_sql,
    scrub_statement,
    scrub_url,
)
from tests.ecs_otel.logging.support import strict_loads
from tests.support.paths import REPO_ROOT

#: DESIGN.md's decision ("Redaction matches keys after normalising them…"), then the keys issue 14 found leaking,
#: then spellings: (key, sensitive?).
KEY_TABLE: list[tuple[str, bool]] = [
    # DESIGN.md: must match
    ("user.password", True),
    ("access_token", True),
    ("oauth.client_secret", True),
    ("aws.secret_access_key", True),
    ("Password ", True),
    ("http.request.header.set-cookie", True),
    # DESIGN.md: must not match
    ("gen_ai.usage.input_tokens", False),
    ("cache_key", False),
    ("messaging.kafka.message.key", False),
    ("aws.s3.key", False),
    ("db.cassandra.page_size", False),
    # issue 14: leaked before
    ("http.request.header.proxy-authorization", True),
    ("http.request.header.x-amz-security-token", True),
    ("refresh_token", True),
    ("http.request.header.x-api-key", True),  # an API key in a header is a credential
    ("x-api-key", True),
    ("http.response.header.set-cookie", True),
    # header attributes: credential headers only
    ("http.request.header.x-auth-token", True),
    ("http.request.header.content-type", False),
    ("http.response.header.x-request-id", False),
    # normalisation: case, kebab, camel, whitespace
    ("PASSWORD", True),
    ("  token\t", True),
    ("accessToken", True),
    ("clientSecret", True),
    ("APIKey", True),
    ("X-Api-Key", True),
    ("db password", True),
    ("AWS_SECRET_ACCESS_KEY", True),
    ("http.request.header.Authorization", True),
    ("inputTokens", False),
    # endings: *_token not *_tokens, *_secret, *_password, *_passwd, *api_key, *access_key, *private_key, *secret_key
    ("csrf_token", True),
    ("output_tokens", False),
    ("tokens", False),
    ("webhook_secret", True),
    ("db_passwd", True),
    ("stripe_api_key", True),
    ("aws_access_key", True),
    ("ssh.private_key", True),
    ("app.secret_key", True),
    ("access_key_id", False),  # the id of an access key is not the secret
    # *password* in the last segment
    ("dbpassword", True),
    ("password_hash", True),
    ("password_hint.length", False),  # the last segment is "length"
    # whole segments, never substrings
    ("secretary", False),
    ("authorization_server", False),
    ("x-api-key-id", False),
    ("token_count", False),
    ("user.name", False),
    ("", False),
    # the old list stays covered
    ("api-key", True),
    ("db.credentials", True),
    ("Cookie", True),
    ("set.cookie", True),
    ("private-key", True),
    ("passwd", True),
    ("apikey", True),
    ("client.secret", True),
]


@pytest.mark.parametrize(("key", "sensitive"), KEY_TABLE, ids=[repr(k) for k, _ in KEY_TABLE])
def test_key_rules(key: str, sensitive: bool) -> None:
    assert KeyRedactor().is_sensitive(key) is sensitive


def test_custom_deny_list_replaces_default_and_normalises() -> None:
    red = KeyRedactor(["X-Session-Id", "*_pin"])
    assert red.is_sensitive("x_session_id")
    assert red.is_sensitive("http.request.header.x-session-id")
    assert red.is_sensitive("card.cardPin") and not red.is_sensitive("card.pin_length")
    assert not red.is_sensitive("password")
    assert red.is_sensitive("http.request.header.authorization")  # credential headers whatever the list
    with pytest.raises(ValueError, match="non-empty"):
        KeyRedactor(["", "ok"])


def test_cache_is_bounded_and_counts_what_it_could_not_keep() -> None:
    red = KeyRedactor()
    for i in range(5000):
        assert red.is_sensitive(f"k{i}.password")
    assert red.uncached == 5000 - 4096
    assert red.is_sensitive("k4999.password")  # still answered correctly


def test_docs_list_every_default_rule() -> None:
    """docs/redaction.md is where the README sends readers: every default entry, header, URL key and signing
    parameter is named there."""
    doc = (REPO_ROOT / "docs" / "redaction.md").read_text(encoding="utf-8")
    names = [*DEFAULT_DENY_LIST, *CREDENTIAL_HEADERS, *URL_KEYS, *SIGNING_QUERY_PARAMS, *DB_STATEMENT_KEYS]
    missing = [n for n in names if f"`{n}`" not in doc]
    assert not missing, missing
    assert "ECS_OTEL_REDACTION_SCRUB_DB_STATEMENTS" in doc


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com/a?b=1", "https://example.com/a?b=1"),
        ("https://user:pw@example.com/a", "https://REDACTED:REDACTED@example.com/a"),
        ("https://user@example.com/", "https://REDACTED:REDACTED@example.com/"),
        (
            "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4&X-Amz-Credential=AKIA%2F2026&X-Amz-Signature=abc123"
            "&X-Amz-Security-Token=tok&x-id=GetObject",
            "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4&X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED"
            "&X-Amz-Security-Token=REDACTED&x-id=GetObject",
        ),
        ("token=abc&page=2", "token=REDACTED&page=2"),  # a bare url.query
        ("/p?SIG=1;signature=2#frag", "/p?SIG=REDACTED;signature=REDACTED#frag"),
        ("/p?password=&q=token=x", "/p?password=REDACTED&q=token=x"),  # value of q is left alone
        ("/p?mytoken=1&token2=3", "/p?mytoken=1&token2=3"),  # neither a deny entry nor a credential ending
        # issue 14: query secrets by the key rules, and signing / grant parameters
        (
            "https://api.example.com/cb?access_token=a1&api_key=k2&client_secret=s3&code=c4&state=ok",
            "https://api.example.com/cb?access_token=REDACTED&api_key=REDACTED&client_secret=REDACTED&code=REDACTED"
            "&state=ok",
        ),
        ("/v1/items?apiKey=k&refreshToken=r&page_size=10", "/v1/items?apiKey=REDACTED&refreshToken=REDACTED&page_size=10"),
        ("/x?input_tokens=5&cache_key=c", "/x?input_tokens=5&cache_key=c"),  # the must-not-match keys stay
        ("code=abc", "code=REDACTED"),  # url.query of an OAuth redirect
        ("mailto:someone@example.com", "mailto:someone@example.com"),  # no '//' authority: not user-info
        ('"GET /a?sig=s1 HTTP/1.1" 200', '"GET /a?sig=REDACTED HTTP/1.1" 200'),  # a URL inside text
        ("retry with token=abc now", "retry with token=REDACTED now"),
    ],
)
def test_scrub_url(url: str, expected: str) -> None:
    assert scrub_url(url) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET https://u:p@h/x?sig=1&a=2", "GET https://REDACTED:REDACTED@h/x?sig=REDACTED&a=2"),  # a span name
        ("exit code=1, sig=2", "exit code=1, sig=2"),  # prose: sig and code only inside a query
        ("GET /cb?code=c4 HTTP/1.1", "GET /cb?code=REDACTED HTTP/1.1"),
        ("see mailto:a@b.example", "see mailto:a@b.example"),
    ],
)
def test_scrub_url_in_text(text: str, expected: str) -> None:
    assert scrub_url(text, text=True) == expected


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ("ALTER USER app IDENTIFIED BY 's3cr3t'", "ALTER USER app IDENTIFIED BY ?"),
        ("UPDATE users SET password = 'x' WHERE id = 42", "UPDATE users SET password = ? WHERE id = ?"),
        ("SELECT * FROM t1 WHERE a = 'it''s' AND b IN (1, 2.5, -3e2) LIMIT 10",
         "SELECT * FROM t1 WHERE a = ? AND b IN (?, ?, ?) LIMIT ?"),
        ('SELECT "col2" FROM "t3" WHERE x = $1 AND y = :name AND z = %(z)s AND w = %s AND v = ?',
         'SELECT "col2" FROM "t3" WHERE x = $1 AND y = :name AND z = %(z)s AND w = %s AND v = ?'),
        ("SELECT 0x1F, X'0A', N'ü'", "SELECT ?, ?, ?"),
    ],
)
def test_scrub_sql(statement: str, expected: str) -> None:
    assert scrub_sql(statement) == expected


@pytest.mark.parametrize(
    ("mode", "statement", "expected"),
    [
        ("credentials", "ALTER USER app IDENTIFIED BY 's3'", "ALTER USER app IDENTIFIED BY ?"),
        ("credentials", "CREATE USER bob WITH PASSWORD 's3' VALID UNTIL '2030-01-01'",
         "CREATE USER bob WITH PASSWORD ? VALID UNTIL ?"),
        ("credentials", "SELECT * FROM orders WHERE id = 42", "SELECT * FROM orders WHERE id = 42"),
        ("all", "SELECT * FROM orders WHERE id = 42", "SELECT * FROM orders WHERE id = ?"),
        ("off", "ALTER USER app IDENTIFIED BY 's3'", "ALTER USER app IDENTIFIED BY 's3'"),
    ],
)
def test_scrub_statement_modes(mode: str, statement: str, expected: str) -> None:
    assert scrub_statement(statement, mode) == expected


def test_scrub_sql_returns_same_object_when_clean() -> None:
    statement = "SELECT name FROM users WHERE id = $1"
    assert scrub_sql(statement) is statement


MASK_TABLE: list[tuple[str, str]] = [
    ("login failed password=hunter2 user=bob", "login failed password=[REDACTED] user=bob"),
    ('{"password": "x", "user": "bob"}', '{"password": "[REDACTED]", "user": "bob"}'),
    ("kwargs(api_key='k1', region='eu')", "kwargs(api_key='[REDACTED]', region='eu')"),
    ("{'Authorization': b'AWS4-HMAC-SHA256 Credential=AK/x, Signature=ab'}", "{'Authorization': b'[REDACTED]'}"),
    ("Authorization: Bearer abc.def\nnext", "Authorization: [REDACTED]\nnext"),
    ("Cookie: a=1; session=xyz", "Cookie: [REDACTED]"),
    ("accessToken: Bearer abc", "accessToken: [REDACTED]"),
    ("x-amz-security-token:sess-1\nX-Amz-Signature=beef", "x-amz-security-token:[REDACTED]\nX-Amz-Signature=[REDACTED]"),
    ("url=https://u:p@h/x?access_token=abc&b=1", "url=https://REDACTED:REDACTED@h/x?access_token=REDACTED&b=1"),
    ("sent Bearer eyJhbGciOi.x-y_z", "sent Bearer [REDACTED]"),
    ("missing bearer token", "missing bearer token"),  # prose
    ("Basic dXNlcjpwYXNz but Basic authentication", "Basic [REDACTED] but Basic authentication"),
    ("password='cut off", "password=[REDACTED]"),
    ("input_tokens=5 cache_key=c", "input_tokens=5 cache_key=c"),
    ("user alice checked out basket 1234", "user alice checked out basket 1234"),
]


@pytest.mark.parametrize(("text", "expected"), MASK_TABLE)
def test_text_masker(text: str, expected: str) -> None:
    masker = TextMasker(secrets=())
    assert masker.mask(text) == expected
    assert masker.mask(expected) == expected  # idempotent


def test_text_masker_literal_secrets_and_aws_shapes() -> None:
    masker = TextMasker(secrets=["lit-secret-value", "short"], aws_shapes=True)
    assert masker.mask("value lit-secret-value and short") == "value [REDACTED] and short"  # < 8 chars: ignored
    assert masker.mask("key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY") == "key [REDACTED]"
    sha = "356a192b7913b04c54574d18c28d46e6395428ab"
    assert masker.mask(f"sha {sha}") == f"sha {sha}"  # a hex digest is not a key
    arn = "arn:aws:ecs:us-east-1:829490980523:task/prom-ecs-exporter-sandbox/bae32def0ab64f06818e8862e58f8d6d"
    assert masker.mask(arn) == arn  # nor is an ARN's name/id tail (40 characters with a '/')
    assert masker.mask("IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ") == "[REDACTED]"
    clean = "nothing to see here"
    assert masker.mask(clean) is clean


def test_env_secrets_reads_credential_variables_and_otlp_headers() -> None:
    env = {
        "ECS_OTEL_RECEIVER_TOKEN": "tok-1234567890",
        "AWS_SECRET_ACCESS_KEY": "abc",  # too short to search for
        "OTEL_EXPORTER_OTLP_HEADERS": "x-honeycomb-team=hc-key-123456,authorization=Basic dXNlcjpwYXNzd29yZA==",
    }
    assert set(env_secrets(env)) == {
        "tok-1234567890", "hc-key-123456", "Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA==",
    }  # fmt: skip


def test_past_the_depth_limit_a_value_is_redacted_not_passed() -> None:
    """Issue 14: ``password`` nested more than 16 levels deep came out unredacted."""
    deep: dict[str, object] = {"password": "deep-secret"}
    for _ in range(20):
        deep = {"level": deep}
    out = redact_mapping({"a": deep})
    assert "deep-secret" not in repr(out)
    assert REDACTED in repr(out)
    shallow = {"level": {"level": {"password": "p"}}}
    assert redact_mapping(shallow) == {"level": {"level": {"password": REDACTED}}}


def test_scrub_url_returns_same_object_when_clean() -> None:
    url = "https://example.com/a?b=1"
    assert scrub_url(url) is url


def test_redact_mapping_nested_without_mutating() -> None:
    data = {
        "user": {"name": "ann", "password": "pw", "profile": {"api-key": "k"}},
        "headers": [{"Authorization": "Bearer x"}, {"accept": "json"}],
        "url.full": "https://u:p@h/?token=t",
        "http.url": 5,
        "gen_ai.usage.input_tokens": 12,
        "Secret": {"nested": "whole value goes"},
    }
    out = redact_mapping(data)
    assert out == {
        "user": {"name": "ann", "password": REDACTED, "profile": {"api-key": REDACTED}},
        "headers": [{"Authorization": REDACTED}, {"accept": "json"}],
        "url.full": "https://REDACTED:REDACTED@h/?token=REDACTED",
        "http.url": 5,
        "gen_ai.usage.input_tokens": 12,
        "Secret": REDACTED,
    }
    assert data["user"]["password"] == "pw"
    assert data["headers"][0]["Authorization"] == "Bearer x"


def test_redact_mapping_returns_input_when_nothing_to_do() -> None:
    data = {"a": 1, "b": {"c": [1, 2]}}
    assert redact_mapping(data) is data


def test_url_keys_are_matched_alike_at_top_level_and_nested() -> None:
    """One rule: ``URL.Full`` is a URL key whether it is an ``extra=`` field, nested in one, or in a mapping."""
    url = "https://u:p@h/x?sig=s"
    scrubbed = "https://REDACTED:REDACTED@h/x?sig=REDACTED"
    rec = logging.LogRecord("app", logging.INFO, "p", 1, "m", None, None)
    rec.__dict__.update({"URL.Full": url, "req": {"URL.Full": url, "url.full": url}})
    line = strict_loads(JsonFormatter().format(rec))
    assert line["URL.Full"] == scrubbed
    assert line["req"] == {"URL.Full": scrubbed, "url.full": scrubbed}
    assert redact_mapping({"req": {"URL.Full": url}}) == {"req": {"URL.Full": scrubbed}}


def test_byte_screen_finds_rare_byte_needles_however_many_places() -> None:
    """``code=``, ``sig=`` and ``://`` are found around each ``=`` / ``:``, and by a plain search when there
    are more places than the shortcut checks; other needles are plain searches."""
    from ecs_otel.redaction import KeyRedactor, screen_for

    screen = screen_for(KeyRedactor())
    for tail in (b"/cb?CODE=x", b"?Sig=1", b"https://h/", b"x-api-key"):
        for noise in (b"", b"a=1&" * 100, b"t:0 " * 100):
            assert screen.may_match(noise + tail), (noise[:8], tail)
            assert screen.may_match(tail + noise), (noise[:8], tail)
    assert not screen.may_match(b"exit status 1, signal" + b"a=1&" * 100)  # nothing around its "=" places
