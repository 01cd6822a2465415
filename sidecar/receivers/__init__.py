"""Receivers: OTLP/HTTP and OTLP/gRPC, sharing one admission path (token, size, items, memory) and one ingest.

The gRPC receiver is imported only when enabled (grpcio costs ~10 MB), so it is not re-exported here.
"""

from sidecar.receivers.base import Receiver
from sidecar.receivers.ingest import Ingest

__all__ = ["Ingest", "Receiver"]
