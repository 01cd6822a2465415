"""What every OTLP receiver shares: where it listens, how much it accepts, who may send, and where data goes.

The app starts, stops and health-checks receivers through this one shape, whatever the
transport underneath (aiohttp for OTLP/HTTP, ``grpc.aio`` for OTLP/gRPC).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from sidecar.receivers.auth import BearerToken
from sidecar.receivers.ingest import Ingest


class Receiver(ABC):
    name: ClassVar[str]

    def __init__(self, ingest: Ingest, *, host: str, port: int, max_body_bytes: int, token: BearerToken) -> None:
        self.ingest = ingest
        self.host = host
        #: 0 asks the OS for a free port; ``start`` replaces it with the bound one.
        self.port = port
        self.max_body_bytes = max_body_bytes
        self.token = token
        #: False until ``start`` has bound the port, and again from the moment ``stop`` begins.
        self.listening = False

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def stop(self) -> None: ...
