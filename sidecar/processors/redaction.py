"""``redaction``: secrets in attributes never leave the task.

The rule is the one the app's JSON logs use (:mod:`ecs_otel.redaction`, DESIGN.md): a key is
sensitive when the whole key or its last dot-separated segment is on the deny-list
(case-insensitive, ``-`` same as ``_``), so ``http.request.header.authorization`` is redacted
and ``gen_ai.usage.input_tokens`` is not. Values of sensitive keys become ``"[REDACTED]"``
wherever OTLP carries attributes, inside nested key-value lists too; URL values (``url.full``,
``http.url``, ``url.query``) keep their shape but lose user-info and signing/token query values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import Message

from ecs_otel.redaction import DEFAULT_DENY_LIST, REDACTED, URL_KEYS, KeyRedactor, scrub_url
from sidecar.config import ConfigError, setting
from sidecar.context import SidecarContext
from sidecar.otlp.attributes import attribute_lists_of, resource_attribute_lists, scopes
from sidecar.otlp.signals import Signal
from sidecar.pipeline.processor import Processor

#: Nesting below which key-value lists are not inspected (a hostile body cannot make us recurse forever).
MAX_DEPTH = 16

#: Non-ASCII characters whose lower case contains ASCII letters (U+0130 → "i̇", the Kelvin sign → "k").
#: A test recomputes this list from the running Python's Unicode tables.
UNICODE_FOLDING_TO_ASCII = ("\u0130", "\u212a")

_aho_corasick: Any
try:
    import ahocorasick_rs as _aho_corasick
except ImportError:  # no wheel for this platform: one substring pass per needle instead
    _aho_corasick = None

#: Whether :class:`ByteScreen` scans with one Aho-Corasick automaton (``ahocorasick-rs``) or with one
#: ``in`` per needle. Read on every call, so tests can force the fallback without uninstalling.
USE_AHO_CORASICK: bool = _aho_corasick is not None


@dataclass(frozen=True)
class ByteScreen:
    """Does a serialized batch possibly hold a key the redaction rule would change? Two C passes.

    The batch's bytes are folded with one ``bytes.translate``: ASCII upper case to lower, each
    character of :data:`UNICODE_FOLDING_TO_ASCII` to the ASCII letter it lowers to (its UTF-8 lead
    bytes are deleted, its last byte mapped), and every byte that is in no needle deleted: the
    separators ``_ - . space`` among them, which are taken out of the needles too, so ``api_key``,
    ``api-key``, ``apiKey`` and ``API KEY`` all fold to ``apikey`` (whatever the rule does with
    separators and camelCase, a key it matches still folds to its needle). The needles are the
    rule's own lists (deny-list entries, URL keys) as the processor hands them over. All of this is
    applied to every byte, values and ids included: joining or folding bytes only adds false alarms
    (a walk), never misses. ``needles`` is ``None`` when an entry is not ASCII (no byte rule covers
    Unicode case folding in general) or folds to nothing: then every batch is walked.

    The folded bytes are then scanned once for all needles by an Aho-Corasick automaton (in Rust,
    ``ahocorasick-rs``): measured on OTLP spans, that scan costs about what one ``needle in folded``
    costs, against one such pass per needle before (12 needles by default, more as the rules grow).
    Without the package, the per-needle loop is the fallback; both answer the same.
    """

    table: bytes
    delete: bytes
    needles: tuple[bytes, ...] | None
    automaton: Any = field(default=None, compare=False, repr=False)

    #: Bytes the rule's normalisation treats as word separators: never part of a needle.
    SEPARATORS = b"_-. "

    @classmethod
    def build(cls, keys: frozenset[str]) -> ByteScreen:
        table = bytearray(range(256))
        for c in range(ord("A"), ord("Z") + 1):
            table[c] = c + 32
        delete = bytearray()
        exact = True
        for ch in UNICODE_FOLDING_TO_ASCII:
            encoded = ch.encode()
            letters = [c for c in ch.lower() if c.isascii()]
            last = encoded[-1]
            if len(letters) != 1 or (table[last] != last and table[last] != ord(letters[0])):
                exact = False  # cannot be folded byte-wise: fall back to always walking
                continue
            table[last] = ord(letters[0])
            delete.extend(b for b in encoded[:-1] if b not in delete)
        needles: tuple[bytes, ...] | None = None
        folded = {k.encode().translate(bytes(table), cls.SEPARATORS) for k in keys}
        if exact and all(k.isascii() for k in keys) and all(folded):
            # a needle containing another needle adds work and never a hit
            needles = tuple(sorted(n for n in folded if not any(o != n and o in n for o in folded)))
            # Bytes that fold to no needle character cannot be inside a match: deleting them too
            # (ids, timestamps, framing, digits, separators) halves what the scan reads.
            alphabet = set(b"".join(needles))
            delete.extend(b for b in range(256) if table[b] not in alphabet and b not in delete)
        automaton = _aho_corasick.BytesAhoCorasick(list(needles)) if needles and _aho_corasick else None
        return cls(bytes(table), bytes(delete), needles, automaton)

    def may_match(self, data: bytes) -> bool:
        if self.needles is None:
            return True
        folded = data.translate(self.table, self.delete)
        if self.automaton is not None and USE_AHO_CORASICK:
            return bool(self.automaton.find_matches_as_indexes(folded))
        for needle in self.needles:  # noqa: SIM110 - a plain loop is measurably cheaper than any(genexpr)
            if needle in folded:
                return True
        return False


class RedactionProcessor(Processor):
    name = "redaction"

    @dataclass
    class Settings:
        deny_list: list[str] = setting(  # noqa: RUF009 - setting() builds a default_factory
            list(DEFAULT_DENY_LIST),
            help="Attribute keys (or last key segments) whose values are replaced by [REDACTED].",
            env="ECS_OTEL_REDACTION_DENY_LIST",
        )
        scrub_urls: bool = setting(
            True,
            help="Remove user-info and signature/token query values from url.full, http.url and url.query.",
            env="ECS_OTEL_REDACTION_SCRUB_URLS",
        )

    def __init__(self, settings: RedactionProcessor.Settings, context: SidecarContext) -> None:
        try:
            self._redactor = KeyRedactor(settings.deny_list)
        except ValueError as e:
            raise ConfigError(
                "processors.redaction.deny_list", "non-empty key names", settings.deny_list
            ) from e
        self.settings = settings
        self.context = context
        self._url_keys = URL_KEYS if settings.scrub_urls else frozenset()
        # Every sensitive key contains a deny-list entry, and every URL key itself, as a substring:
        # if none of these occurs anywhere in the batch's bytes, no attribute can need a change.
        self._screen = ByteScreen.build(self._redactor.deny_list | self._url_keys)
        self._redacted = context.telemetry.counter(
            "ecs_otel_sidecar_redacted_values_total",
            "Attribute values replaced or scrubbed by the redaction processor.",
            ("signal",),
        )
        self._screened = context.telemetry.counter(
            "ecs_otel_sidecar_redaction_batches_total",
            "Batches the redaction processor saw, by whether the byte screen let them skip the walk "
            "(skipped) or they were walked attribute by attribute (walked).",
            ("signal", "result"),
        )

    def process(self, signal: Signal, batch: Message) -> Message | None:
        return self.process_encoded(signal, batch)[0]

    def process_encoded(self, signal: Signal, batch: Message) -> tuple[Message | None, bytes | None]:
        """Redact ``batch`` in place; also returns its serialization when that is still exact.

        The screen needs the batch's bytes; when nothing changed they are what the fan-out would
        encode next, so the pipeline hands them on instead of serializing twice.
        """
        data = batch.SerializeToString()
        if not self._screen.may_match(data):
            self._screened.inc(signal=signal.value, result="skipped")
            return batch, data
        self._screened.inc(signal=signal.value, result="walked")
        n = self._walk(signal, batch)
        if n:
            self._redacted.inc(n, signal=signal.value)
            return batch, None
        return batch, data

    def _walk(self, signal: Signal, batch: Message) -> int:
        """Redact a batch the screen flagged. Resource and scope attributes are few: walk them all.
        Each span, log record or metric is screened on its own bytes first, so a batch flagged by
        one value (a ``/oauth/token`` route) does not cost a Python walk of every attribute."""
        n = 0
        screen = self._screen.may_match
        for attributes in resource_attribute_lists(signal, batch):
            n += self._kvs(attributes, MAX_DEPTH)
        for scope, items in scopes(signal, batch):
            n += self._kvs(scope.attributes, MAX_DEPTH)
            for item in items:
                if not screen(item.SerializeToString()):
                    continue
                for attributes in attribute_lists_of(signal, item):
                    if attributes:
                        n += self._kvs(attributes, MAX_DEPTH)
                if signal is Signal.LOGS:
                    n += self._nested(item.body, MAX_DEPTH)
        return n

    def _kvs(self, kvs, depth: int) -> int:  # type: ignore[no-untyped-def]
        """Redact one repeated KeyValue field in place; returns how many values changed."""
        n = 0
        sensitive = self._redactor.is_sensitive
        url_keys = self._url_keys
        for kv in kvs:
            key = kv.key
            value = kv.value
            if sensitive(key):
                if value.WhichOneof("value") != "string_value" or value.string_value != REDACTED:
                    value.string_value = REDACTED  # setting one oneof member clears the others
                    n += 1
                continue
            kind = value.WhichOneof("value")
            if kind == "string_value":
                if key.lower() in url_keys:
                    scrubbed = scrub_url(value.string_value)
                    if scrubbed is not value.string_value and scrubbed != value.string_value:
                        value.string_value = scrubbed
                        n += 1
            elif kind == "kvlist_value" or kind == "array_value":
                n += self._nested(value, depth - 1)
        return n

    def _nested(self, value, depth: int) -> int:  # type: ignore[no-untyped-def]
        if depth <= 0:
            return 0
        kind = value.WhichOneof("value")
        if kind == "kvlist_value":
            return self._kvs(value.kvlist_value.values, depth)
        if kind == "array_value":
            return sum(self._nested(v, depth - 1) for v in value.array_value.values)
        return 0
