"""ecs-otel sidecar: receives OTLP, scrapes ECS task stats, controls cardinality, exports."""
