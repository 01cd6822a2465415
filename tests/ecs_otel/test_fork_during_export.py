"""A worker forked while the parent is exporting still delivers its own spans, whichever way it exits.

The parent's exporting thread imports modules lazily: building the exporter imports the OTLP
package, its first request imports ``netrc`` (requests looks for credentials). Each import holds a
per-module lock that ``fork()`` does not reset; a worker forked inside one inherits it held by a
thread that does not exist in the worker. Its exports then block on that import for good, its exit
flush waits out ``ECS_OTEL_SHUTDOWN_TIMEOUT`` and its spans are lost (seen about 1 run in 4 with
gunicorn-style forks). The fix makes every fork wait for exports in progress.

The interleaving is forced, not hoped for: an import hook holds the module's import in the parent's
exporting thread until the fork has started (the library logs, at debug level, that the fork waits
for an export; without the fix nothing waits and the fork lands inside the import).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ecs_otel.conftest import base_env, resource_spans, write_script

PARENT = r'''
import ecs_otel.auto
import importlib.abc, importlib.machinery, json, logging, multiprocessing, os, signal, sys, threading
from opentelemetry import trace

MODULE, MODE = sys.argv[1], sys.argv[2]
importing, release = threading.Event(), threading.Event()


class HeldLoader(importlib.abc.Loader):
    """Runs MODULE's body only once ``release`` is set: meanwhile MODULE's import lock is held (and only that
    lock: finders run under the interpreter's global import lock, which fork() itself waits for)."""

    def __init__(self, real):
        self.real = real

    def create_module(self, spec):
        return self.real.create_module(spec)

    def exec_module(self, module):
        importing.set()
        release.wait(60)
        self.real.exec_module(module)


class HoldImport(importlib.abc.MetaPathFinder):
    """The exporting thread's first import of MODULE goes through ``HeldLoader``."""

    def find_spec(self, name, path=None, target=None):
        if name != MODULE or threading.current_thread().name != "exporting":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None:
            spec.loader = HeldLoader(spec.loader)
        return spec


class ForkWaits(logging.Handler):
    """The fork has started and waits for the export: let the export go on."""

    def emit(self, record):
        if record.getMessage().startswith("ecs_otel: fork waits for an export"):
            release.set()


sys.meta_path.insert(0, HoldImport())
library_log = logging.getLogger("ecs_otel")
library_log.addHandler(ForkWaits())
library_log.setLevel(logging.DEBUG)
tracer = trace.get_tracer("fork-test")


def held_import_locks():
    """Modules whose import lock this process holds for a thread other than this one (none exist after fork)."""
    import importlib._bootstrap as bootstrap
    me = threading.get_ident()
    out = []
    for name, ref in list(getattr(bootstrap, "_module_locks", {}).items()):
        lock = ref()
        if lock is not None and getattr(lock, "count", 0) and getattr(lock, "owner", me) != me:
            out.append(name)
    return out


def worker(report_fd, block_fd):
    """The forked worker: say what it inherited, make a span, leave the way MODE says."""
    held = held_import_locks()
    with tracer.start_as_current_span("child-span"):
        pass
    os.write(report_fd, (json.dumps({"pid": os.getpid(), "held": held}) + "\n").encode())  # (then SIGTERM)
    if MODE == "sigterm":
        os.read(block_fd, 1)  # until the parent's SIGTERM (the library flushes, then dies by the signal)
    if MODE == "exit":
        sys.exit(0)  # a gunicorn worker's way out: atexit runs
    # multiprocessing: returning ends in os._exit() after the process's bootstrap (atexit never runs)


with tracer.start_as_current_span("parent-span"):
    pass
# Not a default-size stack: a thread the worker starts never reuses this one's (and so its thread id,
# which would let that thread take the orphaned import lock as its own and hide the hang).
threading.stack_size(256 * 1024 * 1024)
exporting = threading.Thread(target=trace.get_tracer_provider().force_flush, name="exporting")
exporting.start()  # (the stack size applies when the thread starts)
threading.stack_size(0)
assert importing.wait(30), f"the export never imported {MODULE}"
report_r, report_w = os.pipe()
block_r, block_w = os.pipe()
if MODE == "multiprocessing":
    child = multiprocessing.get_context("fork").Process(target=worker, args=(report_w, block_r))
    child.start()
    pid = child.pid
else:
    pid = os.fork()
    if pid == 0:
        worker(report_w, block_r)
        os._exit(0)
release.set()
exporting.join(30)
with os.fdopen(report_r) as reports:
    report = json.loads(reports.readline())
if MODE == "sigterm":
    os.kill(pid, signal.SIGTERM)
if MODE == "multiprocessing":
    child.join(60)
    status = child.exitcode
else:
    status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
print(json.dumps({**report, "status": status}), flush=True)
'''


@pytest.mark.parametrize("mode", ["exit", "sigterm", "multiprocessing"])
@pytest.mark.parametrize("module", ["netrc", "opentelemetry.exporter.otlp.proto.http.trace_exporter"],
                         ids=["import-in-export", "import-in-build"])
def test_worker_forked_during_export_delivers_its_spans(tmp_path: Path, sink, module: str, mode: str):
    script = write_script(tmp_path, PARENT, "parent.py")
    # Spans leave only through the flushes under test (not the batch timer); a short exit budget keeps
    # the failure (a worker blocked on the import until its budget runs out) quick to show.
    env = base_env(sink, OTEL_BSP_SCHEDULE_DELAY="60000", OTEL_METRIC_EXPORT_INTERVAL="60000",
                   ECS_OTEL_SHUTDOWN_TIMEOUT="3")
    out = subprocess.run([sys.executable, str(script), module, mode], env=env, capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stdout + out.stderr
    child = json.loads(out.stdout.strip().splitlines()[-1])
    assert child["held"] == [], f"the worker inherited import locks held by the parent's exporting thread: {child}"
    assert child["status"] == (-15 if mode == "sigterm" else 0), child
    got = sink.wait_for("traces", lambda r: {"parent-span", "child-span"} <= {s["name"] for _, s in resource_spans(r)},
                        timeout_s=20)
    pids = {s["name"]: int(res["process.pid"]) for res, s in resource_spans(got)}
    assert pids["child-span"] == child["pid"]
