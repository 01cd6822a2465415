"""Local stand-ins for what the shop talks to, so the demo needs no AWS account and no network.

One small HTTP server answers two kinds of request:

- ``GET /stock/<sku>``: the inventory service the shop calls over plain HTTP;
- ``POST /`` with ``X-Amz-Target: DynamoDB_20120810.<Operation>``: the DynamoDB JSON protocol
  for ``GetItem`` and ``PutItem``, enough for botocore (pointed here by ``AWS_ENDPOINT_URL``
  with fake credentials) to make real, signed, instrumented calls.

It runs in a thread of the demo driver; a little random latency makes the percentiles worth reading.
"""

from __future__ import annotations

import json
import random
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PRODUCTS: dict[str, tuple[str, float]] = {
    "sku-espresso": ("Espresso beans 1 kg", 24.5),
    "sku-grinder": ("Burr grinder", 129.0),
    "sku-kettle": ("Gooseneck kettle", 59.9),
    "sku-filter": ("Paper filters x100", 6.2),
    "sku-mug": ("Stoneware mug", 14.0),
    "sku-scale": ("Brew scale", 39.0),
}
#: Bounded: the stub remembers at most this many orders (oldest first out).
MAX_ORDERS = 10_000


class _Handler(BaseHTTPRequestHandler):
    server: StubServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the demo's terminal is for the summary

    def _send(self, status: int, body: dict[str, Any], content_type: str = "application/json") -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.startswith("/stock/"):
            time.sleep(random.uniform(0.002, 0.025))
            sku = self.path.removeprefix("/stock/")
            self._send(200, {"sku": sku, "available": random.randint(0, 40)})
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        target = self.headers.get("X-Amz-Target", "")
        operation = target.rpartition(".")[2]
        ctype = "application/x-amz-json-1.0"
        time.sleep(random.uniform(0.001, 0.012))
        if operation == "GetItem":
            sku = body.get("Key", {}).get("sku", {}).get("S", "")
            found = PRODUCTS.get(sku)
            item = {} if found is None else {
                "Item": {"sku": {"S": sku}, "name": {"S": found[0]}, "price": {"N": str(found[1])}}
            }
            self._send(200, item, ctype)
        elif operation == "PutItem":
            self.server.record_order(body.get("Item", {}))
            self._send(200, {}, ctype)
        else:
            self._send(HTTPStatus.BAD_REQUEST, {
                "__type": "com.amazon.coral.service#UnknownOperationException",
                "message": f"the demo stub does not implement {operation or 'this request'}",
            }, ctype)


class StubServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), _Handler)
        self.orders: list[dict[str, Any]] = []
        self.dropped_orders = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = self.server_address[0]
        return f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{self.server_address[1]}"

    def record_order(self, item: dict[str, Any]) -> None:
        with self._lock:
            if len(self.orders) >= MAX_ORDERS:
                self.orders.pop(0)
                self.dropped_orders += 1
            self.orders.append(item)

    def start(self) -> StubServer:
        self._thread = threading.Thread(target=self.serve_forever, name="demo-stubs", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def main(argv: list[str] | None = None) -> None:
    """``python -m examples.demo.stubs --host 0.0.0.0 --port 8081``: the stubs on their own (docker compose)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m examples.demo.stubs", description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8081, help="port to bind (default: %(default)s)")
    opts = parser.parse_args(argv)
    server = StubServer(opts.host, opts.port)
    print(f"stubs listening on {server.url} (inventory: /stock/<sku>; DynamoDB: POST /)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
