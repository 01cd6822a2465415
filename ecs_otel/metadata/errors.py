"""Typed failures of the metadata client.

Callers inside user applications turn these into one warning; they never escape into user code.
"""

from __future__ import annotations


class MetadataError(Exception):
    """Base class: the ECS task metadata endpoint could not give a usable answer."""


class MetadataUnavailable(MetadataError):
    """The endpoint did not answer in time, refused the connection, or answered with an HTTP error."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        #: HTTP status when the endpoint answered with one (404, 500, ...), else ``None``.
        self.status = status


class MetadataMalformed(MetadataError):
    """The endpoint answered, but the body is not the JSON document the v4 contract describes."""
