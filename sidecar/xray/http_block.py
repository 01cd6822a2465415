"""The ``http`` block, from the stable HTTP semantic conventions or the older names they replaced."""

from __future__ import annotations

from typing import Any

from sidecar.xray.attributes import first

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
        target = (path or "") + (f"?{query}" if query else "") if path or query else None
    if host is None:
        return None
    hostport = str(host)
    if (
        port
        and ":" not in hostport
        and not ((scheme == "http" and int(port) == 80) or (scheme == "https" and int(port) == 443))
    ):
        hostport = f"{hostport}:{port}"
    return f"{scheme}://{hostport}{target or ''}"


def status_code(attrs: dict[str, Any]) -> int | None:
    code = first(attrs, "http.response.status_code", "http.status_code")
    try:
        return int(code) if code is not None else None
    except (TypeError, ValueError):
        return None


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
    if length is not None:
        try:
            response["content_length"] = int(length)
        except (TypeError, ValueError):
            pass
    if response:
        block["response"] = response
    return block
