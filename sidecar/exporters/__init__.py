from sidecar.pipeline.exporter import Exporter, ExportOutcome

__all__ = ["ExportOutcome", "Exporter"]
