"""Structured fields for the access-log records of uvicorn and gunicorn.

Their access lines are %-templates over known arguments, so the request's method, path, status and
client can be written as semantic-convention fields next to the text, which makes CloudWatch Logs
Insights queries (``filter http.response.status_code >= 500``) work without parsing the message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ACCESS_LOGGERS = frozenset({"uvicorn.access", "gunicorn.access"})


def _status(value: Any) -> int | None:
    try:
        return int(str(value).split(" ", 1)[0])
    except (TypeError, ValueError):
        return None


def _split_target(target: str, out: dict[str, Any]) -> None:
    path, sep, query = target.partition("?")
    out["url.path"] = path
    if sep:
        out["url.query"] = query


def _uvicorn(args: Any) -> dict[str, Any] | None:
    # uvicorn.protocols: logger.info('%s - "%s %s HTTP/%s" %d', client_addr, method, full_path, http_version, status)
    if not isinstance(args, tuple) or len(args) != 5:
        return None
    client, method, target, version, status = args
    out: dict[str, Any] = {}
    if isinstance(client, str) and client:
        host, sep, port = client.rpartition(":")
        if sep and port.isdigit():
            out["client.address"] = host
            out["client.port"] = int(port)
        else:
            out["client.address"] = client
    out["http.request.method"] = str(method)
    if isinstance(target, str):
        _split_target(target, out)
    out["network.protocol.version"] = str(version)
    code = _status(status)
    if code is not None:
        out["http.response.status_code"] = code
    return out


def _gunicorn(args: Any) -> dict[str, Any] | None:
    # gunicorn.glogging.Logger.access: access_log.info(access_log_format, atoms) with atoms a dict.
    if not isinstance(args, Mapping):
        return None
    out: dict[str, Any] = {}
    if args.get("h"):
        out["client.address"] = str(args["h"])
    if args.get("m"):
        out["http.request.method"] = str(args["m"])
    if isinstance(args.get("U"), str):
        out["url.path"] = args["U"]
    if args.get("q"):
        out["url.query"] = str(args["q"])
    proto = args.get("H")
    if isinstance(proto, str) and proto.startswith("HTTP/"):
        out["network.protocol.version"] = proto[5:]
    code = _status(args.get("s"))
    if code is not None:
        out["http.response.status_code"] = code
    agent = args.get("{user-agent}i") or args.get("a")
    if isinstance(agent, str) and agent and agent != "-":
        out["user_agent.original"] = agent
    micros = args.get("D")
    if isinstance(micros, int):
        out["http.server.request.duration"] = micros / 1_000_000
    return out


def access_fields(logger_name: str, args: Any) -> dict[str, Any] | None:
    """Fields for an access-log record of a known server, else ``None``. Never raises."""
    try:
        if logger_name == "uvicorn.access":
            return _uvicorn(args)
        if logger_name == "gunicorn.access":
            if isinstance(args, tuple) and len(args) == 1:  # logging unwraps a lone mapping argument
                args = args[0]
            return _gunicorn(args)
    except Exception:
        return None
    return None
