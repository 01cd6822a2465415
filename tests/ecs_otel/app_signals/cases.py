"""The span cases both attribute generators are fed (ADOT's, recorded once, and ours, in the test).

Plain data, standard library only: ``record_adot.py`` imports this module inside a throwaway
virtual environment that has ``aws-opentelemetry-distro`` (whose pinned OpenTelemetry versions
conflict with the dev environment's), and the parity test imports it here.

A case is a list of spans in start order. ``parent`` is ``None`` (a new trace), ``"remote"`` (a
parent from another process) or the index of an earlier span of the case (a local parent, still
open). Spans end in reverse order, children first, as in a real request. A case with
``"expect_as"`` is not recorded: our output on it must equal ADOT's on the named case (the stable
HTTP/database attributes read the way ADOT reads their older forms).
"""

from __future__ import annotations

from typing import Any

RESOURCE: dict[str, Any] = {"service.name": "checkout", "telemetry.sdk.language": "python"}

_SQS_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/orders-queue"


def _server(name: str, **attrs: Any) -> dict[str, Any]:
    return {"name": name, "kind": "SERVER", "parent": "remote", "attributes": attrs}


def _aws(service: str, method: str, **attrs: Any) -> dict[str, Any]:
    return {
        "name": f"{service}.{method}",
        "kind": "CLIENT",
        "parent": 0,
        "attributes": {"rpc.system": "aws-api", "rpc.service": service, "rpc.method": method, **attrs},
    }


def _under_server(*children: dict[str, Any]) -> list[dict[str, Any]]:
    return [_server("GET /orders/<id>", **{"http.method": "GET", "http.target": "/orders/7"}), *children]


