from tests.support.sidecar import sidecar_factory

__all__ = ["sidecar_factory"]
