"""A small async client for AWS JSON APIs: botocore builds, signs and parses; aiohttp sends.

botocore owns everything AWS-specific (credential chain, SigV4, endpoint resolution with
``AWS_ENDPOINT_URL``/``AWS_ENDPOINT_URL_<SERVICE>``, request and response models), but its
transport is blocking, so the bytes travel over aiohttp and one slow backend never stalls
another exporter.
"""

from sidecar.aws_api.client import AwsApi, RawResponse
from sidecar.aws_api.errors import AwsApiError

__all__ = ["AwsApi", "AwsApiError", "RawResponse"]
