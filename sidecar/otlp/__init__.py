"""What every stage shares about OTLP: the signals, the OTLP/JSON codec, attribute values, the ECS stats names.

Lower than every stage: it imports nothing from the pipeline or from any component.
"""

from sidecar.otlp.signals import Signal

__all__ = ["Signal"]
