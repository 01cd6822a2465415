"""``ecs-otel-sidecar healthcheck``: ask the running sidecar's ``/healthz``, so a task definition needs no curl."""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from collections.abc import Mapping

DEFAULT_PORT = 13133


def status_url(env: Mapping[str, str], url: str | None = None) -> str:
    if url:
        return url
    host = env.get("ECS_OTEL_STATUS_HOST") or "127.0.0.1"
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    port = env.get("ECS_OTEL_STATUS_PORT") or str(DEFAULT_PORT)
    return f"http://{host}:{port}/healthz"


def check(url: str, timeout_s: float = 3.0) -> int:
    """0 when ``url`` answers 200, else 1 (with the reason on stderr)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            ok = resp.status == 200
            body = resp.read(4096).decode(errors="replace")
    except urllib.error.HTTPError as exc:
        ok, body = False, exc.read(4096).decode(errors="replace")
    except OSError as exc:
        print(f"unhealthy: cannot reach {url}: {exc}", file=sys.stderr)
        return 1
    print(body.strip() or ("healthy" if ok else "unhealthy"), file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1
