"""``redaction``: secrets in attributes never leave the task.

The rules are the ones every output of the project uses (:mod:`ecs_otel.redaction`, docs/redaction.md):
a key is sensitive when, normalised (case, ``-``/spaces/camelCase as ``_``, whitespace trimmed), the
whole key or its last dot-separated segment matches the deny-list (``password``, ``*_token``,
``*password*``…) or it is a credential HTTP header attribute. Values of sensitive keys become
``"[REDACTED]"`` wherever OTLP carries attributes, inside nested key-value lists too, list-valued
headers included; URL values (``url.full``, ``url.original``, ``http.url``, ``http.target``,
``url.query``) and span names keep their shape but lose user-info and sensitive or signing query
values; ``db.statement``/``db.query.text`` naming a credential lose their literals (``scrub_db_statements``:
``credentials``, ``all`` or ``off``); exception
messages, tracebacks, span status descriptions and string log bodies lose the values written next to a
sensitive key. A
structure nested deeper than :data:`MAX_DEPTH` that might hold a secret is redacted whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from google.protobuf.message import Message

from ecs_otel.redaction import (
    DEFAULT_DENY_LIST,
    MAX_DEPTH,
    REDACTED,
    UNICODE_FOLDING_TO_ASCII,
    ByteScreen,
    KeyRedactor,
    TextMasker,
    is_db_statement_key,
    is_text_key,
    is_url_key,
    screen_for,
    scrub_statement,
    scrub_url,
)
from sidecar.config import ConfigError, setting
from sidecar.context import SidecarContext
from sidecar.otlp.attributes import attribute_lists_of, resource_attribute_lists, scopes
from sidecar.otlp.signals import Signal
from sidecar.pipeline.processor import Processor

__all__ = ["MAX_DEPTH", "UNICODE_FOLDING_TO_ASCII", "ByteScreen", "RedactionProcessor"]


class RedactionProcessor(Processor):
    name = "redaction"

    @dataclass
    class Settings:
        deny_list: list[str] = setting(  # noqa: RUF009 - setting() builds a default_factory
            list(DEFAULT_DENY_LIST),
            help="Attribute keys whose values are replaced by [REDACTED]: an entry matches the whole key or its last "
            "dot-separated segment after normalisation (case, `-`, spaces and camelCase as `_`); `*` matches any run "
            "of characters but `.`. Credential HTTP header attributes are redacted whatever the list says "
            "(docs/redaction.md).",
            env="ECS_OTEL_REDACTION_DENY_LIST",
        )
        scrub_urls: bool = setting(
            True,
            help="Remove user-info and sensitive or signing query values from url.full, url.original, http.url, "
            "http.target, url.query and span names.",
            env="ECS_OTEL_REDACTION_SCRUB_URLS",
        )
        scrub_db_statements: Literal["credentials", "all", "off"] = setting(
            "credentials",
            help="Literals (strings, numbers) in db.statement / db.query.text become `?`: `credentials` when the "
            "statement names a credential (`IDENTIFIED BY`, `password`, `token`…), `all` always (the sanitised "
            "query text of the database semantic conventions; every batch with a statement is then walked), "
            "`off` never.",
            env="ECS_OTEL_REDACTION_SCRUB_DB_STATEMENTS",
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
        self._urls = settings.scrub_urls
        self._statements = settings.scrub_db_statements
        # Structural text rules only (keys, URLs): no literal secrets or shapes, which have no needle.
        self._masker = TextMasker(self._redactor, secrets=(), schemes=False)
        # Every rule has a needle each of its matches contains after folding: if no needle occurs
        # anywhere in the batch's bytes, no attribute, name or body can need a change.
        self._screen = screen_for(self._redactor, statements=self._statements)
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
        #: The "skipped" series per signal, bound once: counted on every batch.
        self._skipped = {sig: self._screened.child(signal=sig.value, result="skipped") for sig in Signal}

    def process(self, signal: Signal, batch: Message) -> Message | None:
        return self.process_encoded(signal, batch)[0]

    def process_wire(self, signal: Signal, body: bytes) -> bytes | None:
        """An encoded batch the screen clears goes on as it is; one it flags takes the decoded walk."""
        if self._screen.may_match(body):
            return None  # counted as walked by process_encoded, which the stage calls next
        self._skipped[signal].inc()
        return body

    def process_encoded(self, signal: Signal, batch: Message) -> tuple[Message | None, bytes | None]:
        """Redact ``batch`` in place; also returns its serialization when that is still exact.

        The screen needs the batch's bytes; when nothing changed they are what the fan-out would
        encode next, so the pipeline hands them on instead of serializing twice.
        """
        data = batch.SerializeToString()
        if not self._screen.may_match(data):
            self._skipped[signal].inc()
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
                if signal is Signal.TRACES:
                    if self._urls:
                        n += self._set_name(item, scrub_url(item.name, self._redactor, text=True))
                    n += self._status(item.status)
                elif signal is Signal.LOGS:
                    n += self._body(item.body)
        return n

    @staticmethod
    def _set_name(item: Message, name: str) -> int:
        if name is item.name or name == item.name:  # type: ignore[attr-defined]
            return 0
        item.name = name  # type: ignore[attr-defined]
        return 1

    def _status(self, status) -> int:  # type: ignore[no-untyped-def]
        """A span's status description is free text (the SDK writes ``Type: message`` of the exception)."""
        if not status.message:
            return 0
        masked = self._masker.mask(status.message)
        if masked == status.message:
            return 0
        status.message = masked
        return 1

    def _body(self, body) -> int:  # type: ignore[no-untyped-def]
        """A string body is free text (masked); a structured one is walked like attributes."""
        kind = body.WhichOneof("value")
        if kind == "string_value":
            masked = self._masker.mask(body.string_value)
            if masked != body.string_value:
                body.string_value = masked
                return 1
            return 0
        return self._nested(body, MAX_DEPTH)

    def _string(self, key: str, value: str) -> str:
        """What a string attribute becomes under the value rules (URL, statement, free text)."""
        if is_url_key(key):
            return scrub_url(value, self._redactor) if self._urls else value
        if is_db_statement_key(key):
            return self._masker.mask(scrub_statement(value, self._statements, self._redactor))
        if is_text_key(key):
            return self._masker.mask(value)
        return value

    def _kvs(self, kvs, depth: int) -> int:  # type: ignore[no-untyped-def]
        """Redact one repeated KeyValue field in place; returns how many values changed."""
        n = 0
        sensitive = self._redactor.is_sensitive
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
                old = value.string_value
                new = self._string(key, old)
                if new is not old and new != old:
                    value.string_value = new
                    n += 1
            elif kind == "kvlist_value" or kind == "array_value":
                n += self._nested(value, depth - 1)
        return n

    def _nested(self, value, depth: int) -> int:  # type: ignore[no-untyped-def]
        kind = value.WhichOneof("value")
        if kind != "kvlist_value" and kind != "array_value":
            return 0
        if depth <= 0:
            # Past the depth limit the walk cannot look inside: a structure that may hold a secret
            # (the screen's test on its own bytes) is redacted whole, never passed on.
            if not self._screen.may_match(value.SerializeToString()):
                return 0
            value.string_value = REDACTED
            return 1
        if kind == "kvlist_value":
            return self._kvs(value.kvlist_value.values, depth)
        return sum(self._nested(v, depth - 1) for v in value.array_value.values)
