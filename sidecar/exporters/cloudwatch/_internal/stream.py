"""Writing events to one log group and stream, creating them (with a retention) when missing."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sidecar.aws import AwsApi, AwsApiError
from sidecar.exporters.cloudwatch._internal.batching import LogEvent, batches

#: Retention values CloudWatch Logs accepts (days).
RETENTION_DAYS = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
)


@dataclass
class PutResult:
    sent: int = 0
    rejected: int = 0
    failed: int = 0
    calls: int = 0
    last_error: AwsApiError | None = None
    retryable: bool = False


class LogStreamWriter:
    def __init__(
        self, api: AwsApi, group: str, stream: str, retention_days: int, logger: logging.Logger
    ) -> None:
        self.api = api
        self.group = group
        self.stream = stream
        self.retention_days = retention_days
        self.logger = logger
        self._ready = False

    async def ensure(self) -> None:
        """Create the group (setting its retention, since we own it) and the stream, if missing."""
        try:
            await self.api.call("CreateLogGroup", {"logGroupName": self.group})
            created = True
        except AwsApiError as err:
            if err.code != "ResourceAlreadyExistsException":
                raise
            created = False
        if created and self.retention_days:
            try:
                await self.api.call(
                    "PutRetentionPolicy", {"logGroupName": self.group, "retentionInDays": self.retention_days}
                )
            except AwsApiError as err:
                self.logger.warning("could not set retention on log group %s: %s", self.group, err)
        try:
            await self.api.call("CreateLogStream", {"logGroupName": self.group, "logStreamName": self.stream})
        except AwsApiError as err:
            if err.code != "ResourceAlreadyExistsException":
                raise
        self._ready = True

    async def put(self, events: list[LogEvent]) -> PutResult:
        """Send chronologically sorted events in as many valid calls as needed."""
        result = PutResult()
        for batch in batches(events):
            await self._put_batch(batch, result)
        return result

    async def _put_batch(self, batch: list[LogEvent], result: PutResult) -> None:
        params = {
            "logGroupName": self.group,
            "logStreamName": self.stream,
            "logEvents": [{"timestamp": e.timestamp_ms, "message": e.message} for e in batch],
        }
        for attempt in range(2):
            try:
                result.calls += 1
                response = await self.api.call("PutLogEvents", params)
            except AwsApiError as err:
                result.last_error = err
                if err.code == "ResourceNotFoundException" and attempt == 0:
                    try:
                        await self.ensure()
                    except AwsApiError as create_err:
                        result.last_error = create_err
                        result.rejected += len(batch)
                        return
                    continue
                if err.retryable:
                    result.failed += len(batch)
                    result.retryable = True
                else:
                    result.rejected += len(batch)
                return
            info = response.get("rejectedLogEventsInfo") or {}
            rejected = _rejected(info, len(batch))
            result.rejected += rejected
            result.sent += len(batch) - rejected
            return


def _rejected(info: dict[str, int], n: int) -> int:
    """Events the API refused, from its index ranges (too new from a start index, too old up to an end)."""
    bad: set[int] = set()
    if "tooNewLogEventStartIndex" in info:
        bad.update(range(info["tooNewLogEventStartIndex"], n))
    for key in ("tooOldLogEventEndIndex", "expiredLogEventEndIndex"):
        if key in info:
            bad.update(range(0, info[key] + 1))
    return len(bad)
