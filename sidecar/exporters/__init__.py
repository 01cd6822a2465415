"""Exporters: ``otlp``, ``debug``, ``file``, and the ``xray``, ``cloudwatch`` and ``prometheus`` packages.

The wiring reaches each one through :mod:`sidecar.registry` by name; the contract is
:class:`~sidecar.pipeline.exporter.Exporter`.
"""

from sidecar.pipeline.exporter import Exporter, ExportOutcome

__all__ = ["ExportOutcome", "Exporter"]
