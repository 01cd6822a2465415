"""The optional bearer token that both receivers require when ``ECS_OTEL_RECEIVER_TOKEN`` is set.

Compared in constant time, and never logged: a log line with the token in it would be a leak.
"""

from __future__ import annotations

import hmac


class BearerToken:
    def __init__(self, token: str | None) -> None:
        self._expected = f"Bearer {token}".encode() if token else None

    @property
    def required(self) -> bool:
        return self._expected is not None

    def allows(self, authorization: str | None) -> bool:
        if self._expected is None:
            return True
        if not authorization:
            return False
        scheme, _, value = authorization.strip().partition(" ")
        # aiohttp hands over header bytes that are not UTF-8 as lone surrogates ("surrogateescape");
        # encoding them back the same way gives the bytes the client sent, which simply do not match,
        # instead of a UnicodeEncodeError (a 500 and a traceback) for what is just a wrong token.
        try:
            given = f"{scheme.capitalize()} {value.strip()}".encode("utf-8", "surrogateescape")
        except UnicodeError:
            return False
        return hmac.compare_digest(given, self._expected)
