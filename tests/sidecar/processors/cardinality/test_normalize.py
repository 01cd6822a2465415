"""Table-driven URL, path and span-name normalisation."""

from __future__ import annotations

import pytest

from sidecar.processors.cardinality._internal import (
    Normalizer,
    normalize_path,
    normalize_span_name,
    normalize_url,
)

PATHS = [
    # identifiers become placeholders
    ("/users/123", "/users/{id}"),
    ("/users/123/orders/9f1c2d3e-4b5a-4c6d-8e7f-0123456789ab", "/users/{id}/orders/{id}"),
    ("/users/123/orders/456/", "/users/{id}/orders/{id}/"),
    ("/orders/9F1C2D3E4B5A4C6D8E7F0123456789AB", "/orders/{id}"),  # UUID without dashes
    ("/commits/3f2a9b8c7d6e5f40", "/commits/{id}"),  # long hex
    ("/objects/0x7fffdeadbeef", "/objects/{id}"),
    ("/sha/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "/sha/{id}"),
    ("/events/01ARZ3NDEKTSV4RRFFQ69G5FAV", "/events/{id}"),  # ULID
    ("/events/01arz3ndektsv4rrffq69g5fav", "/events/{id}"),  # ULID, lower case
    ("/people/jane.doe@example.com", "/people/{email}"),
    ("/people/jane.doe%40example.com/settings", "/people/{email}/settings"),
    ("/reports/2024-05-01", "/reports/{date}"),
    ("/reports/2024-05-01T10:00:00Z/summary", "/reports/{date}/summary"),
    ("/items/123.json", "/items/{id}.json"),
    ("/tokens/aB3dE5fG7hJ9kL1mN2pQ", "/tokens/{id}"),  # random token, 16+ alnum, 3+ digits
    ("/accounts/-42", "/accounts/{id}"),
    ("/a/1/b/2/c/3", "/a/{id}/b/{id}/c/{id}"),
    ("/search?q=shoes&page=2", "/search?q={v}&page={v}"),
    ("/search?flag&q=1#frag", "/search?flag&q={v}"),
    ("/users/123#top", "/users/{id}"),
    # left alone
    ("/v1/", "/v1/"),
    ("/api/v2/health", "/api/v2/health"),
    ("/static/app.3f2a.js", "/static/app.3f2a.js"),
    ("/", "/"),
    ("", ""),
    ("/users", "/users"),
    ("/users/me", "/users/me"),
    ("/blog/my-first-post-2024", "/blog/my-first-post-2024"),
    ("/v10/items", "/v10/items"),
    ("/files/report-q3.pdf", "/files/report-q3.pdf"),
    ("/deadbeef", "/deadbeef"),  # short hex word
    ("/abcdefabcdefabcd", "/abcdefabcdefabcd"),  # hex letters only: could be a word
    ("/ABCDEFGHIJKLMNOPQRSTUVWXYZ", "/ABCDEFGHIJKLMNOPQRSTUVWXYZ"),  # 26 letters, no digit: not a ULID
    ("/users/{id}", "/users/{id}"),  # already a template: idempotent
    ("/api/v2/users/{id}/orders/{id}", "/api/v2/users/{id}/orders/{id}"),
    ("/healthz", "/healthz"),
    ("/index.html", "/index.html"),
    ("/2fa/setup", "/2fa/setup"),
]

URLS = [
    ("https://api.example.com/users/42?x=1", "https://api.example.com/users/{id}?x={v}"),
    ("http://10.0.0.12:8080/orders/123", "http://10.0.0.12:8080/orders/{id}"),
    ("https://user:secret@example.com/a/7", "https://example.com/a/{id}"),  # user-info dropped
    ("https://example.com/api/v2/health", "https://example.com/api/v2/health"),
    ("https://cdn.example.com/static/app.3f2a.js", "https://cdn.example.com/static/app.3f2a.js"),
    ("/relative/99", "/relative/{id}"),
]

SPANS = [
    ("GET /users/123", "GET /users/{id}"),
    ("POST /api/v2/orders/9f1c2d3e-4b5a-4c6d-8e7f-0123456789ab/items", "POST /api/v2/orders/{id}/items"),
    ("GET /api/v2/health", "GET /api/v2/health"),
    ("GET", "GET"),
    ("process order 123456", "process order {id}"),
    ("SELECT orders", "SELECT orders"),
    ("GET https://example.com/u/55", "GET https://example.com/u/{id}"),
    ("HTTP/1.1 GET", "HTTP/1.1 GET"),
]


@pytest.mark.parametrize(("raw", "want"), PATHS)
def test_paths(raw: str, want: str) -> None:
    assert normalize_path(raw) == want
    assert normalize_path(want) == want  # idempotent


@pytest.mark.parametrize(("raw", "want"), URLS)
def test_urls(raw: str, want: str) -> None:
    assert normalize_url(raw) == want


@pytest.mark.parametrize(("raw", "want"), SPANS)
def test_span_names(raw: str, want: str) -> None:
    assert normalize_span_name(raw) == want


def test_table_is_large_enough() -> None:
    assert len(PATHS) + len(URLS) + len(SPANS) >= 40


def test_normalizer_cache_is_bounded_and_counts_changes() -> None:
    n = Normalizer(cache_size=100)
    for i in range(1000):
        assert n.value("url.path", f"/u/{i}") == "/u/{id}"
    assert len(n._cache) <= 100 and n._cache.evicted > 0
    assert n.changed == 1000
    assert n.value("url.full", "https://h/x/1") == "https://h/x/{id}"
