"""The status server (``/healthz``, ``/metrics``, ``/status.json``, ``/cardinality``, ``/``) and the healthcheck command."""

from sidecar.status.server import StatusServer

__all__ = ["StatusServer"]
