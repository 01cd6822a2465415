"""ecs-otel sidecar: receives OTLP, scrapes ECS task stats, controls cardinality, exports.

A program, not a library: its interface is the command (``ecs-otel-sidecar``, ``python -m sidecar``), its
settings (docs/reference/sidecar.md) and the component contract (``sidecar.pipeline``), not importable names.
"""

__all__: list[str] = []
