"""Clients and readers for the AWS APIs the tests check against (moto in server mode), shared by every test module."""

from __future__ import annotations

from typing import Any

import botocore.session
from aws_xray_sdk.core.recorder import AWSXRayRecorder


def logs_client(env: dict[str, str]):  # type: ignore[no-untyped-def]
    return botocore.session.get_session().create_client(
        "logs", region_name=env["AWS_REGION"], endpoint_url=env["AWS_ENDPOINT_URL"]
    )


def read_all(env: dict[str, str], group: str, stream: str) -> list[dict[str, Any]]:
    client = logs_client(env)
    events: list[dict[str, Any]] = []
    token = None
    while True:
        kw = {"nextToken": token} if token else {}
        page = client.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True, **kw)
        events.extend(page["events"])
        if not page["events"] or page.get("nextForwardToken") == token:
            return events
        token = page["nextForwardToken"]


def xray_client(env: dict[str, str]):  # type: ignore[no-untyped-def]
    return botocore.session.get_session().create_client(
        "xray", region_name=env["AWS_REGION"], endpoint_url=env["AWS_ENDPOINT_URL"]
    )


def sdk_segments(port: int) -> str:
    """What a service still on the X-Ray SDK does: a segment with a subsegment, sent over UDP."""
    recorder = AWSXRayRecorder()
    recorder.configure(
        daemon_address=f"127.0.0.1:{port}", sampling=False, context_missing="LOG_ERROR", service="legacy"
    )
    segment = recorder.begin_segment("legacy")
    segment.put_http_meta("method", "GET")
    segment.put_http_meta("status", 200)
    recorder.begin_subsegment("db-call", namespace="remote")
    recorder.end_subsegment()
    recorder.end_segment()
    return str(segment.trace_id)
