"""Child processes for tests: wait until one has said where it listens, and always stop it.

Servers started by tests bind port 0 and write the port they got to a file (``--port-file``,
``--ports-file``); the test waits for that file rather than guessing with sleeps, and learns
at once (with the child's stderr) when the child died instead of starting. Third-party servers
that cannot report a port but accept a listening socket from their parent (gunicorn, uvicorn) get
one from :func:`listening_socket` instead of a port number picked and released beforehand.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

POLL_S = 0.02


def listening_socket(host: str = "127.0.0.1") -> socket.socket:
    """A TCP socket on a port the kernel picked, already listening and inheritable, to hand to a server.

    Pass it with ``pass_fds=(sock.fileno(),)`` (gunicorn ``--bind fd://N``, uvicorn ``--fd N``) and close the
    parent's copy once the child has started. The port stays bound from the moment it is chosen until the
    server exits, so no other process can take it in between, as it can a port that is picked, released,
    then named to the server; and a connection made before the server accepts waits in the backlog.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((host, 0))
        sock.listen(128)
        sock.set_inheritable(True)
    except OSError:
        sock.close()
        raise
    return sock


def wait_for_port_file(proc: subprocess.Popen[bytes], path: Path, what: str, timeout_s: float = 20.0,
                       stderr_path: Path | None = None) -> str:
    """The text ``proc`` wrote to ``path`` once it is there and not empty.

    Raises ``RuntimeError`` if ``proc`` exits first (quoting the end of ``stderr_path``) or after
    ``timeout_s``; stopping the child is then the caller's job, as it may own log files to close.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        text = path.read_text() if path.exists() else ""
        if text:
            return text
        if proc.poll() is not None:
            err = stderr_path.read_text(errors="replace")[-4000:] if stderr_path is not None else ""
            raise RuntimeError(f"{what} exited with {proc.returncode} before listening" + (f":\n{err}" if err else ""))
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start within {timeout_s:g} s")
        time.sleep(POLL_S)


def stop_process(proc: subprocess.Popen[bytes], timeout_s: float = 5.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout_s``; a no-op once it has exited."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout_s)
