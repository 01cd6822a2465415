"""The redaction processor's byte screen: one multi-needle scan, and never a miss.

Whatever the full matcher (the processor's attribute walk) would change, the screen must flag the
serialized batch holding it; otherwise the batch would leave the task unredacted.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ecs_otel.redaction import DEFAULT_DENY_LIST, URL_KEYS, KeyRedactor
from sidecar.context import SidecarContext
from sidecar.otlp.signals import Signal
from sidecar.processors import redaction
from sidecar.processors.redaction import MAX_DEPTH, ByteScreen, RedactionProcessor
from tests.exporters_basic import spans
from tests.exporters_basic.spans import kv

SCANS = ["aho-corasick", "loop"] if redaction.USE_AHO_CORASICK else ["loop"]

#: What each character of a rule entry may turn into in a real key (case, the Unicode characters
#: that lower-case to ASCII, the separators the rule normalises).
SPELLINGS = {"k": ["k", "K", "\u212a"], "i": ["i", "I", "\u0130"], "_": ["_", "-", " ", ""], "-": ["-", "_"]}


@pytest.fixture(params=SCANS)
def scan(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Each property holds for the Aho-Corasick scan and for the fallback loop alike."""
    monkeypatch.setattr(redaction, "USE_AHO_CORASICK", request.param == "aho-corasick")
    yield request.param


@st.composite
def rule_keys(draw: st.DrawFn) -> str:
    """A key built around one of the rule's own entries, respelled, with a prefix and a suffix that
    may or may not keep it sensitive (the property only speaks about the keys that are)."""
    entry = draw(st.sampled_from(sorted({*DEFAULT_DENY_LIST, *URL_KEYS})))
    chars = []
    for ch in entry:
        options = SPELLINGS.get(ch, [ch, ch.upper()])
        chars.append(draw(st.sampled_from(options)))
    prefix = draw(st.sampled_from(["", "app.", "http.request.header.", "Db.", "user_", "x", " "]))
    suffix = draw(st.sampled_from(["", "s", ".id", " ", "_tokens", "Key"]))
    return prefix + "".join(chars) + suffix


def processor() -> RedactionProcessor:
    return RedactionProcessor(RedactionProcessor.Settings(), SidecarContext())


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=rule_keys(), before=st.binary(max_size=24), after=st.binary(max_size=24))
@example(key="TO\u212aEN", before=b"", after=b"")
@example(key="Private-Key", before=b"\xe2\x84", after=b"")
@example(key="URL.FULL", before=b"", after=b"")
def test_whatever_the_walk_would_redact_the_screen_flags(scan: str, key: str, before: bytes, after: bytes) -> None:
    proc = processor()
    batch = spans.traces(2)
    span = batch.resource_spans[0].scope_spans[0].spans[1]
    span.attributes.extend([kv(key, "https://user:pw@example.com/cb?token=abc&sig=def")])
    data = batch.SerializeToString()
    probe = spans.traces(2).resource_spans[0].scope_spans[0].spans[1]
    probe.attributes.extend([kv(key, "https://user:pw@example.com/cb?token=abc&sig=def")])
    if proc._kvs(probe.attributes, MAX_DEPTH):  # the full matcher changes this attribute
        assert proc._screen.may_match(data), key
        assert proc._screen.may_match(before + key.encode() + after), key


@given(data=st.binary(max_size=300))
@settings(max_examples=300, deadline=None)
def test_aho_corasick_and_the_loop_agree(data: bytes) -> None:
    screen = ByteScreen.build(KeyRedactor().deny_list | URL_KEYS)
    redaction.USE_AHO_CORASICK = False
    try:
        by_loop = screen.may_match(data)
    finally:
        redaction.USE_AHO_CORASICK = screen.automaton is not None
    assert screen.may_match(data) == by_loop


def test_the_screen_uses_one_automaton_when_the_package_is_installed() -> None:
    pytest.importorskip("ahocorasick_rs")
    screen = ByteScreen.build(KeyRedactor().deny_list | URL_KEYS)
    assert redaction.USE_AHO_CORASICK and screen.automaton is not None
    assert screen.needles is not None and b"password" in screen.needles


def test_separators_and_camel_case_fold_away(scan: str) -> None:
    """A rule that treats ``apiKey``, ``api-key`` and ``API KEY`` as ``api_key`` is still screened:
    separators are no part of a needle, and are deleted from the bytes."""
    screen = ByteScreen.build(frozenset({"api_key", "url.full"}))
    assert screen.needles == (b"apikey", b"urlfull")
    for key in (b"apiKey", b"API KEY", b"x-api-key", b"Api_Key", b"url_full", b"URL-FULL"):
        assert screen.may_match(b"\x0a\x06" + key + b"\x12\x01v"), key
    assert not screen.may_match(b"\x0a\x04apir\x12\x03key")  # a needle letter between: skipped
    assert not screen.may_match(b"cache_key messaging.kafka.message.key")


def test_the_screen_still_skips_a_clean_batch(scan: str) -> None:
    proc = processor()
    assert not proc._screen.may_match(spans.traces(20).SerializeToString())
    assert proc.process_encoded(Signal.TRACES, spans.traces(20))[1] is not None


def test_an_entry_that_folds_to_nothing_disables_the_screen() -> None:
    screen = ByteScreen.build(frozenset({"_", "token"}))
    assert screen.needles is None and screen.may_match(b"")
