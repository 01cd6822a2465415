"""What the emulator serves: a source of v4 documents, from fixtures or synthesised."""

from __future__ import annotations

from typing import Any, Protocol


class DocumentSource(Protocol):
    def container_ids(self) -> list[str]:
        """Ids served under ``/v4/<id>``; the first is the one the emulator advertises."""
        ...

    def container(self, container_id: str) -> dict[str, Any] | None: ...

    def container_stats(self, container_id: str) -> dict[str, Any] | None: ...

    def task(self) -> dict[str, Any]: ...

    def task_with_tags(self) -> dict[str, Any]: ...

    def task_stats(self) -> dict[str, Any]: ...

    def tasks(self) -> list[dict[str, Any]] | None:
        """``/tasks`` (ECS Managed Instances daemons); ``None`` when the source has no such list."""
        ...
