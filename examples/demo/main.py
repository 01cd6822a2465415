"""Entry point: run the demo, print the summary, exit 0 (130 on Ctrl-C, 1 when a part failed to start)."""

from __future__ import annotations

import os
from pathlib import Path

from examples.demo.run import Interrupted, StartError, run, seconds_from_env


def main() -> int:
    seconds = seconds_from_env(os.environ)
    out_dir = Path(os.environ.get("DEMO_OUTPUT", "demo-output")).resolve()
    print(f"ecs-otel demo: {seconds:.0f} s, output in {out_dir}\n")
    try:
        result = run(out_dir, seconds)
    except Interrupted:
        print("\n\ninterrupted: every process the demo started has been stopped.")
        return 130
    except StartError as exc:
        print(f"\n\nthe demo could not start: {exc}\n(logs in {out_dir / 'logs'})")
        return 1
    from examples.demo.summary import render

    print()
    print(render(result))
    return 0
