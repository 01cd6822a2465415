"""The example IAM policies grant every AWS action the exporters call, and nothing broader than needed."""

from __future__ import annotations

import json
import re

from tests.support.paths import REPO_ROOT

ROOT = REPO_ROOT
POLICIES = ROOT / "examples"


def actions(name: str) -> set[str]:
    doc = json.loads((POLICIES / name).read_text())
    out: set[str] = set()
    for statement in doc["Statement"]:
        assert statement["Effect"] == "Allow"
        acts = statement["Action"]
        out.update([acts] if isinstance(acts, str) else acts)
    assert not any("*" in a for a in out), "no wildcard actions"
    return out


def called(component: str, prefix: str) -> set[str]:
    """Operations an exporter component calls through AwsApi.call (its internals included)."""
    ops: set[str] = set()
    for path in (ROOT / "sidecar" / "exporters" / component).rglob("*.py"):
        ops.update(re.findall(r'\.call\(\s*"([A-Za-z]+)"', path.read_text()))
    return {f"{prefix}:{op}" for op in ops}


def test_xray_policy_covers_calls_and_proxy() -> None:
    needed = called("xray", "xray") | {"xray:GetSamplingRules", "xray:GetSamplingTargets"}
    assert needed == actions("iam-policy-xray.json")


def test_cloudwatch_policies_cover_calls() -> None:
    needed = called("cloudwatch", "logs")
    assert needed == {
        "logs:CreateLogGroup",
        "logs:PutRetentionPolicy",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
    assert needed == actions("iam-policy-cloudwatch-emf.json") == actions("iam-policy-cloudwatch-logs.json")
    assert actions("iam-policy-cloudwatch-metrics-otlp.json") == {"cloudwatch:PutMetricData"}


def _iam_match(pattern: str, arn: str) -> bool:
    """IAM's resource matching: ``*`` any run of characters (colons included), ``?`` one character."""
    return re.fullmatch(".*".join(".".join(map(re.escape, p.split("?"))) for p in pattern.split("*")), arn) is not None


def allowed(name: str, action: str, arn: str) -> bool:
    doc = json.loads((POLICIES / name).read_text())
    for statement in doc["Statement"]:
        acts = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        res = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if action in acts and any(_iam_match(r, arn) for r in res):
            return True
    return False


def test_iam_matcher_follows_iam_wildcards() -> None:
    assert _iam_match("arn:aws:logs:*:*:log-group:/ecs/*", "arn:aws:logs:eu-west-1:1:log-group:/ecs/a/metrics")
    assert _iam_match("arn:aws:logs:*:*:log-group:/ecs/?", "arn:aws:logs:eu-west-1:1:log-group:/ecs/a")
    assert not _iam_match("arn:aws:logs:*:*:log-group:/ecs/?", "arn:aws:logs:eu-west-1:1:log-group:/ecs/ab")
    assert not _iam_match("arn:aws:logs:*:*:log-group:/ecs/*", "arn:aws:logs:eu-west-1:1:log-group:/aws/x")


def test_emf_policy_covers_every_log_group_emf_mode_writes() -> None:
    """The default EMF-mode exporter (Container Insights on, Application Signals on by default) builds its
    writers; each group and stream it would create or write must be allowed by the EMF policy's resources."""
    from sidecar.context import SidecarContext
    from sidecar.exporters.cloudwatch import CloudWatchExporter

    task = {
        "aws.ecs.task.arn": "arn:aws:ecs:eu-west-1:111122223333:task/prod/0123456789abcdef0123456789abcdef",
        "aws.ecs.cluster.arn": "arn:aws:ecs:eu-west-1:111122223333:cluster/prod",
        "aws.ecs.task.family": "checkout",
    }
    settings = CloudWatchExporter.Settings(region="eu-west-1", container_insights=True)
    exporter = CloudWatchExporter(settings, SidecarContext(env={}, task_attributes=task))
    writers = [exporter.metrics_writer, exporter.insights_writer, exporter.app_signals_writer]
    groups = {(w.group, w.stream) for w in writers if w is not None}
    assert "/aws/application-signals/data" in {g for g, _ in groups}
    assert len(groups) == 3
    for group, stream in groups:
        group_arn = f"arn:aws:logs:eu-west-1:111122223333:log-group:{group}"
        stream_arn = f"{group_arn}:log-stream:{stream}"
        for action in ("logs:CreateLogGroup", "logs:PutRetentionPolicy"):
            assert allowed("iam-policy-cloudwatch-emf.json", action, group_arn), (action, group_arn)
        for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
            assert allowed("iam-policy-cloudwatch-emf.json", action, stream_arn), (action, stream_arn)
