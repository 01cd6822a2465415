"""Amazon Resource Names, split into the parts the resource attributes need.

ECS documents carry the region and account only inside ARNs, so both are derived here once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Arn:
    partition: str
    service: str
    region: str
    account_id: str
    resource: str

    @property
    def resource_id(self) -> str:
        """The last ``/``-separated segment: a task id, a container uuid, a cluster name."""
        return self.resource.rsplit("/", 1)[-1]

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account_id}:{self.resource}"


def parse_arn(value: str | None) -> Arn | None:
    """Split ``arn:partition:service:region:account:resource``; ``None`` when it is not an ARN."""
    if not value or not value.startswith("arn:"):
        return None
    parts = value.split(":", 5)
    if len(parts) != 6 or not parts[1] or not parts[2]:
        return None
    return Arn(partition=parts[1], service=parts[2], region=parts[3], account_id=parts[4], resource=parts[5])
