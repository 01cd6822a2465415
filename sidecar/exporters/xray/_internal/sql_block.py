"""The ``sql`` block for database client spans (old and new database conventions)."""

from __future__ import annotations

from typing import Any

from sidecar.otlp.attributes import first

#: Systems X-Ray's console treats as SQL; others (redis, mongodb, dynamodb) stay plain remote calls.
SQL_SYSTEMS = frozenset(
    {"postgresql", "mysql", "mariadb", "mssql", "oracle", "sqlite", "db2", "h2", "hsqldb", "derby",
     "cockroachdb", "redshift", "trino", "clickhouse", "other_sql", "sqlserver", "oracle.db"}
)  # fmt: skip

CONSUMED = frozenset(
    {"db.system", "db.system.name", "db.statement", "db.query.text", "db.connection_string", "db.user",
     "db.name", "db.namespace"}
)  # fmt: skip


def db_system(attrs: dict[str, Any]) -> str | None:
    v = first(attrs, "db.system.name", "db.system")
    return str(v) if v is not None else None


def sql_block(attrs: dict[str, Any]) -> dict[str, Any] | None:
    system = db_system(attrs)
    if system is None or system not in SQL_SYSTEMS:
        return None
    block: dict[str, Any] = {"database_type": system}
    query = first(attrs, "db.query.text", "db.statement")
    if query:
        block["sanitized_query"] = str(query)
    url = first(attrs, "db.connection_string")
    if url is None:
        host = first(attrs, "server.address", "net.peer.name")
        port = first(attrs, "server.port", "net.peer.port")
        name = first(attrs, "db.namespace", "db.name")
        if host:
            url = f"{host}{f':{port}' if port else ''}{f'/{name}' if name else ''}"
    if url:
        block["url"] = str(url)
    user = first(attrs, "db.user")
    if user:
        block["user"] = str(user)
    return block
