"""The pipeline core: the consumer interface, the contracts stages implement, and what carries batches
between them (stage, fan-out, bounded queue per exporter, retry, memory budget, self-telemetry).

Components import the contracts from here; the pipeline never imports a component.
"""

from sidecar.pipeline.consumer import BackPressure, Consumer, EncodedConsumer, WireBatch, WireConsumer
from sidecar.pipeline.exporter import EncodedExporter, Exporter, ExportOutcome
from sidecar.pipeline.processor import EncodedProcessor, Processor, WireProcessor

__all__ = [
    "BackPressure",
    "Consumer",
    "EncodedConsumer",
    "EncodedExporter",
    "EncodedProcessor",
    "ExportOutcome",
    "Exporter",
    "Processor",
    "WireBatch",
    "WireConsumer",
    "WireProcessor",
]
