from sidecar.processors.base import Processor

__all__ = ["Processor"]
