"""The HTTP side of the emulator: v4 routes, fault injection and the ``/__control`` endpoint.

Standard library only (``ThreadingHTTPServer``), so ``python -m ecs_otel.emulator`` works with a
plain ``pip install ecs-otel``; one thread per request lets a hanging request coexist with control
calls that release it.
"""

from __future__ import annotations

import json
import logging
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ecs_otel.emulator.faults import FaultState
from ecs_otel.emulator.source import DocumentSource

logger = logging.getLogger("ecs_otel.emulator")

CONTROL_PATH = "/__control"
#: Largest control request body accepted.
MAX_CONTROL_BODY = 64 * 1024
_MALFORMED_BODY = b'{"DockerId": "truncated", "Name": '


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str, port: int, source: DocumentSource, faults: FaultState, *, verbose: bool = False):
        self.source = source
        self.faults = faults
        self.verbose = verbose
        super().__init__((host, port), _Handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def base_url(self) -> str:
        host = self.server_address[0]
        return f"http://{host.decode() if isinstance(host, bytes) else host}:{self.port}"

    def uri(self, container_id: str | None = None) -> str:
        """The ``ECS_CONTAINER_METADATA_URI_V4`` value of one container (default: the advertised one)."""
        return f"{self.base_url}/v4/{container_id or self.source.container_ids()[0]}"

    def describe(self) -> dict[str, Any]:
        uris = {}
        for cid in self.source.container_ids():
            doc = self.source.container(cid) or {}
            uris[str(doc.get("Name", cid))] = self.uri(cid)
        return {**self.faults.snapshot(), "uri": self.uri(), "uris": uris}

    def server_close(self) -> None:
        self.faults.stop()
        super().server_close()


class _Handler(BaseHTTPRequestHandler):
    server: EmulatorServer
    server_version = "ecs-otel-emulator"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            logger.info("%s %s", self.address_string(), format % args)

    # -- control -----------------------------------------------------------------------------

    def do_POST(self) -> None:
        if self.path != CONTROL_PATH:
            self._json(HTTPStatus.NOT_FOUND, {"error": "POST is only for /__control"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_CONTROL_BODY:
            self._json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "control body too large"})
            return
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
            if not isinstance(body, dict):
                raise ValueError("expected a JSON object")
            if body.get("reset_counts"):
                self.server.faults.reset_counts()
            if "fault" in body or "delay_s" in body:
                current = self.server.faults.current
                name = body.get("fault", current.name)
                self.server.faults.set(name, body.get("delay_s"))
        except (ValueError, TypeError) as exc:
            self._json(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
            return
        self._json(HTTPStatus.OK, self.server.describe())

    # -- metadata ----------------------------------------------------------------------------

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == CONTROL_PATH:
            self._json(HTTPStatus.OK, self.server.describe())
            return
        parts = path.lstrip("/").split("/", 2)
        if len(parts) < 2 or parts[0] not in ("v3", "v4"):
            self._json(HTTPStatus.NOT_FOUND, {"error": f"unknown path {path!r}; try {self.server.uri()}"})
            return
        container_id, route = parts[1], parts[2] if len(parts) > 2 else ""
        self.server.faults.count(route or "container")
        if self._apply_fault():
            return
        doc = self._document(container_id, route)
        if doc is None:
            self._json(HTTPStatus.NOT_FOUND, {"error": f"no such container or route: {path!r}"})
        else:
            self._json(HTTPStatus.OK, doc)

    def _document(self, container_id: str, route: str) -> Any:
        source = self.server.source
        if source.container(container_id) is None:
            return None
        if route == "":
            return source.container(container_id)
        if route == "stats":
            return source.container_stats(container_id)
        return {
            "task": source.task,
            "taskWithTags": source.task_with_tags,
            "task/stats": source.task_stats,
            "tasks": source.tasks,
        }.get(route, lambda: None)()

    def _apply_fault(self) -> bool:
        """Act out the current fault; ``True`` when the response was (or will never be) sent."""
        fault = self.server.faults.current
        if fault.delay_s:
            time.sleep(fault.delay_s)
        if fault.name == "hang":
            self.server.faults.hang()
            self.close_connection = True
            return True
        if fault.name == "500":
            self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "emulated agent failure"})
            return True
        if fault.name == "404":
            self._json(HTTPStatus.NOT_FOUND, {"error": "emulated: metadata not found"})
            return True
        if fault.name == "malformed":
            self._send(HTTPStatus.OK, _MALFORMED_BODY, "application/json")
            return True
        return False

    def _json(self, status: HTTPStatus, payload: Any) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (a timeout under test): nothing to do
