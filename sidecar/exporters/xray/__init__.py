"""The ``xray`` exporter: spans to AWS X-Ray, as OTLP (SigV4) or as segment documents.

The segment translator, the daemon-protocol listener and the sampling proxy are this
component's internals (``_internal/``); nothing outside the component imports them.
"""

from sidecar.exporters.xray.exporter import XRayExporter

__all__ = ["XRayExporter"]
