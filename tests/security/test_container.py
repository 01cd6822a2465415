"""The image runs as non-root on a read-only root filesystem: the sidecar writes nothing outside /tmp.

No container engine runs here, so the read-only part is reproduced with the process itself: the
sidecar runs (as an unprivileged user when the tests run as root, since root ignores permissions)
with HOME and its working directory in a directory it cannot write, and must start and serve;
afterwards that directory must still be empty.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from tests.faults.otlp_client import PROTOBUF, trace_request
from tests.support.paths import REPO_ROOT

ROOT = REPO_ROOT
DOCKERFILE = ROOT / "sidecar" / "Dockerfile"
NOBODY = 65534


def runtime_stage(text: str) -> list[str]:
    """Instructions of the last stage, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", text)
    lines = [ln.strip() for ln in joined.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    last_from = max(i for i, ln in enumerate(lines) if ln.upper().startswith("FROM "))
    return lines[last_from:]


def test_dockerfile_is_non_root_and_read_only_friendly() -> None:
    stage = runtime_stage(DOCKERFILE.read_text())
    users = [ln.split(None, 1)[1] for ln in stage if ln.upper().startswith("USER ")]
    assert users, "the runtime stage must switch user"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, users  # numeric, so runAsNonRoot can verify it
    after_user = stage[stage.index(next(ln for ln in stage if ln.upper().startswith("USER "))):]
    assert not [ln for ln in after_user if ln.upper().startswith(("RUN ", "VOLUME", "COPY ", "ADD "))]
    assert not [ln for ln in stage if ln.upper().startswith("VOLUME")]  # nothing needs a writable mount but /tmp
    env = " ".join(ln for ln in stage if ln.upper().startswith("ENV "))
    assert "HOME=/tmp" in env and "ECS_OTEL_FILE_PATH=/tmp/" in env and "PYTHONDONTWRITEBYTECODE=1" in env
    assert "WORKDIR /tmp" in stage


def _demote() -> None:
    os.setgid(NOBODY)
    os.setuid(NOBODY)


def _can_run_unprivileged() -> bool:
    """Root ignores permissions, so demote; unless the interpreter lives where nobody may go (/root)."""
    if os.geteuid() != 0:
        return False
    try:
        return subprocess.run([sys.executable, "-c", "pass"], preexec_fn=_demote, timeout=30).returncode == 0
    except OSError:
        return False


def test_sidecar_runs_with_read_only_home_and_cwd() -> None:
    # As root without an unprivileged interpreter the permissions do not bind: the empty-directory
    # check at the end is then what shows nothing was written there.
    demote = _can_run_unprivileged()
    work = Path(tempfile.mkdtemp(prefix="ro-sidecar-"))  # not tmp_path: an unprivileged user must reach it
    try:
        readonly = work / "readonly"
        readonly.mkdir()
        writable = work / "run"
        writable.mkdir()
        os.chmod(work, 0o755)
        os.chmod(readonly, 0o555)
        os.chmod(writable, 0o777)
        ports_file = writable / "ports.json"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ECS_OTEL_", "OTEL_", "ECS_CONTAINER", "AWS_"))}
        env.update({"HOME": str(readonly), "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1",
                    "TMPDIR": str(writable), "ECS_OTEL_OTLP_HTTP_PORT": "0", "ECS_OTEL_OTLP_GRPC_PORT": "0",
                    "ECS_OTEL_STATUS_PORT": "0", "ECS_OTEL_TRACES_EXPORTERS": "debug,file",
                    "ECS_OTEL_FILE_PATH": str(writable / "otel-output"), "ECS_OTEL_BATCH_TIMEOUT": "0.1"})
        proc = subprocess.Popen([sys.executable, "-m", "sidecar", "--ports-file", str(ports_file)], cwd=readonly,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                preexec_fn=_demote if demote else None)
        try:
            deadline = time.monotonic() + 30
            while not ports_file.exists():
                assert proc.poll() is None, proc.communicate()[1][-3000:]
                assert time.monotonic() < deadline, "sidecar did not start"
                time.sleep(0.05)
            ports = json.loads(ports_file.read_text())
            req = urllib.request.Request(f"http://127.0.0.1:{ports['otlp_http']}/v1/traces",
                                         data=trace_request(3, "ro"), headers={"Content-Type": PROTOBUF})
            with urllib.request.urlopen(req, timeout=10) as resp:
                assert resp.status == 200
            with urllib.request.urlopen(f"http://127.0.0.1:{ports['status']}/healthz", timeout=10) as resp:
                assert resp.status == 200
            deadline = time.monotonic() + 15
            while "ro-2" not in "".join(p.read_text() for p in (writable / "otel-output").rglob("*") if p.is_file()):
                assert time.monotonic() < deadline, "the file exporter wrote nothing"
                time.sleep(0.1)
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err[-3000:]
        assert list(readonly.iterdir()) == []
        assert b"Permission denied" not in err and b"Read-only" not in err
    finally:
        shutil.rmtree(work, ignore_errors=True)
