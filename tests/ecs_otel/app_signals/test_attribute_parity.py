"""ecs_otel's Application Signals attributes equal ADOT's, case by case (tests/ecs_otel/app_signals/cases.py).

ADOT's outputs were recorded by ``record_adot.py`` in ADOT's own environment (its pinned
OpenTelemetry versions conflict with ours) into ``adot_expected.json``. Cases marked
``expect_as`` carry the stable HTTP/database attributes: ours must read them as ADOT reads the
older forms.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ecs_otel.tracing.app_signals import AttributePropagator
from ecs_otel.tracing.app_signals_attributes import metric_attributes
from tests.ecs_otel.app_signals.cases import CASES
from tests.ecs_otel.app_signals.runner import run

EXPECTED: dict[str, Any] = json.loads(Path(__file__).with_name("adot_expected.json").read_text())["cases"]


def test_every_recorded_case_is_still_in_the_table() -> None:
    recorded = {name for name, case in CASES.items() if "expect_as" not in case}
    assert recorded == set(EXPECTED), "re-run tests/ecs_otel/app_signals/record_adot.py after changing the cases"


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_attributes_as_adot(name: str) -> None:
    case = CASES[name]
    expected = EXPECTED[case.get("expect_as", name)]
    ours = run(case, AttributePropagator(), metric_attributes)
    assert ours == expected


def test_every_span_kind_and_aws_service_is_covered() -> None:
    """The issue's list: server, client, producer, consumer, local root; DynamoDB, S3, SQS, SNS, Lambda, Kinesis."""
    kinds = {attrs["aws.span.kind"] for case in EXPECTED.values() for sets in case.values()
             for attrs in sets.values()}  # fmt: skip
    assert {"SERVER", "LOCAL_ROOT", "CLIENT", "PRODUCER", "CONSUMER"} <= kinds
    remotes = {attrs.get("aws.remote.service") for case in EXPECTED.values() for sets in case.values()
               for attrs in sets.values()}  # fmt: skip
    assert {"AWS::DynamoDB", "AWS::S3", "AWS::SQS", "AWS::SNS", "AWS::Kinesis", "resize-image"} <= remotes
    assert any(attrs.get("aws.remote.resource.type") == "AWS::Lambda::Function"
               for case in EXPECTED.values() for sets in case.values() for attrs in sets.values())  # fmt: skip
