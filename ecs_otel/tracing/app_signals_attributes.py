"""Application Signals attributes of a span: who serves (``aws.local.*``) and whom it calls (``aws.remote.*``).

CloudWatch Application Signals groups request metrics by a handful of low-cardinality dimensions
that the AWS Distro for OpenTelemetry (ADOT) SDKs derive from each span. This module derives the
same attributes from the same rules, so that dashboards, SLOs and the service map built for ADOT
work unchanged with ecs_otel (``tests/ecs_otel/app_signals`` compares the two, case by case):

* a SERVER span, or any local root (no parent, or a remote one), is a *service entry*: it gets
  ``aws.local.service`` (the resource's ``service.name``), ``aws.local.operation`` (the span name,
  or ``METHOD /first-path-segment`` when the name says nothing more than the method) and
  ``aws.span.kind`` (``LOCAL_ROOT`` for local roots, else the span kind's name);
* a CLIENT or PRODUCER span, or a CONSUMER span that is not a nested ``process`` span, is a
  *dependency call*: ``aws.local.operation`` is the operation of the service entry it runs under
  (propagated at start by :class:`ecs_otel.tracing.app_signals.AttributePropagator`), and
  ``aws.remote.service``/``aws.remote.operation`` come from the first family of attributes present,
  in a fixed priority: explicit ``aws.remote.*``, RPC (AWS SDK calls become ``AWS::<Service>``),
  database, FaaS, messaging, GraphQL, then the peer address and URL. AWS SDK calls and database
  calls also name the resource touched (``aws.remote.resource.type``/``.identifier``, e.g.
  ``AWS::DynamoDB::Table``/``orders``).

Where ADOT reads only the older HTTP attributes (``net.peer.name``, ``http.url``, ``http.method``)
this module also reads their stable successors (``server.address``/``server.port``, ``url.full``,
``http.request.method``), because ecs_otel turns the stable HTTP conventions on by default and an
HTTP client span would otherwise be an ``UnknownRemoteService``. Likewise the stable database
attributes (``db.system.name``, ``db.operation.name``, ``db.query.text``, ``db.namespace``) are read
after the older ones.

Everything here is a pure function of a finished span and its resource; nothing raises.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from opentelemetry.trace import SpanKind

# -- attribute keys (the ADOT family) -----------------------------------------------------------------
AWS_SPAN_KIND = "aws.span.kind"
AWS_LOCAL_SERVICE = "aws.local.service"
AWS_LOCAL_OPERATION = "aws.local.operation"
AWS_REMOTE_SERVICE = "aws.remote.service"
AWS_REMOTE_OPERATION = "aws.remote.operation"
AWS_REMOTE_ENVIRONMENT = "aws.remote.environment"
AWS_REMOTE_RESOURCE_TYPE = "aws.remote.resource.type"
AWS_REMOTE_RESOURCE_IDENTIFIER = "aws.remote.resource.identifier"
AWS_REMOTE_CFN_PRIMARY_IDENTIFIER = "aws.remote.resource.cfn.primary.identifier"
AWS_REMOTE_ACCOUNT_ID = "aws.remote.resource.account.id"
AWS_REMOTE_ACCESS_KEY = "aws.remote.resource.account.access_key"
AWS_REMOTE_REGION = "aws.remote.resource.region"
AWS_REMOTE_DB_USER = "aws.remote.db.user"
AWS_CONSUMER_PARENT_SPAN_KIND = "aws.consumer.parent.span.kind"
AWS_SDK_DESCENDANT = "aws.sdk.descendant"

#: Keys of the two metric attribute sets a span may produce.
SERVICE_METRIC = "Service"
DEPENDENCY_METRIC = "Dependency"

UNKNOWN_SERVICE = "UnknownService"
UNKNOWN_OPERATION = "UnknownOperation"
UNKNOWN_REMOTE_SERVICE = "UnknownRemoteService"
UNKNOWN_REMOTE_OPERATION = "UnknownRemoteOperation"
INTERNAL_OPERATION = "InternalOperation"
LOCAL_ROOT = "LOCAL_ROOT"

#: The EC2/ECS link-local metadata address: calls to it are plumbing, not dependencies.
METADATA_ADDRESS = "169.254.169.254"

_BOTO3SQS_SCOPE = "opentelemetry.instrumentation.boto3sqs"
_FLASK_SCOPE = "opentelemetry.instrumentation.flask"

#: ``rpc.service`` of an AWS SDK span → Application Signals' name, where it is not ``AWS::<rpc.service>``.
_AWS_SERVICE_NAMES = {
    "Bedrock Agent": "AWS::Bedrock",
    "Bedrock Agent Runtime": "AWS::Bedrock",
    "Bedrock Runtime": "AWS::BedrockRuntime",
    "Bedrock AgentCore": "AWS::BedrockAgentCore",
    "Bedrock AgentCore Control": "AWS::BedrockAgentCore",
    "Secrets Manager": "AWS::SecretsManager",
    "SFN": "AWS::StepFunctions",
}

#: Statement-opening SQL keywords recognised in ``db.statement`` when no operation attribute is set;
#: longer (multi-word) forms first so that ``INSERT INTO`` wins over ``INSERT``.
_SQL_KEYWORDS = sorted(
    {
        "SELECT", "SELECT DISTINCT", "SELECT INTO", "SELECT TOP", "INSERT", "INSERT INTO", "UPDATE", "DELETE",
        "MERGE", "UPSERT", "REPLACE", "CREATE", "CREATE TABLE", "CREATE DATABASE", "CREATE INDEX",
        "CREATE VIEW", "ALTER", "ALTER TABLE", "ALTER COLUMN", "DROP", "DROP TABLE", "DROP DATABASE",
        "DROP INDEX", "DROP VIEW", "DROP COLUMN", "TRUNCATE", "TRUNCATE TABLE", "BACKUP DATABASE", "WITH",
        "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "GRANT", "REVOKE", "CALL", "EXEC", "EXECUTE", "EXPLAIN",
        "SHOW", "DESCRIBE", "USE", "SET", "VALUES", "COPY", "LOCK", "ANALYZE", "VACUUM", "DECLARE", "PREPARE",
        "FETCH", "CLOSE", "OPEN", "RELEASE", "START", "LOAD", "RENAME", "REINDEX", "LISTEN", "NOTIFY",
    },
    key=lambda k: (-len(k), k),
)
_SQL_KEYWORD = re.compile(r"^(?:" + "|".join(re.escape(k) for k in _SQL_KEYWORDS) + r")\b")
_SQL_PREFIX_CHARS = 27


# -- small readers ----------------------------------------------------------------------------------------
def _get(attrs: Mapping[str, Any], *keys: str) -> Any:
    """The value of the first key present (not None) in ``attrs``."""
    for key in keys:
        value = attrs.get(key)
        if value is not None:
            return value
    return None


def _has(attrs: Mapping[str, Any], *keys: str) -> bool:
    for key in keys:  # noqa: SIM110 - a loop, not any(generator): called some twenty times per dependency call
        if attrs.get(key) is not None:
            return True
    return False


def _text(attrs: Mapping[str, Any], key: str, default: str) -> str:
    """``str(attrs[key])`` when present (an empty string included), else ``default``."""
    value = attrs.get(key)
    return default if value is None else str(value)


def _attrs(span: Any) -> Mapping[str, Any]:
    return span.attributes or {}


def is_local_root(span: Any) -> bool:
    """No parent, an invalid one, or a remote one: the first span of this trace in this process."""
    parent = span.parent
    return parent is None or not parent.is_valid or parent.is_remote


def is_aws_sdk_span(attrs: Mapping[str, Any]) -> bool:
    return attrs.get("rpc.system") == "aws-api"


def _is_db_span(attrs: Mapping[str, Any]) -> bool:
    return _has(attrs, "db.system", "db.operation", "db.statement",
                "db.system.name", "db.operation.name", "db.query.text")  # fmt: skip


def _is_boto3sqs(span: Any) -> bool:
    scope = getattr(span, "instrumentation_scope", None)
    name = getattr(scope, "name", None)
    return isinstance(name, str) and name.casefold() == _BOTO3SQS_SCOPE


def _http_method(attrs: Mapping[str, Any]) -> Any:
    return _get(attrs, "http.request.method", "http.method")


def _escape(value: Any) -> str | None:
    """Application Signals joins identifier parts with ``|``: escape ``^`` and ``|`` in each part."""
    if value is None:
        return None
    return str(value).replace("^", "^^").replace("|", "^|")


def _first_path_segment(path: str | None) -> str:
    """``/orders/42`` → ``/orders``; longer paths would make every id its own operation."""
    if not path:
        return "/"
    parts = path.split("/")
    return "/" + parts[1] if len(parts) > 1 else "/"


# -- which metrics a span produces ------------------------------------------------------------------------
def _is_dependency_consumer(span: Any, attrs: Mapping[str, Any]) -> bool:
    """Every CONSUMER span, as ADOT's Python SDK does in effect.

    ADOT means to skip a ``process`` span nested under a ``receive`` CONSUMER span (the parent's kind
    is stamped at start as ``aws.consumer.parent.span.kind``), but its Python SDK compares that
    string with the ``SpanKind`` enum, which never matches, so it counts them. We keep its output,
    so that metrics do not change when a service moves between ADOT and ecs_otel.
    """
    return span.kind == SpanKind.CONSUMER


def produces_service_metrics(span: Any) -> bool:
    return (is_local_root(span) and not _is_boto3sqs(span)) or span.kind == SpanKind.SERVER


def produces_dependency_metrics(span: Any) -> bool:
    attrs = _attrs(span)
    if span.kind == SpanKind.CLIENT:
        return True
    if _is_boto3sqs(span):
        return False  # the botocore span of the same call already counts it
    return span.kind == SpanKind.PRODUCER or _is_dependency_consumer(span, attrs)


def produces_metrics(span: Any) -> tuple[bool, bool]:
    """(:func:`produces_service_metrics`, :func:`produces_dependency_metrics`) in one pass, for the per-span path.

    A SERVER span is a service entry and never a dependency call; the instrumentation scope is read only
    where it decides (a boto3sqs span counts as neither).
    """
    kind = span.kind
    if kind == SpanKind.SERVER:
        return True, False
    local_root = is_local_root(span)
    if kind == SpanKind.CLIENT:
        return local_root and not _is_boto3sqs(span), True
    if not local_root and kind != SpanKind.PRODUCER and kind != SpanKind.CONSUMER:
        return False, False
    sqs = _is_boto3sqs(span)
    return local_root and not sqs, not sqs and (kind == SpanKind.PRODUCER or kind == SpanKind.CONSUMER)


# -- local side ------------------------------------------------------------------------------------------
def local_service(resource: Any) -> str:
    name = (getattr(resource, "attributes", None) or {}).get("service.name")
    if not name or str(name).startswith("unknown_service"):
        return UNKNOWN_SERVICE
    return str(name)


def _uses_internal_operation(span: Any) -> bool:
    """A local root that does not serve a request (a worker loop, a scheduled job) is internal work."""
    return is_local_root(span) and span.kind != SpanKind.SERVER


def ingress_operation(span: Any) -> str:
    """The operation a service entry serves: its name, unless the name is only the HTTP method."""
    attrs = _attrs(span)
    scope = getattr(span, "instrumentation_scope", None)
    if "AWS_LAMBDA_FUNCTION_NAME" in os.environ and getattr(scope, "name", None) != _FLASK_SCOPE:
        return os.environ["AWS_LAMBDA_FUNCTION_NAME"] + "/FunctionHandler"
    if _uses_internal_operation(span):
        return INTERNAL_OPERATION
    name = span.name
    method = _http_method(attrs)
    if name is not None and name != UNKNOWN_OPERATION and (not method or name != method):
        return name
    path: str | None = None
    if _has(attrs, "http.target"):
        path = attrs["http.target"]
    elif _has(attrs, "http.url"):
        path = urlsplit(str(attrs["http.url"])).path
    elif _has(attrs, "url.path"):
        path = attrs["url.path"]
    elif _has(attrs, "url.full"):
        path = urlsplit(str(attrs["url.full"])).path
    if path is None:
        return UNKNOWN_OPERATION
    operation = _first_path_segment(str(path))
    method = _get(attrs, "http.method", "http.request.method")
    return f"{method} {operation}" if method is not None else operation


def egress_operation(span: Any) -> str:
    if _uses_internal_operation(span):
        return INTERNAL_OPERATION
    value = _attrs(span).get(AWS_LOCAL_OPERATION)
    return str(value) if value is not None else UNKNOWN_OPERATION


# -- remote side -----------------------------------------------------------------------------------------
def _is_lambda_invoke(attrs: Mapping[str, Any]) -> bool:
    return is_aws_sdk_span(attrs) and attrs.get("rpc.service") == "Lambda" and attrs.get("rpc.method") == "Invoke"


def _aws_service_name(attrs: Mapping[str, Any], service: str) -> str:
    if not is_aws_sdk_span(attrs):
        return service
    if _is_lambda_invoke(attrs):
        # A Lambda function invoked is a service of its own on the map, not a resource.
        return str(attrs.get("aws.lambda.function.name") or UNKNOWN_REMOTE_SERVICE)
    return _AWS_SERVICE_NAMES.get(service, "AWS::" + service)


def _sql_operation(statement: Any) -> str:
    if statement is None:
        return UNKNOWN_REMOTE_OPERATION
    head = str(statement).lstrip()[:_SQL_PREFIX_CHARS].upper()
    match = _SQL_KEYWORD.match(head)
    return match.group(0) if match else UNKNOWN_REMOTE_OPERATION


def _address_with_port(attrs: Mapping[str, Any], host_key: str, port_key: str) -> str:
    port = attrs.get(port_key)
    return f"{attrs[host_key]}:{port}" if port is not None else str(attrs[host_key])


def _peer_service(attrs: Mapping[str, Any]) -> str:
    """Remote service from the peer's address: ``host:port``, else the URL's authority."""
    for host_key, port_key in (
        ("net.peer.name", "net.peer.port"),
        ("server.address", "server.port"),
        ("net.sock.peer.addr", "net.sock.peer.port"),
        ("network.peer.address", "network.peer.port"),
    ):
        if _has(attrs, host_key):
            return _address_with_port(attrs, host_key, port_key)
    url = _get(attrs, "http.url", "url.full")
    if url:
        netloc = urlsplit(str(url)).netloc
        if netloc:
            return netloc
    return UNKNOWN_REMOTE_SERVICE


def _url_operation(attrs: Mapping[str, Any]) -> str:
    """``GET /orders`` from the method and the URL's first path segment."""
    operation = UNKNOWN_REMOTE_OPERATION
    url = _get(attrs, "http.url", "url.full")
    if url is not None:
        operation = _first_path_segment(urlsplit(str(url)).path)
    method = _http_method(attrs)
    if method is not None:
        operation = f"{method} {operation}"
    return operation


