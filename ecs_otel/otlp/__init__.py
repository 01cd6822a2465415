"""OTLP protobuf encoding written straight to wire bytes (spans), for the export hot path.

Internal to the library and the sidecar (``wire`` is the one protobuf varint reader both halves share);
no public names.
"""

__all__: list[str] = []
