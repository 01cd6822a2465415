"""gunicorn settings for an app using ecs_otel: ``gunicorn -c examples/servers/gunicorn.conf.py``.

No ``post_fork`` hook is needed: ecs_otel registers ``os.register_at_fork`` handlers, so each
worker gets its own ``service.instance.id`` and ``process.pid``, fresh exporter sessions and
restarted background threads, whether the app is imported in the master (``preload_app = True``)
or in each worker. What gunicorn does not give for free is a flush when a worker stops (it may
leave through ``os._exit``), hence ``worker_exit`` below.
"""

import os

wsgi_app = os.environ.get("GUNICORN_APP", "examples.servers.flask_app:app")
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
# Import the app (and so ecs_otel.auto) once in the master; workers inherit it through fork.
preload_app = True
# ECS sends SIGTERM and waits stopTimeout (30 s by default) before SIGKILL: finish requests first,
# leaving ECS_OTEL_SHUTDOWN_TIMEOUT (5 s by default) for the telemetry flush.
graceful_timeout = 20
# gunicorn 23+ opens a control socket under $HOME; a container with a read-only root has no use for it.
control_socket_disable = True
# gunicorn's access log duplicates the server spans; the app's JSON logs carry the trace ids.
accesslog = None


def worker_exit(server, worker):  # type: ignore[no-untyped-def]
    """Flush this worker's spans, metrics and logs before it goes (bounded by ECS_OTEL_SHUTDOWN_TIMEOUT)."""
    import ecs_otel

    ecs_otel.shutdown()
