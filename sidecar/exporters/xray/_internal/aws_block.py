"""The ``aws`` block: the ECS task a segment ran in, and the AWS call a subsegment made."""

from __future__ import annotations

import json
from typing import Any

from sidecar.otlp.attributes import first

ORIGIN_CONTAINER = "AWS::ECS::Container"
ORIGIN_FARGATE = "AWS::ECS::Fargate"
ORIGIN_EC2 = "AWS::ECS::EC2"

SDK_CONSUMED = frozenset(
    {"rpc.system", "rpc.service", "rpc.method", "aws.region", "aws.request_id", "aws.requestId",
     "aws.dynamodb.table_names", "aws.sqs.queue_url", "aws.s3.bucket", "aws.s3.key", "aws.lambda.invoked_arn",
     "aws.sns.topic.arn", "aws.step_functions.state_machine.arn", "messaging.url"}
)  # fmt: skip


def as_text(value: Any) -> str:
    """An attribute value as the string the schema requires (non-strings as compact JSON)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def origin(resource: dict[str, Any]) -> str | None:
    """ECS origin from the resource; the launch type refines it when known."""
    if resource.get("cloud.platform") != "aws_ecs" and "aws.ecs.task.arn" not in resource:
        return None
    launch = str(resource.get("aws.ecs.launchtype", "")).lower()
    if launch == "fargate":
        return ORIGIN_FARGATE
    if launch == "ec2":
        return ORIGIN_EC2
    return ORIGIN_CONTAINER


def segment_aws_block(resource: dict[str, Any]) -> dict[str, Any]:
    block: dict[str, Any] = {}
    account = resource.get("cloud.account.id")
    if account:
        block["account_id"] = str(account)
    ecs = {
        k: as_text(resource[src])
        for k, src in (
            ("container", "container.name"),
            ("container_id", "container.id"),
            ("container_arn", "aws.ecs.container.arn"),
            ("cluster_arn", "aws.ecs.cluster.arn"),
            ("task_arn", "aws.ecs.task.arn"),
            ("task_family", "aws.ecs.task.family"),
            ("launch_type", "aws.ecs.launchtype"),
            ("availability_zone", "cloud.availability_zone"),
        )
        if resource.get(src)
    }
    if ecs:
        block["ecs"] = ecs
    logs = cloudwatch_logs(resource)
    if logs:
        block["cloudwatch_logs"] = logs
    sdk = resource.get("telemetry.sdk.language")
    if sdk:
        block["xray"] = {
            "sdk": f"opentelemetry for {sdk}",
            "sdk_version": str(resource.get("telemetry.sdk.version", "")),
        }
    return block


def _names(value: Any) -> list[str]:
    """A list attribute, or a string of ``&``-separated entries (how OTEL_RESOURCE_ATTRIBUTES carries lists)."""
    if isinstance(value, str):
        return [v for v in value.split("&") if v]
    if isinstance(value, list):
        return [as_text(v) for v in value if v not in (None, "")]
    return []


def cloudwatch_logs(resource: dict[str, Any]) -> list[dict[str, str]]:
    """X-Ray's link from a trace to its logs: ARNs when known (the group name is their 7th field), else names."""
    arns = _names(resource.get("aws.log.group.arns"))
    if arns:
        return [
            {"log_group": parts[6] if len(parts := arn.split(":")) >= 7 else arn, "arn": arn} for arn in arns
        ]
    return [{"log_group": name} for name in _names(resource.get("aws.log.group.names"))]


def is_aws_sdk(attrs: dict[str, Any]) -> bool:
    return attrs.get("rpc.system") == "aws-api"


def sdk_call_block(attrs: dict[str, Any]) -> dict[str, Any]:
    """What X-Ray shows for an AWS SDK call: operation, region, request id and the resource touched."""
    block: dict[str, Any] = {}
    for key, names in (
        ("operation", ("rpc.method",)),
        ("region", ("aws.region",)),
        ("request_id", ("aws.request_id", "aws.requestId")),
        ("queue_url", ("aws.sqs.queue_url", "messaging.url")),
        ("bucket_name", ("aws.s3.bucket",)),
        ("key", ("aws.s3.key",)),
        ("topic_arn", ("aws.sns.topic.arn",)),
        ("function_name", ("aws.lambda.invoked_arn",)),
    ):
        v = first(attrs, *names)
        if v is not None:
            block[key] = as_text(v)
    tables = attrs.get("aws.dynamodb.table_names")
    if isinstance(tables, list) and len(tables) == 1:
        block["table_name"] = as_text(tables[0])
    elif isinstance(tables, list) and tables:
        block["table_names"] = [as_text(t) for t in tables]
    elif isinstance(tables, str) and tables:
        block["table_name"] = tables
    return block
