from sidecar.pipeline.consumer import BackPressure, Consumer

__all__ = ["BackPressure", "Consumer"]
