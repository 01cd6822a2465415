"""AWS plumbing shared by every exporter that talks to AWS: credentials, region, endpoints, SigV4.

Everything goes through botocore so that the standard credential chain (environment,
shared files, web identity, the ECS task role through the container credentials endpoint,
instance profile), ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>`` and SigV4 behave
exactly as they do for any AWS SDK; only the transport stays ours (aiohttp) so a slow
backend never blocks the event loop.
"""

from sidecar.aws.client import AwsApi, RawResponse
from sidecar.aws.errors import AwsApiError
from sidecar.aws.region import region_from_arn, resolve_region
from sidecar.aws.session import AwsCredentialsError, AwsSession, session_for

__all__ = [
    "AwsApi",
    "AwsApiError",
    "AwsCredentialsError",
    "AwsSession",
    "RawResponse",
    "region_from_arn",
    "resolve_region",
    "session_for",
]
