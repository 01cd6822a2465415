"""OTLP protobuf encoding written straight to wire bytes (spans), for the export hot path."""
