"""``redaction``: secrets in attributes never leave the task.

The rule is the one the app's JSON logs use (:mod:`ecs_otel.redaction`, DESIGN.md): a key is
sensitive when the whole key or its last dot-separated segment is on the deny-list
(case-insensitive, ``-`` same as ``_``), so ``http.request.header.authorization`` is redacted
and ``gen_ai.usage.input_tokens`` is not. Values of sensitive keys become ``"[REDACTED]"``
wherever OTLP carries attributes, inside nested key-value lists too; URL values (``url.full``,
``http.url``, ``url.query``) keep their shape but lose user-info and signing/token query values.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import Message

from ecs_otel.redaction import DEFAULT_DENY_LIST, REDACTED, URL_KEYS, KeyRedactor, scrub_url
from sidecar.config import ConfigError, setting
from sidecar.context import SidecarContext
from sidecar.processors.attributes import item_attribute_lists, log_bodies, resource_attribute_lists
from sidecar.processors.base import Processor
from sidecar.signals import Signal

#: Nesting below which key-value lists are not inspected (a hostile body cannot make us recurse forever).
MAX_DEPTH = 16

#: ASCII case folding plus the rule's ``-`` → ``_``, applied to a whole serialized batch in one C call.
_FOLD = bytes.maketrans(
    bytes(range(ord("A"), ord("Z") + 1)) + b"-", bytes(range(ord("a"), ord("z") + 1)) + b"_"
)
#: Non-ASCII characters whose lower case contains ASCII letters (U+0130 → "i̇", the Kelvin sign → "k"):
#: ``bytes.translate`` cannot fold them, so a batch containing either skips the fast screen. A test
#: recomputes this list from the running Python's Unicode tables.
UNICODE_FOLDING_TO_ASCII = ("\u0130", "\u212a")
_UNICODE_TO_ASCII = tuple(ch.encode() for ch in UNICODE_FOLDING_TO_ASCII)


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
        super().__init__()
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
        self._needles = tuple(
            sorted({e.encode() for e in self._redactor.deny_list} | {k.encode() for k in self._url_keys})
        )
        self._redacted = context.telemetry.counter(
            "ecs_otel_sidecar_redacted_values_total",
            "Attribute values replaced or scrubbed by the redaction processor.",
            ("signal",),
        )

    def _may_need_changes(self, batch: Message) -> bool:
        """A cheap screen: serialize once, fold case in C, look for each needle.

        Most batches carry no secrets; for them this costs a tenth of walking every attribute in Python.
        """
        data = batch.SerializeToString()
        folded = data.translate(_FOLD)
        if any(needle in folded for needle in self._needles):
            return True
        return any(ch in data for ch in _UNICODE_TO_ASCII)

    def process(self, signal: Signal, batch: Message) -> Message | None:
        if not self._may_need_changes(batch):
            return batch
        n = 0
        for attributes in resource_attribute_lists(signal, batch):
            n += self._kvs(attributes, MAX_DEPTH)
        for attributes in item_attribute_lists(signal, batch):
            if attributes:
                n += self._kvs(attributes, MAX_DEPTH)
        if signal is Signal.LOGS:
            for body in log_bodies(batch):
                n += self._nested(body, MAX_DEPTH)
        if n:
            self._redacted.inc(n, signal=signal.value)
        return batch

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
