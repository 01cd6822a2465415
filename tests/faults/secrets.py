"""Secrets every fault-suite sidecar carries, and the check that none of them ever leaks into output.

The fault suite doubles as the leak test of issue 9 ("no credentials, tokens or Authorization
headers in any log or status output, tested by grepping all output of the fault suite"): each
sidecar it starts holds a receiver token and static AWS credentials, and its whole stdout and
stderr are searched for them when it stops.
"""

from __future__ import annotations

import base64
import os

_RAND = base64.b32encode(os.urandom(15)).decode().lower()

RECEIVER_TOKEN = f"tok-{_RAND}"
AWS_ACCESS_KEY_ID = "AKIAFAULTSUITE00TEST"
AWS_SECRET_ACCESS_KEY = f"secret-{_RAND}-key"
AWS_SESSION_TOKEN = f"session-{_RAND}-token"

#: What a sidecar under test gets in its environment.
SECRET_ENV = {
    "ECS_OTEL_RECEIVER_TOKEN": RECEIVER_TOKEN,
    "AWS_ACCESS_KEY_ID": AWS_ACCESS_KEY_ID,
    "AWS_SECRET_ACCESS_KEY": AWS_SECRET_ACCESS_KEY,
    "AWS_SESSION_TOKEN": AWS_SESSION_TOKEN,
    "AWS_REGION": "us-east-1",
}
#: What a client must send to get past the receivers.
AUTH = {"Authorization": f"Bearer {RECEIVER_TOKEN}"}
GRPC_AUTH = (("authorization", f"Bearer {RECEIVER_TOKEN}"),)


def leaks(text: str) -> list[str]:
    """Which secrets (or an ``Authorization`` header name) appear in ``text``."""
    found = [name for name, value in (("receiver token", RECEIVER_TOKEN), ("secret key", AWS_SECRET_ACCESS_KEY),
                                      ("session token", AWS_SESSION_TOKEN)) if value.lower() in text.lower()]
    if "Authorization" in text:
        found.append("Authorization")
    return found
