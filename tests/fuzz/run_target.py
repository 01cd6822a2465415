"""One atheris (libFuzzer) run of one target: ``python -m tests.fuzz.run_target NAME [libFuzzer flags]``.

The project's modules are imported under ``atheris.instrument_imports`` so coverage guides the
mutations; libFuzzer ends the process itself (``-max_total_time`` / ``-runs``), writing any
crashing input under ``-artifact_prefix``.
"""

from __future__ import annotations

import sys


def main() -> None:
    import atheris

    name = sys.argv[1]
    with atheris.instrument_imports(include=["sidecar", "ecs_otel", "tests.fuzz"]):
        from tests.fuzz.targets import TARGETS
    target = TARGETS[name]
    atheris.Setup([sys.argv[0], *sys.argv[2:]], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
