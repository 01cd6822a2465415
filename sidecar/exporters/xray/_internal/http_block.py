"""The ``http`` block, from the stable HTTP semantic conventions or the older names they replaced."""

from __future__ import annotations

import math
from typing import Any

from sidecar.otlp.attributes import first

#: Attributes the block consumes, so they are not repeated as metadata.
CONSUMED = frozenset(
    {
        "http.request.method", "http.method", "url.full", "http.url", "url.scheme", "http.scheme",
        "server.address", "server.port", "http.host", "http.server_name", "net.host.name", "net.host.port",
        "url.path", "url.query", "http.target", "user_agent.original", "http.user_agent",
        "client.address", "http.client_ip", "http.response.status_code", "http.status_code",
        "http.response.body.size", "http.response_content_length", "http.response.header.content-length",
        "net.peer.name", "net.peer.port",
    }
)  # fmt: skip
#: Larger than any real body, and within what JSON numbers (and orjson) carry exactly.
MAX_CONTENT_LENGTH = 2**53


def request_url(attrs: dict[str, Any], server: bool) -> str | None:
    full = first(attrs, "url.full", "http.url")
    if full:
        return str(full)
    scheme = first(attrs, "url.scheme", "http.scheme") or "http"
    if server:
        host = first(attrs, "http.host", "server.address", "http.server_name", "net.host.name")
        port = first(attrs, "server.port", "net.host.port")
    else:
        host = first(attrs, "server.address", "net.peer.name", "http.host")
        port = first(attrs, "server.port", "net.peer.port")
    target = first(attrs, "http.target")
    if target is None:
        path = first(attrs, "url.path")
        query = first(attrs, "url.query")
        target = f"{path or ''}{f'?{query}' if query else ''}" if path or query else None
    if host is None:
        return None
    hostport = str(host)
    port_number = bounded_int(port, 1, 65535)
    if (
        port_number is not None
        and ":" not in hostport
        and not ((scheme == "http" and port_number == 80) or (scheme == "https" and port_number == 443))
    ):
        hostport = f"{hostport}:{port_number}"
    return f"{scheme}://{hostport}{target or ''}"


def bounded_int(value: Any, low: int, high: int) -> int | None:
    """``value`` as an int in ``[low, high]``, or ``None``.

    Attribute values come from any client: a double may be ``inf`` (``int()`` raises
    ``OverflowError``) or ``1e308`` (a 1000-bit int that no JSON encoder writes), a string may
    be thirty digits long. Only finite, integral, in-range values are used; anything else is
    left out of the document rather than failing it.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text or len(text) > 24:
            return None
        try:
            value = int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                return None
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            return None
        value = int(value)
    if not isinstance(value, int):
        return None
    return value if low <= value <= high else None


def status_code(attrs: dict[str, Any]) -> int | None:
    """The HTTP status code when it is a real one (100–599); otherwise the document has none."""
    return bounded_int(first(attrs, "http.response.status_code", "http.status_code"), 100, 599)


def http_block(attrs: dict[str, Any], server: bool) -> dict[str, Any] | None:
    request: dict[str, Any] = {}
    method = first(attrs, "http.request.method", "http.method")
    if method is None:
        return None
    request["method"] = str(method)
    url = request_url(attrs, server)
    if url:
        request["url"] = url
    agent = first(attrs, "user_agent.original", "http.user_agent")
    if agent:
        request["user_agent"] = str(agent)
    client_ip = first(attrs, "client.address", "http.client_ip")
    if client_ip and server:
        request["client_ip"] = str(client_ip)
        # Frameworks set client.address from X-Forwarded-For when it is present.
        peer = attrs.get("network.peer.address")
        if "http.client_ip" in attrs or (peer is not None and peer != client_ip):
            request["x_forwarded_for"] = True
    block: dict[str, Any] = {"request": request}
    response: dict[str, Any] = {}
    code = status_code(attrs)
    if code is not None:
        response["status"] = code
    length = first(attrs, "http.response.body.size", "http.response_content_length")
    if length is None:
        header = attrs.get("http.response.header.content-length")
        length = header[0] if isinstance(header, list) and header else header
    content_length = bounded_int(length, 0, MAX_CONTENT_LENGTH)
    if content_length is not None:
        response["content_length"] = content_length
    if response:
        block["response"] = response
    return block
