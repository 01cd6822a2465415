"""How a failed AWS call is described to exporters: enough to decide retry versus give up."""

from __future__ import annotations

THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "RequestThrottled",
        "SlowDown",
        "LimitExceededException",
    }
)
ACCESS_DENIED_CODES = frozenset(
    {"AccessDeniedException", "AccessDenied", "UnauthorizedOperation", "UnrecognizedClientException"}
)


class AwsApiError(Exception):
    """An AWS error response or a transport failure (``status`` 0), never carrying credentials."""

    def __init__(self, operation: str, code: str, message: str, status: int) -> None:
        super().__init__(f"{operation}: {code} (HTTP {status}): {message}")
        self.operation = operation
        self.code = code
        self.message = message
        self.status = status

    @property
    def throttling(self) -> bool:
        return self.status == 429 or self.code in THROTTLING_CODES

    @property
    def access_denied(self) -> bool:
        return self.status == 403 or self.code in ACCESS_DENIED_CODES

    @property
    def retryable(self) -> bool:
        """Throttling, 5xx and transport failures are worth another attempt; other 4xx are not."""
        return self.status == 0 or self.status >= 500 or self.throttling