def remote_service_and_operation(attrs: Mapping[str, Any]) -> tuple[str, str]:
    """The called service and operation, from the first attribute family present (see module doc)."""
    service, operation = UNKNOWN_REMOTE_SERVICE, UNKNOWN_REMOTE_OPERATION
    if _has(attrs, AWS_REMOTE_SERVICE, AWS_REMOTE_OPERATION):
        service = _text(attrs, AWS_REMOTE_SERVICE, UNKNOWN_REMOTE_SERVICE)
        operation = _text(attrs, AWS_REMOTE_OPERATION, UNKNOWN_REMOTE_OPERATION)
    elif _has(attrs, "rpc.service", "rpc.method"):
        service = _aws_service_name(attrs, _text(attrs, "rpc.service", UNKNOWN_REMOTE_SERVICE))
        operation = _text(attrs, "rpc.method", UNKNOWN_REMOTE_OPERATION)
    elif _is_db_span(attrs):
        system = _get(attrs, "db.system", "db.system.name")
        service = UNKNOWN_REMOTE_SERVICE if system is None else str(system)
        explicit = _get(attrs, "db.operation", "db.operation.name")
        if explicit is not None:
            operation = str(explicit)
        else:
            operation = _sql_operation(_get(attrs, "db.statement", "db.query.text"))
    elif _has(attrs, "faas.invoked_name", "faas.trigger"):
        service = _text(attrs, "faas.invoked_name", UNKNOWN_REMOTE_SERVICE)
        operation = _text(attrs, "faas.trigger", UNKNOWN_REMOTE_OPERATION)
    elif _has(attrs, "messaging.system", "messaging.operation"):
        service = _text(attrs, "messaging.system", UNKNOWN_REMOTE_SERVICE)
        operation = _text(attrs, "messaging.operation", UNKNOWN_REMOTE_OPERATION)
    elif _has(attrs, "graphql.operation.type"):
        service, operation = "graphql", str(attrs["graphql.operation.type"])
    if _has(attrs, "peer.service") and not _has(attrs, AWS_REMOTE_SERVICE):
        service = str(attrs["peer.service"])
    if service == UNKNOWN_REMOTE_SERVICE:
        service = _peer_service(attrs)
    if operation == UNKNOWN_REMOTE_OPERATION:
        operation = _url_operation(attrs)
    return service, operation


