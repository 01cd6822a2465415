from sidecar.exporters.base import Exporter, ExportOutcome

__all__ = ["ExportOutcome", "Exporter"]
