"""PutTraceSegments: at most 50 documents per call, unprocessed ones retried, throttling backed off."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import orjson

from sidecar.aws import AwsApi, AwsApiError
from sidecar.pipeline.retry import Backoff

MAX_DOCUMENTS_PER_CALL = 50
#: Error codes in UnprocessedTraceSegments worth sending again (the rest are the document's fault).
_RETRYABLE_UNPROCESSED = frozenset(
    {"ThrottledException", "ThrottlingException", "InternalFailure", "ServiceUnavailable"}
)


@dataclass
class SendResult:
    sent: int = 0
    rejected: int = 0
    #: Documents not sent because of a retryable failure (throttling, 5xx, network), after retries.
    failed: int = 0
    last_error: AwsApiError | None = None
    retryable: bool = False


class SegmentSender:
    """Sends documents in calls of 50, a few calls in flight at once (a full batch is 160+ calls).

    The one place below the queue that retries, and why: a batch is many independent calls, and
    ``PutTraceSegments`` can accept a call while leaving some documents unprocessed. Retrying
    the whole batch from the queue would send every accepted document again (duplicate
    segments), so each call retries only its own unsent documents here, with the pipeline's
    backoff; what still fails is reported to the queue as failed, not retried twice.
    """

    def __init__(self, api: AwsApi, attempts: int = 3, concurrency: int = 4,
                 backoff: Backoff = Backoff(initial_s=0.1, max_interval_s=2.0)) -> None:
        self.api = api
        self.attempts = attempts
        self.concurrency = concurrency
        self.backoff = backoff

    async def send(self, documents: list[bytes]) -> SendResult:
        result = SendResult()
        chunks = [
            documents[i : i + MAX_DOCUMENTS_PER_CALL]
            for i in range(0, len(documents), MAX_DOCUMENTS_PER_CALL)
        ]
        if len(chunks) == 1:
            await self._send_chunk(chunks[0], result)
            return result
        gate = asyncio.Semaphore(self.concurrency)

        async def one(chunk: list[bytes]) -> None:
            async with gate:
                await self._send_chunk(chunk, result)

        await asyncio.gather(*(one(c) for c in chunks))
        return result

    async def _send_chunk(self, chunk: list[bytes], result: SendResult) -> None:
        pending = [d.decode() for d in chunk]
        for attempt in range(self.attempts):
            try:
                response = await self.api.call("PutTraceSegments", {"TraceSegmentDocuments": pending})
            except AwsApiError as err:
                result.last_error = err
                if err.retryable and attempt < self.attempts - 1:
                    await asyncio.sleep(self.backoff.delay(attempt + 1))
                    continue
                if err.retryable:
                    result.failed += len(pending)
                    result.retryable = True
                else:
                    result.rejected += len(pending)
                return
            unprocessed = response.get("UnprocessedTraceSegments") or []
            retry_ids = {u.get("Id") for u in unprocessed if u.get("ErrorCode") in _RETRYABLE_UNPROCESSED}
            bad = len(unprocessed) - len(retry_ids)
            result.rejected += bad
            result.sent += len(pending) - len(unprocessed)
            if not retry_ids:
                return
            pending = [d for d in pending if _doc_id(d) in retry_ids]
            if attempt < self.attempts - 1:
                await asyncio.sleep(self.backoff.delay(attempt + 1))
        result.failed += len(pending)


def _doc_id(doc: str) -> str | None:
    try:
        value = orjson.loads(doc).get("id")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return str(value) if value is not None else None