def _arn_part(arn: Any, index: int) -> str | None:
    """Part ``index`` of a regional ARN (``arn:partition:service:region:account:resource``)."""
    if not arn or not str(arn).startswith("arn"):
        return None
    parts = str(arn).split(":")
    if len(parts) < 6 or not parts[4].isdigit():
        return None
    return parts[index]


def _arn_resource(arn: Any, prefix: str = "") -> str | None:
    last = _arn_part(arn, -1)
    if last is None:
        return None
    return last.replace(prefix, "") if prefix else last


def _sqs_queue_url_parts(url: Any) -> tuple[str | None, str | None, str | None]:
    """(queue name, account, region) of ``https://sqs.<region>.amazonaws.com/<account>/<name>``."""
    if not url:
        return None, None, None
    bare = str(url).replace("http://", "").replace("https://", "")
    parts = bare.split("/")
    if len(parts) != 3 or not parts[1].isdigit() or not _valid_queue_name(parts[2]):
        return None, None, None
    host = parts[0].split(".")
    region = host[1] if parts[0].lower().startswith("sqs") and len(host) == 4 else None
    account = parts[1] if parts[0].lower().startswith("sqs") else None
    return parts[2], account, region


def _valid_queue_name(name: str) -> bool:
    return 0 < len(name) <= 80 and all(c in "_-" or c.isalnum() for c in name)


