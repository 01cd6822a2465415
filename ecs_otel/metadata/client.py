"""A small, stdlib-only client for the ECS task metadata endpoint v4 (v3 as fallback).

It runs inside user applications, often at import time, so its one promise is a bound: every
public call finishes within one *total* time budget that covers connecting, reading and the single
retry. Failures are :class:`~ecs_otel.metadata.errors.MetadataError` subclasses, never anything else.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ecs_otel import environment_variables as V
from ecs_otel.metadata.errors import MetadataError, MetadataMalformed, MetadataUnavailable
from ecs_otel.metadata.models import ContainerMetadata, TaskMetadata
from ecs_otel.metadata.parse import parse_container, parse_task
from ecs_otel.settings import MAX_METADATA_TIMEOUT_S, metadata_timeout

ENV_URI_V4 = V.ECS_CONTAINER_METADATA_URI_V4
ENV_URI_V3 = V.ECS_CONTAINER_METADATA_URI
ENV_TIMEOUT = V.ECS_OTEL_METADATA_TIMEOUT
DEFAULT_TIMEOUT_S = 1.0
#: Upper bound of ``ECS_OTEL_METADATA_TIMEOUT``: a larger value is one warning, then this.
MAX_TIMEOUT_S = MAX_METADATA_TIMEOUT_S

#: Largest body accepted; real task documents are a few KiB, task stats tens of KiB per container.
MAX_BODY_BYTES = 4 * 1024 * 1024
#: Pause before the one retry, so a restarting agent gets a moment.
RETRY_PAUSE_S = 0.05
#: Statuses worth one retry: the agent answers 5xx while it is still gathering state.
_RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})

T = TypeVar("T")


def timeout_from_environment(env: Mapping[str, str] = os.environ) -> float:
    """``ECS_OTEL_METADATA_TIMEOUT`` in seconds, read as the library's settings read it (never raises).

    A bad value (not a number, ``inf``, ``nan``, not > 0) is one warning naming the variable and the default;
    values above :data:`MAX_TIMEOUT_S` are one warning and the cap: a hanging endpoint must not hold the app's
    start-up for minutes because of a typo.
    """
    return metadata_timeout(env)


def on_ecs(env: Mapping[str, str] = os.environ) -> bool:
    """Whether this process runs in an ECS container: the agent sets the metadata URI in every
    container it starts (EC2, Fargate, Managed Instances); ``AWS_EXECUTION_ENV`` says so as well."""
    return bool(env.get(ENV_URI_V4) or env.get(ENV_URI_V3) or env.get("AWS_EXECUTION_ENV", "").startswith("AWS_ECS"))


class MetadataClient:
    """Fetches and parses the metadata documents of the container it runs in.

    The task and container documents are cached for the life of the process (they describe the
    task, which does not change under a running container); stats are always fetched fresh.
    """

    def __init__(self, base_url: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        if not 0 < timeout_s < math.inf:
            raise ValueError(f"timeout_s must be positive and finite, got {timeout_s}")
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port
        self._path = parts.path.rstrip("/")
        self._task: TaskMetadata | None = None
        self._container: ContainerMetadata | None = None

    @classmethod
    def from_environment(
        cls, env: Mapping[str, str] = os.environ, timeout_s: float | None = None
    ) -> MetadataClient | None:
        """The client for this container, or ``None`` outside ECS (no metadata variable set).

        ``timeout_s`` is a budget the caller already parsed (library settings); without it the
        client reads ``ECS_OTEL_METADATA_TIMEOUT`` itself. The environment is never written to.
        """
        url = env.get(ENV_URI_V4) or env.get(ENV_URI_V3)
        if not url:
            return None
        try:
            return cls(url, timeout_s if timeout_s is not None else timeout_from_environment(env))
        except ValueError:
            return None

    def __repr__(self) -> str:
        return f"MetadataClient({self.base_url!r}, timeout_s={self.timeout_s})"

    # -- documents ---------------------------------------------------------------------------

    def container(self, *, deadline: float | None = None, refresh: bool = False) -> ContainerMetadata:
        """This container's document. ``deadline`` (``time.monotonic()``) overrides the budget."""
        if self._container is None or refresh:
            doc = self._get_json("", deadline)
            self._container = _parsed(parse_container, doc)
        return self._container

    def task(self, *, deadline: float | None = None, refresh: bool = False) -> TaskMetadata:
        """The task document, fetched once per process unless ``refresh`` is true."""
        if self._task is None or refresh:
            doc = self._get_json("/task", deadline)
            self._task = _parsed(parse_task, doc)
        return self._task

    def task_with_tags(self, *, deadline: float | None = None) -> TaskMetadata:
        """``/taskWithTags``: the task plus its tags (needs ``ecs:ListTagsForResource``); not cached."""
        return _parsed(parse_task, self._get_json("/taskWithTags", deadline))

    def container_stats(self, *, deadline: float | None = None) -> dict[str, Any]:
        """Raw Docker-style stats of this container (``/stats``)."""
        doc = self._get_json("/stats", deadline)
        if not isinstance(doc, dict):
            raise MetadataMalformed(f"stats: expected a JSON object, got {type(doc).__name__}")
        return doc

    def task_stats(self, *, deadline: float | None = None) -> dict[str, dict[str, Any] | None]:
        """Raw stats of every container keyed by Docker id (``/task/stats``); stopped ones may be
        ``None`` or ``{}``."""
        doc = self._get_json("/task/stats", deadline)
        if not isinstance(doc, dict) or any(v is not None and not isinstance(v, dict) for v in doc.values()):
            raise MetadataMalformed("task stats: expected an object of objects keyed by Docker id")
        return doc

    # -- transport ---------------------------------------------------------------------------

    def _get_json(self, suffix: str, deadline: float | None) -> Any:
        if deadline is None or not math.isfinite(deadline):  # an unbounded deadline would break the promise
            deadline = time.monotonic() + self.timeout_s
        body = self._get(self._path + suffix, deadline)
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise MetadataMalformed(f"{self.base_url}{suffix}: not JSON ({exc})") from None

    def _get(self, path: str, deadline: float) -> bytes:
        """GET with at most one retry, all inside ``deadline``."""
        last: MetadataUnavailable | None = None
        for attempt in range(2):
            remaining = deadline - time.monotonic()
            if attempt and remaining > RETRY_PAUSE_S * 2:
                time.sleep(RETRY_PAUSE_S)
                remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                return self._attempt(path, deadline)
            except MetadataUnavailable as exc:
                last = exc
                if exc.status is not None and exc.status not in _RETRYABLE_STATUSES:
                    raise
        if last is None:
            last = MetadataUnavailable(f"{self.base_url}: no time left in the {self.timeout_s}s budget")
        raise last

    def _attempt(self, path: str, deadline: float) -> bytes:
        conn_cls = http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
        conn = conn_cls(self._host, self._port, timeout=max(deadline - time.monotonic(), 0.001))
        url = f"{self._scheme}://{self._host}{':' + str(self._port) if self._port else ''}{path}"
        try:
            conn.request("GET", path or "/", headers={"Accept": "application/json"})
            _bound(conn, deadline, url)
            response = conn.getresponse()
            if response.status != 200:
                raise MetadataUnavailable(f"{url}: HTTP {response.status}", status=response.status)
            chunks: list[bytes] = []
            size = 0
            while True:
                _bound(conn, deadline, url)
                chunk = response.read1(65536) if hasattr(response, "read1") else response.read(65536)
                if not chunk:
                    break
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise MetadataMalformed(f"{url}: body larger than {MAX_BODY_BYTES} bytes")
                chunks.append(chunk)
            return b"".join(chunks)
        except MetadataError:
            raise
        except TimeoutError:
            raise MetadataUnavailable(f"{url}: timed out") from None
        except (OSError, http.client.HTTPException) as exc:
            raise MetadataUnavailable(f"{url}: {exc.__class__.__name__}: {exc}") from None
        finally:
            conn.close()


def _bound(conn: http.client.HTTPConnection, deadline: float, url: str) -> None:
    """Shrink the socket timeout to what is left, so a trickling server cannot outlast the budget."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise MetadataUnavailable(f"{url}: timed out")
    if conn.sock is not None:
        conn.sock.settimeout(remaining)


def _parsed(parser: Callable[[Any], T], doc: Any) -> T:
    try:
        return parser(doc)
    except MetadataError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise MetadataMalformed(f"unexpected document shape: {exc}") from None
