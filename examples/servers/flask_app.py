"""A tiny Flask app for the gunicorn example; ``import ecs_otel.auto`` comes first, as in any app."""

import ecs_otel.auto  # noqa: F401, I001 - first, so Flask is instrumented

import logging
import os

from flask import Flask, jsonify
from opentelemetry import metrics

app = Flask(__name__)
log = logging.getLogger("servers.flask")
_hits = metrics.get_meter("examples.servers").create_counter("example.hits", unit="{request}")


@app.get("/")
def index():  # type: ignore[no-untyped-def]
    _hits.add(1, {"route": "/"})
    log.info("hello", extra={"worker_pid": os.getpid()})
    return jsonify(worker_pid=os.getpid())
