"""``python -m tests.fuzz``: fuzz every target for a bounded time (``make fuzz``).

With atheris installed (``pip install -e '.[fuzz]'``) each target runs under libFuzzer in its
own process for ``--seconds`` (or ``--runs`` inputs); crashing inputs are written to
``--artifacts``. Without atheris it says so and falls back to random inputs for the same time.
Exit status 1 when any target found a failing input.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

from tests.fuzz.targets import TARGETS
from tests.support.paths import REPO_ROOT

ROOT = REPO_ROOT


def run_atheris(name: str, seconds: float, runs: int | None, artifacts: Path) -> bool:
    flags = [f"-max_total_time={max(1, int(seconds))}", f"-artifact_prefix={artifacts}/{name}-",
             "-print_final_stats=1", "-max_len=4096"]
    if runs is not None:
        flags.append(f"-runs={runs}")
    proc = subprocess.run([sys.executable, "-m", "tests.fuzz.run_target", name, *flags], cwd=ROOT,
                          timeout=seconds + 120, capture_output=True, text=True)
    stats = [ln for ln in proc.stderr.splitlines() if ln.startswith(("stat::number_of_executed_units", "Done "))]
    print(f"{name}: exit {proc.returncode}; {'; '.join(stats) or 'no stats'}")
    if proc.returncode != 0:
        print(proc.stderr[-4000:])
    return proc.returncode == 0


def run_random(name: str, seconds: float, runs: int | None, artifacts: Path, seed: int) -> bool:
    rng = random.Random(seed)
    target = TARGETS[name]
    deadline = time.monotonic() + seconds
    done = 0
    while time.monotonic() < deadline and (runs is None or done < runs):
        data = rng.randbytes(rng.randint(0, 2048))
        done += 1
        try:
            target(data)
        except Exception:
            path = artifacts / f"{name}-crash-{done}"
            path.write_bytes(data)
            print(f"{name}: failing input after {done} runs, saved to {path}")
            traceback.print_exc()
            return False
    print(f"{name}: {done} random inputs, no failure")
    return True


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=60.0, help="time per target (default: %(default)s)")
    p.add_argument("--runs", type=int, default=None, help="stop each target after this many inputs")
    p.add_argument("--target", action="append", choices=sorted(TARGETS), help="only these targets")
    p.add_argument("--artifacts", type=Path, default=None, help="where failing inputs go (default: a temp dir)")
    p.add_argument("--seed", type=int, default=0, help="seed of the fallback random inputs")
    a = p.parse_args(argv)
    artifacts = a.artifacts or Path(tempfile.mkdtemp(prefix="ecs-otel-fuzz-"))
    artifacts.mkdir(parents=True, exist_ok=True)
    have_atheris = importlib.util.find_spec("atheris") is not None
    if not have_atheris:
        print("atheris is not installed (pip install -e '.[fuzz]'); falling back to random inputs")
    ok = True
    for name in a.target or sorted(TARGETS):
        if have_atheris:
            ok &= run_atheris(name, a.seconds, a.runs, artifacts)
        else:
            ok &= run_random(name, a.seconds, a.runs, artifacts, a.seed)
    print(f"fuzzing {'passed' if ok else 'FOUND FAILURES'}; artifacts in {artifacts}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