def _db_connection(attrs: Mapping[str, Any]) -> str | None:
    """``[db.name|]address[|port]`` for a database call; None without an address."""
    connection: str | None = None
    for host_key, port_key in (
        ("server.address", "server.port"),
        ("net.peer.name", "net.peer.port"),
        ("server.socket.address", "server.socket.port"),
    ):
        if _has(attrs, host_key):
            port = attrs.get(port_key)
            connection = f"{_escape(attrs[host_key])}" + (f"|{port}" if port else "")
            break
    else:
        if _has(attrs, "db.connection_string"):
            parsed = urlsplit(str(attrs["db.connection_string"]))
            try:
                port = parsed.port
            except ValueError:
                port = None
            if parsed.hostname is not None:
                connection = f"{_escape(parsed.hostname)}" + (f"|{port}" if port is not None else "")
    name = _get(attrs, "db.name", "db.namespace")
    if connection and name:
        connection = f"{_escape(name)}|{connection}"
    return connection


def remote_resource(attrs: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """(type, identifier, CloudFormation primary identifier) of the resource a call touches, if known."""
    rtype: str | None = None
    ident: str | None = None
    cfn: str | None = None
    if is_aws_sdk_span(attrs):
        tables = attrs.get("aws.dynamodb.table_names")
        if tables is not None and len(tables) == 1:
            rtype, ident = "AWS::DynamoDB::Table", _escape(tables[0])
        elif _has(attrs, "aws.dynamodb.table.arn"):
            rtype = "AWS::DynamoDB::Table"
            ident = _escape(_arn_resource(attrs["aws.dynamodb.table.arn"], "table/"))
        elif _has(attrs, "aws.kinesis.stream_name"):
            rtype, ident = "AWS::Kinesis::Stream", _escape(attrs["aws.kinesis.stream_name"])
        elif _has(attrs, "aws.kinesis.stream.arn"):
            rtype = "AWS::Kinesis::Stream"
            ident = _escape(_arn_resource(attrs["aws.kinesis.stream.arn"], "stream/"))
        elif _has(attrs, "aws.s3.bucket"):
            rtype, ident = "AWS::S3::Bucket", _escape(attrs["aws.s3.bucket"])
        elif _has(attrs, "aws.sqs.queue.name"):
            rtype, ident = "AWS::SQS::Queue", _escape(attrs["aws.sqs.queue.name"])
            cfn = _escape(attrs.get("aws.sqs.queue.url"))
        elif _has(attrs, "aws.sqs.queue.url"):
            rtype = "AWS::SQS::Queue"
            ident = _escape(_sqs_queue_url_parts(attrs["aws.sqs.queue.url"])[0])
            cfn = _escape(attrs["aws.sqs.queue.url"])
        elif _has(attrs, "aws.secretsmanager.secret.arn"):
            arn = attrs["aws.secretsmanager.secret.arn"]
            rtype, ident, cfn = "AWS::SecretsManager::Secret", _escape(_arn_resource(arn)), _escape(arn)
        elif _has(attrs, "aws.sns.topic.arn"):
            arn = attrs["aws.sns.topic.arn"]
            rtype, ident, cfn = "AWS::SNS::Topic", _escape(_arn_resource(arn)), _escape(arn)
        elif _has(attrs, "aws.step_functions.state_machine.arn"):
            arn = attrs["aws.step_functions.state_machine.arn"]
            rtype, ident, cfn = "AWS::StepFunctions::StateMachine", _escape(_arn_resource(arn)), _escape(arn)
        elif _has(attrs, "aws.step_functions.activity.arn"):
            arn = attrs["aws.step_functions.activity.arn"]
            rtype, ident, cfn = "AWS::StepFunctions::Activity", _escape(_arn_resource(arn)), _escape(arn)
        elif _has(attrs, "aws.lambda.function.name"):
            if not _is_lambda_invoke(attrs):  # an invoked function is a service (see _aws_service_name)
                rtype = "AWS::Lambda::Function"
                ident = _escape(attrs["aws.lambda.function.name"])
                cfn = _escape(attrs.get("aws.lambda.function.arn"))
        elif _has(attrs, "aws.lambda.resource_mapping.id"):
            rtype = "AWS::Lambda::EventSourceMapping"
            ident = _escape(attrs["aws.lambda.resource_mapping.id"])
    elif _is_db_span(attrs):
        rtype, ident = "DB::Connection", _db_connection(attrs)
    if cfn is None:
        cfn = ident
    if rtype is None or ident is None or cfn is None:
        return None
    return rtype, ident, cfn


_ACCOUNT_ARNS = (
    "aws.dynamodb.table.arn",
    "aws.kinesis.stream.arn",
    "aws.sns.topic.arn",
    "aws.secretsmanager.secret.arn",
    "aws.step_functions.state_machine.arn",
    "aws.step_functions.activity.arn",
    "aws.bedrock.guardrail.arn",
    "aws.lambda.function.arn",
)


def _remote_account(attrs: Mapping[str, Any], out: dict[str, Any]) -> None:
    """Account and region of the resource (from its queue URL or ARN), else the caller's access key."""
    account = region = None
    if _has(attrs, "aws.sqs.queue.url"):
        _, account, region = _sqs_queue_url_parts(_escape(attrs["aws.sqs.queue.url"]))
    else:
        for key in _ACCOUNT_ARNS:
            if _has(attrs, key):
                account, region = _arn_part(attrs[key], 4), _arn_part(attrs[key], 3)
                break
    if account is not None and region is not None:
        out[AWS_REMOTE_ACCOUNT_ID] = account
        out[AWS_REMOTE_REGION] = region
        return
    if _has(attrs, "aws.auth.account.access_key"):
        out[AWS_REMOTE_ACCESS_KEY] = attrs["aws.auth.account.access_key"]
    if _has(attrs, "aws.auth.region"):
        out[AWS_REMOTE_REGION] = attrs["aws.auth.region"]


# -- the two attribute sets ----------------------------------------------------------------------------
def service_attributes(span: Any, resource: Any) -> dict[str, Any]:
    kind = LOCAL_ROOT if is_local_root(span) else span.kind.name
    return {
        AWS_LOCAL_SERVICE: local_service(resource),
        AWS_LOCAL_OPERATION: ingress_operation(span),
        AWS_SPAN_KIND: kind,
    }


def dependency_attributes(span: Any, resource: Any) -> dict[str, Any]:
    # A plain copy: the rules below look up some forty keys, most of them absent, and a missing key costs
    # a raised KeyError through the SDK's attribute mapping but a C-level miss in a dict.
    attrs = dict(_attrs(span))
    out: dict[str, Any] = {AWS_LOCAL_SERVICE: local_service(resource), AWS_LOCAL_OPERATION: egress_operation(span)}
    out[AWS_REMOTE_SERVICE], out[AWS_REMOTE_OPERATION] = remote_service_and_operation(attrs)
    resource_ids = remote_resource(attrs)
    if resource_ids is not None:
        out[AWS_REMOTE_RESOURCE_TYPE], out[AWS_REMOTE_RESOURCE_IDENTIFIER], out[AWS_REMOTE_CFN_PRIMARY_IDENTIFIER] = (
            resource_ids
        )
        _remote_account(attrs, out)
    if _is_lambda_invoke(attrs):
        env = os.environ.get("LAMBDA_APPLICATION_SIGNALS_REMOTE_ENVIRONMENT", "").strip() or "default"
        out[AWS_REMOTE_ENVIRONMENT] = f"lambda:{env}"
    if _is_db_span(attrs) and _has(attrs, "db.user"):
        out[AWS_REMOTE_DB_USER] = attrs["db.user"]
    out[AWS_SPAN_KIND] = span.kind.name
    return out


def metric_attributes(span: Any, resource: Any) -> dict[str, dict[str, Any]]:
    """``{"Service": {...}, "Dependency": {...}}``: zero, one or both sets, as the span warrants."""
    out: dict[str, dict[str, Any]] = {}
    if produces_service_metrics(span):
        out[SERVICE_METRIC] = service_attributes(span, resource)
    if produces_dependency_metrics(span):
        out[DEPENDENCY_METRIC] = dependency_attributes(span, resource)
    return out
