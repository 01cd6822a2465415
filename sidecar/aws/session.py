"""One botocore session per sidecar component, used from asyncio.

botocore is synchronous: resolving the credential chain or refreshing the ECS task role
does HTTP on the calling thread. :class:`AwsSession` keeps that off the event loop (it runs
in a worker thread only when botocore says a refresh is due) and otherwise hands out the
cached frozen credentials, so signing a request costs a few hashes and no I/O.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from typing import Any

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.configprovider import ConfiguredEndpointProvider
from botocore.credentials import Credentials, ReadOnlyCredentials, RefreshableCredentials

from sidecar.aws.region import resolve_region


class AwsCredentialsError(Exception):
    """No credentials could be found (or refreshed) through botocore's chain."""


class AwsSession:
    """Credentials, region, endpoints and SigV4 for aiohttp requests.

    Typical use in an exporter::

        aws = AwsSession(region=settings.region or context.region, env=context.env)
        url = aws.endpoint_url("xray", f"https://xray.{aws.region}.amazonaws.com") + "/v1/traces"
        headers = await aws.sign("POST", url, {"Content-Type": "application/x-protobuf"}, body, "xray")
        await http.post(url, data=body, headers=headers)

    ``env`` is used for region and endpoint resolution (tests pass their own); the credential
    chain itself reads the process environment, as botocore always does.
    """

    def __init__(
        self,
        region: str | None = None,
        env: Mapping[str, str] | None = None,
        botocore_session: botocore.session.Session | None = None,
        task_attributes: Mapping[str, Any] | None = None,
    ) -> None:
        self.env: Mapping[str, str] = os.environ if env is None else env
        self._session = botocore_session or botocore.session.Session()
        self.region: str | None = resolve_region(
            region, self.env, task_attributes
        ) or self._session.get_config_variable("region")
        self._credentials: Credentials | None = None
        self._resolved = False
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------------ credentials

    def _needs_io(self) -> bool:
        if not self._resolved:
            return True
        creds = self._credentials
        return isinstance(creds, RefreshableCredentials) and creds.refresh_needed()

    def _resolve_blocking(self) -> ReadOnlyCredentials | None:
        if not self._resolved:
            self._credentials = self._session.get_credentials()
            self._resolved = True
        if self._credentials is None:
            return None
        return self._credentials.get_frozen_credentials()

    async def credentials(self) -> ReadOnlyCredentials:
        """Current credentials, resolving the chain or refreshing them off the loop when due.

        Raises :class:`AwsCredentialsError` when the chain yields nothing; the next call
        tries again (a task role may not be ready in the first second of a task's life).
        """
        if not self._needs_io():
            assert self._credentials is not None
            return self._credentials.get_frozen_credentials()
        async with self._lock:
            try:
                frozen = await asyncio.to_thread(self._resolve_blocking)
            except Exception as e:  # botocore raises many types for a failed fetch
                raise AwsCredentialsError(
                    f"could not obtain AWS credentials: {type(e).__name__}: {e}"
                ) from None
            if frozen is None:
                self._resolved = False
                raise AwsCredentialsError("no AWS credentials found (environment, shared files, task role)")
            return frozen

    # ------------------------------------------------------------------ signing

    async def sign(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        service: str,
        region: str | None = None,
    ) -> dict[str, str]:
        """Return ``headers`` plus ``Authorization``, ``X-Amz-Date`` (and the session token).

        Send exactly these headers and this body: everything passed in is signed, so a
        header added or changed afterwards (other than ``User-Agent``) breaks the signature.
        """
        creds = await self.credentials()
        return sign_request(creds, method, url, headers, body, service, region or self.region)

    # ------------------------------------------------------------------ endpoints

    def endpoint_url(self, client_name: str, default: str) -> str:
        """The endpoint botocore would use for ``client_name`` (``xray``, ``logs``, ``cloudwatch``…).

        Honours ``AWS_ENDPOINT_URL_<SERVICE>`` (e.g. ``AWS_ENDPOINT_URL_XRAY``,
        ``AWS_ENDPOINT_URL_CLOUDWATCH_LOGS``), then ``AWS_ENDPOINT_URL``, then the shared
        config file's ``services`` section, unless ``AWS_IGNORE_CONFIGURED_ENDPOINT_URLS``
        is true. Falls back to ``default``. No trailing slash.
        """
        ignore = str(self.env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "")).lower() == "true"
        if ignore:
            return default.rstrip("/")
        try:
            full_config = self._session.full_config
            scoped = self._session.get_scoped_config()
        except Exception:  # a broken or missing profile must not stop env-based resolution
            full_config, scoped = {}, {}
        provider = ConfiguredEndpointProvider(
            full_config=full_config, scoped_config=scoped, client_name=client_name, environ=dict(self.env)
        )
        try:
            found = provider.provide()
        except Exception:
            found = None
        return str(found or default).rstrip("/")


def sign_request(
    credentials: ReadOnlyCredentials | Credentials,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    service: str,
    region: str | None,
) -> dict[str, str]:
    """SigV4-sign one request with explicit credentials; pure and synchronous (used by tests too)."""
    if not region:
        raise AwsCredentialsError("SigV4 signing needs a region (set AWS_REGION or the exporter's region)")
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    SigV4Auth(credentials, service, region).add_auth(request)
    return dict(request.headers.items())


def session_for(configured_region: str | None, context: Any, setting_key: str, purpose: str = "") -> AwsSession:
    """The AWS session of one exporter: its own region setting, else the sidecar's (DESIGN.md order).

    Raises :class:`~sidecar.config.errors.ConfigError` naming ``setting_key`` when no region can be
    found, so a missing region stops the start with exit code 2 rather than failing every export.
    """
    from sidecar.config.errors import ConfigError

    aws = AwsSession(
        region=configured_region or context.region,
        env=context.env or None,
        task_attributes=context.task_attributes,
    )
    if not aws.region:
        raise ConfigError(setting_key, f"an AWS region (or AWS_REGION){purpose}", configured_region)
    return aws
