from sidecar.pipeline.processor import Processor

__all__ = ["Processor"]
