"""A small instrumented Flask service for the Application Signals end-to-end test.

``python -m tests.ecs_otel.app_signals.app PORT_FILE`` serves on a free loopback port (written to PORT_FILE):
``/ok`` reads an item from DynamoDB (``APP_TABLE``) and calls ``APP_DOWNSTREAM`` over HTTP,
``/missing`` answers 404, ``/boom`` 500. Telemetry comes from ``import ecs_otel.auto`` and the
environment the test sets (OTEL_AWS_APPLICATION_SIGNALS_ENABLED, the sampler, the sidecar endpoint).
"""

from __future__ import annotations

# isort: skip_file
# ecs_otel.auto first: Flask's instrumentation patches the Flask class, which a module imported before it keeps.
import ecs_otel.auto  # noqa: F401

import os
import sys

import botocore.session
import requests
from flask import Flask
from werkzeug.serving import make_server

app = Flask(__name__)
_dynamodb = botocore.session.get_session().create_client("dynamodb", region_name=os.environ["AWS_REGION"])


@app.get("/ok")
def ok() -> tuple[str, int]:
    _dynamodb.get_item(TableName=os.environ["APP_TABLE"], Key={"id": {"S": "1"}})
    requests.get(os.environ["APP_DOWNSTREAM"], timeout=10)
    return "ok", 200


@app.get("/missing")
def missing() -> tuple[str, int]:
    return "no such thing", 404


@app.get("/boom")
def boom() -> tuple[str, int]:
    return "broken", 500


def main(port_file: str) -> None:
    server = make_server("127.0.0.1", 0, app, threaded=False)
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_port))
    os.replace(tmp, port_file)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1])
