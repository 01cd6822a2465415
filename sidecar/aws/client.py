"""One AWS service, reached over aiohttp with requests built, signed and parsed by botocore."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, create_request_object, prepare_request_dict
from botocore.model import OperationModel, ServiceModel
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from sidecar.aws.errors import AwsApiError
from sidecar.aws.session import AwsCredentialsError, AwsSession

#: botocore service name → the prefix IAM uses for its actions (for AccessDenied messages).
IAM_PREFIX = {"xray": "xray", "logs": "logs", "cloudwatch": "cloudwatch"}
#: botocore service name → the host prefix of its regional endpoint.
_ENDPOINT_PREFIX = {"xray": "xray", "logs": "logs", "cloudwatch": "monitoring"}

#: Retry pacing for throttling and 5xx: full jitter, doubling from the base, capped.


@dataclass(frozen=True, slots=True)
class RawResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes


@functools.cache
def service_model(service: str) -> ServiceModel:
    """botocore's bundled model for ``service``, loaded once per process."""
    return botocore.session.get_session().get_service_model(service)


class AwsApi:
    """Calls operations of one botocore service (``xray``, ``logs``, ``cloudwatch``) asynchronously.

    Credentials, region and endpoint come from :class:`sidecar.aws.AwsSession` (botocore's chain,
    refreshed off the event loop); the operation models from botocore's bundled service models,
    loaded once in a worker thread by :meth:`start`.
    """

    def __init__(
        self,
        service: str,
        aws: AwsSession,
        *,
        logger: logging.Logger,
        timeout_s: float = 10.0,
        http: aiohttp.ClientSession | None = None,
    ) -> None:
        if not aws.region:
            raise AwsCredentialsError(f"{service}: no AWS region (set AWS_REGION or the exporter's region)")
        self.service = service
        self.aws = aws
        self.region: str = aws.region
        self._logger = logger
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._http = http
        self._own_http = http is None
        self._model: ServiceModel | None = None
        #: Built once per service, as botocore's own clients do (both are stateless across calls).
        self._serializer: Any = None
        self._parser: Any = None
        self._denied_logged: set[str] = set()
        prefix = _ENDPOINT_PREFIX.get(service, service)
        self.endpoint_url = aws.endpoint_url(service, f"https://{prefix}.{self.region}.amazonaws.com")
        self.signing_name = prefix

    async def start(self) -> None:
        if self._model is None:
            model = await asyncio.to_thread(service_model, self.service)
            self._model = model
            self.signing_name = model.signing_name
            self._serializer = create_serializer(model.protocol, include_validation=True)
            self._parser = create_parser(model.protocol)
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=self._timeout)

    async def close(self) -> None:
        if self._http is not None and self._own_http:
            await self._http.close()
        self._http = None

    async def _sign(self, request: AWSRequest, signing_name: str | None) -> None:
        try:
            creds = await self.aws.credentials()
        except AwsCredentialsError as e:
            raise AwsApiError("credentials", "NoCredentials", str(e), 0) from None
        SigV4Auth(creds, signing_name or self.signing_name, self.region).add_auth(request)

    async def send_signed(
        self,
        method: str,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        *,
        signing_name: str | None = None,
        operation: str = "request",
    ) -> RawResponse:
        """Sign and send raw bytes (proxied sampling calls); no retries here."""
        assert self._http is not None, "start() first"
        request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
        await self._sign(request, signing_name)
        prepared = request.prepare()
        try:
            async with self._http.request(
                method, prepared.url, data=prepared.body, headers=dict(prepared.headers.items())
            ) as resp:
                data = await resp.read()
                return RawResponse(resp.status, dict(resp.headers), data)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise AwsApiError(operation, type(exc).__name__, str(exc) or "transport error", 0) from None

    async def call(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """Call an operation once; an :class:`AwsApiError` says whether trying again may help.

        Retrying is the exporter queue's job (one backoff, one set of counters, the shutdown
        budget respected), so this client never sleeps and retries on its own.
        """
        if self._model is None:
            await self.start()
        assert self._model is not None
        model = self._model.operation_model(operation)
        try:
            return await self._call_once(model, params)
        except AwsApiError as err:
            if err.access_denied:
                self.log_access_denied(err)
            raise

    async def _call_once(self, model: OperationModel, params: Mapping[str, Any]) -> dict[str, Any]:
        assert self._serializer is not None and self._http is not None
        request_dict = self._serializer.serialize_to_request(dict(params), model)
        prepare_request_dict(request_dict, self.endpoint_url)
        request = create_request_object(request_dict)
        await self._sign(request, None)
        prepared = request.prepare()
        try:
            async with self._http.request(
                prepared.method, prepared.url, data=prepared.body, headers=dict(prepared.headers.items())
            ) as resp:
                raw: dict[str, Any] = {"status_code": resp.status, "headers": dict(resp.headers), "body": await resp.read()}
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise AwsApiError(model.name, type(exc).__name__, str(exc) or "transport error", 0) from None
        status = int(raw["status_code"])
        parsed: dict[str, Any] = self._parser.parse(raw, model.output_shape)
        if status >= 300:
            error = parsed.get("Error", {})
            raise AwsApiError(
                model.name,
                str(error.get("Code", "Unknown")),
                str(error.get("Message", "")),
                status,
            )
        parsed.pop("ResponseMetadata", None)
        return parsed

    def iam_action(self, operation: str) -> str:
        return f"{IAM_PREFIX.get(self.service, self.service)}:{operation}"

    def log_access_denied(self, err: AwsApiError, operation: str | None = None) -> None:
        """Log once per IAM action, naming it, so the fix (a policy line) is obvious."""
        action = self.iam_action(operation or err.operation)
        if action in self._denied_logged:
            return
        self._denied_logged.add(action)
        self._logger.error(
            "AWS denied %s (%s): the task role needs the IAM permission %r", action, err.code, action
        )
