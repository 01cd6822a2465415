"""Entry point: run the demo, print the summary, exit 0 (130 on Ctrl-C, 1 when a part failed to start).

In the keep-running mode (``DEMO_KEEP=1`` or ``DEMO_SECONDS=0``) the summary is printed while everything
still runs, and Ctrl-C is the normal way out (exit 0).
"""

from __future__ import annotations

import os
from pathlib import Path

from examples.demo.run import (
    DemoRun,
    Interrupted,
    StartError,
    keep_from_env,
    run,
    seconds_from_env,
    trace_ratio_from_env,
)


def _show(result: DemoRun) -> None:
    from examples.demo.summary import keep_banner, render

    print()
    print(render(result))
    if result.live:
        print(keep_banner(result), flush=True)


def main() -> int:
    seconds = seconds_from_env(os.environ)
    keep = keep_from_env(os.environ)
    trace_ratio = trace_ratio_from_env(os.environ)
    out_dir = Path(os.environ.get("DEMO_OUTPUT", "demo-output")).resolve()
    then = ", then kept running until Ctrl-C" if keep else ""
    print(f"ecs-otel demo: {seconds:.0f} s of load{then}, output in {out_dir}\n")
    try:
        result = run(out_dir, seconds, keep=keep, show=_show, trace_ratio=trace_ratio)
    except Interrupted:
        print("\n\ninterrupted: every process the demo started has been stopped.")
        return 130
    except StartError as exc:
        print(f"\n\nthe demo could not start: {exc}\n(logs in {out_dir / 'logs'})")
        return 1
    if keep:
        print(f"stopped after {result.seconds:.1f} s; every process the demo started (pids "
              f"{', '.join(str(p) for p in result.pids.values())}) has exited.")
    else:
        _show(result)
    return 0
