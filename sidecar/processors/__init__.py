"""Processors: pure transforms between receivers and exporters (``enrich``, ``redaction``, ``cardinality``).

The wiring reaches each one through :mod:`sidecar.registry` by name; the contract is
:class:`~sidecar.pipeline.processor.Processor`.
"""

from sidecar.pipeline.processor import Processor

__all__ = ["Processor"]
