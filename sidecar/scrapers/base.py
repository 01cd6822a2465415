"""A scraper produces batches on its own schedule and hands them to a consumer."""

from __future__ import annotations

import abc

from sidecar.pipeline.consumer import Consumer


class Scraper(abc.ABC):
    name: str = "scraper"

    def __init__(self) -> None:
        self.consumer: Consumer | None = None

    @abc.abstractmethod
    async def run(self) -> None:
        """Scrape until cancelled. The first scrape happens immediately."""

    async def shutdown(self, deadline: float) -> None:  # noqa: B027 - optional hook
        """Stop before ``deadline`` (a ``loop.time()`` value)."""
