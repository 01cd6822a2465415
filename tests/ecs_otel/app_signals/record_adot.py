"""Records ADOT's Application Signals attributes for every case into ``adot_expected.json``.

``aws-opentelemetry-distro`` pins OpenTelemetry versions that conflict with the dev environment,
so it runs in a throwaway virtual environment instead::

    python -m venv /tmp/adot && /tmp/adot/bin/pip install aws-opentelemetry-distro
    cd <repo> && PYTHONPATH=$PWD /tmp/adot/bin/python tests/ecs_otel/app_signals/record_adot.py

The parity test (``test_attribute_parity.py``) feeds the same cases to ecs_otel's generator and
compares with this file. Re-run after changing the cases or upgrading ADOT; the version used is
stored in the file.
"""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

from amazon.opentelemetry.distro._aws_metric_attribute_generator import _AwsMetricAttributeGenerator
from amazon.opentelemetry.distro.attribute_propagating_span_processor_builder import (
    AttributePropagatingSpanProcessorBuilder,
)

from tests.ecs_otel.app_signals.cases import CASES
from tests.ecs_otel.app_signals.runner import run

OUT = Path(__file__).with_name("adot_expected.json")


def main() -> None:
    generator = _AwsMetricAttributeGenerator()
    results = {}
    for name, case in sorted(CASES.items()):
        if "expect_as" in case:
            continue
        results[name] = run(case, AttributePropagatingSpanProcessorBuilder().build(),
                            generator.generate_metric_attributes_dict_from_span)
    doc = {"aws-opentelemetry-distro": version("aws-opentelemetry-distro"), "cases": results}
    OUT.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(results)} cases to {OUT}")


if __name__ == "__main__":
    main()
