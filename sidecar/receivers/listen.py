"""Binding a listening socket, with an error that says who wanted which address."""

from __future__ import annotations

import socket


def listening_socket(owner: str, host: str, port: int, backlog: int = 1024) -> socket.socket:
    """A non-blocking listening TCP socket on ``host:port`` (port 0 picks a free one)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"{owner} cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.setblocking(False)
    return sock
