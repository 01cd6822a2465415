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
