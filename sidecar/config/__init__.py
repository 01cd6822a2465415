from sidecar.config.errors import ConfigError
from sidecar.config.fields import setting
from sidecar.config.loader import load_settings

__all__ = ["ConfigError", "load_settings", "setting"]
