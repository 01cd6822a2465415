"""``enrich``: give data from the app the ECS task attributes it lacks.

An app without the ecs_otel library (or with resource detection off) still gets its spans,
metrics and logs labelled with the task they came from. Only task-level attributes are added
(cluster, task ARN/id, family, revision, region, account, AZ, launch type, …): ``container.*``
would describe the sidecar, not the app, so they never come from here. A key the app already
set is never touched, even when its value differs.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import Message
from opentelemetry.proto.common.v1.common_pb2 import KeyValue

from ecs_otel.memo import Memo
from ecs_otel.otlp.wire import varint
from sidecar.config import setting
from sidecar.context import SidecarContext
from sidecar.otlp import shallow
from sidecar.otlp.attributes import key_value, resource_attribute_lists
from sidecar.otlp.signals import Signal, resource_entries
from sidecar.pipeline.processor import Processor

#: Attribute prefixes that describe one container: the sidecar's own would be wrong on app data.
CONTAINER_PREFIXES = ("container.", "aws.ecs.container.", "aws.log.")
#: Distinct encoded resources whose keys :class:`EnrichProcessor` remembers (a task's apps send a few).
RESOURCE_KEYS_CACHE = 256
#: Larger encoded resources are parsed every time: the cache holds at most 256 × 4 KiB.
RESOURCE_KEYS_CACHE_MAX_BYTES = 4096


class EnrichProcessor(Processor):
    name = "enrich"

    @dataclass
    class Settings:
        skip: list[str] = setting(  # noqa: RUF009 - setting() builds a default_factory
            [],
            help="Task attribute keys not to add (e.g. aws.ecs.task.arn).",
            env="ECS_OTEL_ENRICH_SKIP",
        )

    def __init__(self, settings: EnrichProcessor.Settings, context: SidecarContext) -> None:
        self.settings = settings
        self.context = context
        self._added = context.telemetry.counter(
            "ecs_otel_sidecar_enrich_resources_total",
            "Resources the enrich processor added task attributes to.",
            ("signal",),
        )
        self._added_to = {sig: self._added.child(signal=sig.value) for sig in Signal}
        self._prepared_from: dict[str, object] | None = None
        self._keys: frozenset[str] = frozenset()
        self._kvs: list[tuple[str, KeyValue]] = []
        #: Each attribute encoded as a ``Resource.attributes`` field, for :meth:`process_wire`.
        self._encoded: list[tuple[str, bytes]] = []
        #: Encoded resource → its attribute keys (see :meth:`_resource_keys`).
        #: Attribute keys of each encoded resource seen (``enrich.resource_keys`` in the cache-evictions counter).
        self._keys_of: Memo[bytes, frozenset[str]] = Memo("enrich.resource_keys", RESOURCE_KEYS_CACHE)
        self._prepare()

    def _prepare(self) -> None:
        """Build the KeyValue protos once; the app fills ``task_attributes`` at startup (maybe after us)."""
        attrs = self.context.task_attributes
        skip = set(self.settings.skip)
        chosen = {
            k: v
            for k, v in attrs.items()
            if v is not None and v != "" and k not in skip and not k.startswith(CONTAINER_PREFIXES)
        }
        self._kvs = [(k, key_value(k, v)) for k, v in sorted(chosen.items())]
        self._encoded = [(k, b"\x0a" + varint(len(raw)) + raw) for k, kv in self._kvs for raw in [kv.SerializeToString()]]
        self._keys = frozenset(chosen)
        self._prepared_from = dict(attrs)

    def _resource_keys(self, raw: bytes) -> frozenset[str]:
        """The attribute keys of an encoded resource, remembered: an app sends the same resource in every
        request, so parsing it each time costs a parse per request for the same answer."""
        keys = self._keys_of.data.get(raw)
        if keys is None:
            keys = frozenset(shallow.resource_keys(raw))
            if len(raw) <= RESOURCE_KEYS_CACHE_MAX_BYTES:  # a huge resource is not worth its memory here
                self._keys_of.put(raw, keys)  # bounded; the resources in use come back on the next requests
        return keys

    def process(self, signal: Signal, batch: Message) -> Message | None:
        if self._prepared_from != self.context.task_attributes:
            self._prepare()
        kvs = self._kvs
        if not kvs:
            return batch
        enriched = 0
        for attributes in resource_attribute_lists(signal, batch):
            present = {kv.key for kv in attributes}
            if present >= self._keys:
                continue
            attributes.extend([kv for k, kv in kvs if k not in present])
            enriched += 1
        if enriched:
            self._added.inc(enriched, signal=signal.value)
        return batch

    def process_wire(self, signal: Signal, body: bytes) -> bytes | None:
        """:meth:`process` on the encoded batch: only the resources are decoded (keys only), and the
        attributes a resource lacks are appended to its encoding as ``attributes`` fields, which a
        parser adds to the end of the resource's list, as ``extend`` does."""
        if self._prepared_from != self.context.task_attributes:
            self._prepare()
        if not self._encoded:
            return body
        view = shallow.resource_view(signal, body)
        wanted = self._keys
        enriched = 0
        for entry in resource_entries(signal, view):
            # ``resource`` is a repeated bytes field in the view: every occurrence, which parsers merge.
            occurrences = entry.resource
            present = {key for raw in occurrences for key in self._resource_keys(raw)}
            if present >= wanted:
                continue
            missing = b"".join([raw for k, raw in self._encoded if k not in present])
            if occurrences:
                occurrences[-1] += missing
            else:
                occurrences.append(missing)
            enriched += 1
        if not enriched:
            return body
        self._added_to[signal].inc(enriched)
        return view.SerializeToString()
