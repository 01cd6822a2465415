"""Container image references (``registry:port/repo:tag@sha256:…``) split into name, tag and digest.

The metadata ``Image`` field is the reference as written in the task definition, so a tag and a
digest are present only when the user wrote them; nothing is invented (no implicit ``latest``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ImageReference:
    name: str
    tag: str | None = None
    digest: str | None = None

    @property
    def repo_digest(self) -> str | None:
        """``name@sha256:…``, the form the ``container.image.repo_digests`` convention uses."""
        return f"{self.name}@{self.digest}" if self.digest else None


def parse_image(reference: str) -> ImageReference:
    rest, _, digest = reference.partition("@")
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    tag: str | None = None
    if colon > slash:  # a colon before the last slash belongs to a registry port
        rest, tag = rest[:colon], rest[colon + 1 :]
    return ImageReference(name=rest, tag=tag or None, digest=digest or None)
