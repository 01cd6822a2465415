"""Running an instrumented app under gunicorn (WSGI, pre-fork) or uvicorn (ASGI, spawned workers).

    gunicorn -c examples/servers/gunicorn.conf.py
    uvicorn examples.servers.asgi_app:app --host 127.0.0.1 --port 8000 --workers 2
"""
