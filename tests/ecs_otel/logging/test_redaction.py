from __future__ import annotations

import logging

import pytest

from ecs_otel.logging import JsonFormatter
from ecs_otel.redaction import DEFAULT_DENY_LIST, REDACTED, KeyRedactor, redact_mapping, scrub_url
from tests.ecs_otel.logging.support import strict_loads


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "PASSWORD",
        "user.password",
        "http.request.header.authorization",
        "Authorization",
        "api-key",
        "API_KEY",
        "db.credentials",
        "Cookie",
        "set.cookie",
        "private-key",
        "token",
        "passwd",
        "apikey",
        "client.secret",
    ],
)
def test_sensitive_keys(key: str) -> None:
    assert KeyRedactor().is_sensitive(key)


@pytest.mark.parametrize(
    "key",
    [
        "gen_ai.usage.input_tokens",
        "tokens",
        "password_hint.length",  # last segment is "length"
        "user.name",
        "secretary",
        "x-api-key",  # whole key "x_api_key" and last segment both differ from "api_key"
        "authorization_server",
        "",
    ],
)
def test_non_sensitive_keys(key: str) -> None:
    assert not KeyRedactor().is_sensitive(key)


def test_custom_deny_list_replaces_default_and_normalises() -> None:
    red = KeyRedactor(["X-Session-Id"])
    assert red.is_sensitive("x_session_id")
    assert red.is_sensitive("http.request.header.x-session-id")
    assert not red.is_sensitive("password")
    with pytest.raises(ValueError, match="non-empty"):
        KeyRedactor(["", "ok"])


def test_cache_is_bounded_and_counts_what_it_could_not_keep() -> None:
    red = KeyRedactor()
    for i in range(5000):
        assert red.is_sensitive(f"k{i}.password")
    assert red.uncached == 5000 - 4096
    assert red.is_sensitive("k4999.password")  # still answered correctly


def test_default_deny_list_is_the_documented_one() -> None:
    assert set(DEFAULT_DENY_LIST) == {
        "password", "passwd", "secret", "token", "authorization", "cookie",
        "api_key", "apikey", "credentials", "private_key",
    }  # fmt: skip


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
        ("/p?mytoken=1&token2=3", "/p?mytoken=1&token2=3"),  # whole parameter names only
        ("mailto:someone@example.com", "mailto:someone@example.com"),  # no '//' authority: not user-info
        ('"GET /a?sig=s1 HTTP/1.1" 200', '"GET /a?sig=REDACTED HTTP/1.1" 200'),  # a URL inside text
        ("retry with token=abc now", "retry with token=REDACTED now"),
    ],
)
def test_scrub_url(url: str, expected: str) -> None:
    assert scrub_url(url) == expected


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
