"""A local ECS task metadata endpoint (v4) for development and tests.

Run ``python -m ecs_otel.emulator --help``. It serves recorded fixture scenarios or documents
synthesised from this machine, and can be told to fail (slow, hang, 500, 404, malformed JSON),
also while running, through ``POST /__control``.
"""

from ecs_otel.emulator.faults import FAULTS, FaultState
from ecs_otel.emulator.fixtures import SCENARIOS, FixtureSource
from ecs_otel.emulator.server import EmulatorServer
from ecs_otel.emulator.synthetic import SyntheticSource, SyntheticTask

__all__ = [
    "FAULTS",
    "SCENARIOS",
    "EmulatorServer",
    "FaultState",
    "FixtureSource",
    "SyntheticSource",
    "SyntheticTask",
]