CASES: dict[str, dict[str, Any]] = {
    # -- service entries ------------------------------------------------------------------------
    "server_named_by_route": {"spans": [_server("GET /orders/<id>", **{"http.method": "GET"})]},
    "server_named_by_method_old_http": {
        "spans": [_server("GET", **{"http.method": "GET", "http.target": "/orders/42?x=1"})]
    },
    "server_named_by_method_stable_http": {
        "spans": [_server("GET", **{"http.request.method": "GET", "url.path": "/orders/42"})]
    },
    "server_named_by_method_url_full": {
        "spans": [_server("POST", **{"http.request.method": "POST", "url.full": "http://h/pay/9"})]
    },
    "server_unknown": {"spans": [_server("GET", **{"http.method": "GET"})]},
    "server_with_local_parent": {
        "spans": [
            {"name": "job", "kind": "INTERNAL", "parent": None, "attributes": {}},
            {"name": "GET /health", "kind": "SERVER", "parent": 0, "attributes": {"http.method": "GET"}},
        ]
    },
    "local_root_internal": {"spans": [{"name": "nightly-report", "kind": "INTERNAL", "parent": None, "attributes": {}}]},
    "local_root_consumer_receive": {
        "spans": [
            {
                "name": "orders receive",
                "kind": "CONSUMER",
                "parent": None,
                "attributes": {"messaging.system": "aws.sqs", "messaging.operation": "receive"},
            }
        ]
    },
    "boto3sqs_scope_is_ignored": {
        "spans": [
            {
                "name": "orders send",
                "kind": "PRODUCER",
                "parent": None,
                "scope": "opentelemetry.instrumentation.boto3sqs",
                "attributes": {"messaging.system": "aws.sqs", "messaging.operation": "send"},
            }
        ]
    },
    # -- HTTP clients ----------------------------------------------------------------------------
    "http_client_old": {
        "spans": _under_server(
            {
                "name": "GET",
                "kind": "CLIENT",
                "parent": 0,
                "attributes": {"http.method": "GET", "http.url": "http://inventory:8080/items/3?q=1",
                               "net.peer.name": "inventory", "net.peer.port": 8080},
            }
        )
    },
    "http_client_stable": {
        "expect_as": "http_client_old",
        "spans": _under_server(
            {
                "name": "GET",
                "kind": "CLIENT",
                "parent": 0,
                "attributes": {"http.request.method": "GET", "url.full": "http://inventory:8080/items/3?q=1",
                               "server.address": "inventory", "server.port": 8080},
            }
        ),
    },
    "http_client_url_only_old": {
        "spans": _under_server(
            {"name": "GET", "kind": "CLIENT", "parent": 0,
             "attributes": {"http.method": "GET", "http.url": "https://api.example.com/v1/rates"}}
        )
    },
    "http_client_url_only_stable": {
        "expect_as": "http_client_url_only_old",
        "spans": _under_server(
            {"name": "GET", "kind": "CLIENT", "parent": 0,
             "attributes": {"http.request.method": "GET", "url.full": "https://api.example.com/v1/rates"}}
        ),
    },
    "http_client_socket_peer": {
        "spans": _under_server(
            {"name": "GET", "kind": "CLIENT", "parent": 0,
             "attributes": {"http.method": "GET", "net.sock.peer.addr": "10.0.0.7", "net.sock.peer.port": 443}}
        )
    },
    "http_client_peer_service_wins": {
        "spans": _under_server(
            {"name": "GET", "kind": "CLIENT", "parent": 0,
             "attributes": {"http.method": "GET", "http.url": "http://10.0.0.8/x", "peer.service": "pricing"}}
        )
    },
    "client_as_local_root": {
        "spans": [
            {"name": "GET", "kind": "CLIENT", "parent": None,
             "attributes": {"http.method": "GET", "http.url": "http://inventory/items"}}
        ]
    },
    "client_under_internal_under_server": {
        "spans": _under_server(
            {"name": "handler", "kind": "INTERNAL", "parent": 0,
             "attributes": {"aws.remote.service": "Ledger", "aws.remote.operation": "Post"}},
            {"name": "POST", "kind": "CLIENT", "parent": 1,
             "attributes": {"http.method": "POST", "http.url": "http://ledger/entries"}},
        )
    },
    "explicit_remote_attributes": {
        "spans": _under_server(
            {"name": "call", "kind": "CLIENT", "parent": 0,
             "attributes": {"aws.remote.service": "Billing", "rpc.service": "X", "rpc.method": "Y"}}
        )
    },
    "grpc_client": {
        "spans": _under_server(
            {"name": "grpc", "kind": "CLIENT", "parent": 0,
             "attributes": {"rpc.system": "grpc", "rpc.service": "shop.Cart", "rpc.method": "Add"}}
        )
    },
    "graphql_client": {
        "spans": _under_server(
            {"name": "gql", "kind": "CLIENT", "parent": 0, "attributes": {"graphql.operation.type": "query"}}
        )
    },
    "faas_client": {
        "spans": _under_server(
            {"name": "invoke", "kind": "CLIENT", "parent": 0,
             "attributes": {"faas.invoked_name": "resize", "faas.trigger": "http"}}
        )
    },
    # -- AWS SDK ---------------------------------------------------------------------------------
    "dynamodb_get_item": {
        "spans": _under_server(_aws("DynamoDB", "GetItem", **{"aws.dynamodb.table_names": ["orders"],
                                                                  "db.system": "dynamodb"}))
    },
    "dynamodb_two_tables": {
        "spans": _under_server(_aws("DynamoDB", "BatchGetItem", **{"aws.dynamodb.table_names": ["a", "b"]}))
    },
    "dynamodb_table_arn": {
        "spans": _under_server(
            _aws("DynamoDB", "Query",
                 **{"aws.dynamodb.table.arn": "arn:aws:dynamodb:eu-west-1:123456789012:table/orders"})
        )
    },
    "dynamodb_escaped_name": {
        "spans": _under_server(_aws("DynamoDB", "PutItem", **{"aws.dynamodb.table_names": ["a|b^c"]}))
    },
    "s3_bucket": {"spans": _under_server(_aws("S3", "PutObject", **{"aws.s3.bucket": "invoices"}))},
    "sqs_queue_url": {"spans": _under_server(_aws("SQS", "SendMessage", **{"aws.sqs.queue.url": _SQS_URL}))},
    "sqs_queue_name": {
        "spans": _under_server(
            _aws("SQS", "CreateQueue", **{"aws.sqs.queue.name": "orders-queue", "aws.sqs.queue.url": _SQS_URL})
        )
    },
    "sqs_custom_url": {
        "spans": _under_server(
            _aws("SQS", "SendMessage", **{"aws.sqs.queue.url": "http://localhost:4566/000000000000/q1"})
        )
    },
    "sqs_producer_span": {
        "spans": _under_server(
            {**_aws("SQS", "SendMessage", **{"aws.sqs.queue.url": _SQS_URL, "messaging.system": "aws.sqs"}),
             "kind": "PRODUCER"}
        )
    },
    "sns_topic": {
        "spans": _under_server(
            _aws("SNS", "Publish", **{"aws.sns.topic.arn": "arn:aws:sns:us-east-1:123456789012:alerts"})
        )
    },
    "lambda_invoke": {
        "spans": _under_server(_aws("Lambda", "Invoke", **{"aws.lambda.function.name": "resize-image"}))
    },
    "lambda_get_function": {
        "spans": _under_server(
            _aws("Lambda", "GetFunction",
                 **{"aws.lambda.function.name": "resize-image",
                    "aws.lambda.function.arn": "arn:aws:lambda:us-east-1:123456789012:function:resize-image"})
        )
    },
    "lambda_event_source_mapping": {
        "spans": _under_server(_aws("Lambda", "GetEventSourceMapping", **{"aws.lambda.resource_mapping.id": "abc"}))
    },
    "kinesis_stream_name": {
        "spans": _under_server(_aws("Kinesis", "PutRecord", **{"aws.kinesis.stream_name": "clicks"}))
    },
    "kinesis_stream_arn": {
        "spans": _under_server(
            _aws("Kinesis", "PutRecord",
                 **{"aws.kinesis.stream.arn": "arn:aws:kinesis:us-east-1:123456789012:stream/clicks"})
        )
    },
    "secrets_manager": {
        "spans": _under_server(
            _aws("Secrets Manager", "GetSecretValue",
                 **{"aws.secretsmanager.secret.arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbC"})
        )
    },
    "sdk_with_access_key": {
        "spans": _under_server(
            _aws("S3", "GetObject", **{"aws.s3.bucket": "b", "aws.auth.account.access_key": "AKIAEXAMPLE",
                                        "aws.auth.region": "us-west-2"})
        )
    },
    "sdk_without_resource": {"spans": _under_server(_aws("STS", "GetCallerIdentity"))},
    "sdk_missing_service": {
        "spans": _under_server(
            {"name": "x", "kind": "CLIENT", "parent": 0, "attributes": {"rpc.system": "aws-api", "rpc.method": "Foo"}}
        )
    },
    # -- databases -------------------------------------------------------------------------------
    "db_with_operation": {
        "spans": _under_server(
            {"name": "SELECT", "kind": "CLIENT", "parent": 0,
             "attributes": {"db.system": "postgresql", "db.operation": "SELECT", "db.name": "shop",
                            "net.peer.name": "db.internal", "net.peer.port": 5432, "db.user": "app"}}
        )
    },
    "db_statement_select": {
        "spans": _under_server(
            {"name": "q", "kind": "CLIENT", "parent": 0,
             "attributes": {"db.system": "mysql", "db.statement": "  select * from orders where id = ?",
                            "server.address": "mysql", "server.port": 3306}}
        )
    },
    "db_statement_insert_into": {
        "spans": _under_server(
            {"name": "q", "kind": "CLIENT", "parent": 0,
             "attributes": {"db.system": "sqlite", "db.statement": "INSERT INTO t VALUES (1)"}}
        )
    },
    "db_statement_unknown": {
        "spans": _under_server(
            {"name": "q", "kind": "CLIENT", "parent": 0,
             "attributes": {"db.system": "postgresql", "db.statement": "frobnicate"}}
        )
    },
    "db_connection_string": {
        "spans": _under_server(
            {"name": "q", "kind": "CLIENT", "parent": 0,
             "attributes": {"db.system": "mssql", "db.operation": "EXEC",
                            "db.connection_string": "mssql://dbhost:1433/sales"}}
        )
    },
    "db_socket_address": {
        "spans": _under_server(
            {"name": "q", "kind": "CLIENT", "parent": 0,
             "attributes": {"db.system": "redis", "db.operation": "GET", "server.socket.address": "10.1.1.1"}}
        )
    },
    "db_stable_attributes": {
        "expect_as": "db_with_operation",
        "spans": _under_server(
            {"name": "SELECT", "kind": "CLIENT", "parent": 0,
             "attributes": {"db.system.name": "postgresql", "db.operation.name": "SELECT", "db.namespace": "shop",
                            "server.address": "db.internal", "server.port": 5432, "db.user": "app"}}
        )
    },
    # -- messaging -------------------------------------------------------------------------------
    "producer_messaging": {
        "spans": _under_server(
            {"name": "orders publish", "kind": "PRODUCER", "parent": 0,
             "attributes": {"messaging.system": "kafka", "messaging.operation": "publish"}}
        )
    },
    "consumer_process_under_consumer": {
        "spans": [
            {"name": "orders receive", "kind": "CONSUMER", "parent": None,
             "attributes": {"messaging.system": "aws.sqs", "messaging.operation": "receive"}},
            {"name": "orders process", "kind": "CONSUMER", "parent": 0,
             "attributes": {"messaging.system": "aws.sqs", "messaging.operation": "process"}},
        ]
    },
    "consumer_process_under_server": {
        "spans": _under_server(
            {"name": "orders process", "kind": "CONSUMER", "parent": 0,
             "attributes": {"messaging.system": "aws.sqs", "messaging.operation": "process"}}
        )
    },
    "metadata_endpoint_client": {
        "spans": _under_server(
            {"name": "GET", "kind": "CLIENT", "parent": 0,
             "attributes": {"http.method": "GET", "net.peer.name": "169.254.169.254"}}
        )
    },
}
