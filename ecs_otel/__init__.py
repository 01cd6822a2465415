"""ecs-otel: OpenTelemetry for Python services on Amazon ECS."""

__version__ = "0.1.0"
