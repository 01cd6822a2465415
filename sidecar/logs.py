"""The sidecar's own logs: set-up only. Formatting and masking are the library's (:mod:`ecs_otel.logging`).

One handler on stderr with :class:`ecs_otel.logging.JsonFormatter` (or its ``TextFormatter``), so the
sidecar's lines have the app's keys (``timestamp``, ``level``, ``logger``, ``message``, ``extra=`` fields on
top, ``exception.*``) and go through the same :class:`~ecs_otel.redaction.TextMasker` as the app's: the
message, every string field, the exception message and the traceback. The sidecar's masker also knows the
secrets in its own environment (:data:`~ecs_otel.redaction.SECRET_ENV_VARS`) and the shapes of AWS secret
keys and session tokens, because botocore prints signing material at DEBUG.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from ecs_otel.logging import JsonFormatter, JsonStreamHandler, TextFormatter, parse_level_spec
from ecs_otel.redaction import SECRET_ENV_VARS, KeyRedactor, TextMasker, env_secrets

ROOT_LOGGER = "ecs_otel.sidecar"

#: Loggers that print request headers, signing material or credentials at DEBUG (botocore's
#: CanonicalRequest carries x-amz-security-token verbatim). They stay at INFO even when the level
#: is DEBUG, unless ``ECS_OTEL_LOG_LEVEL`` names them, or a parent of theirs, explicitly.
SENSITIVE_LOGGERS = (
    "botocore.auth",
    "botocore.endpoint",
    "botocore.credentials",
    "botocore.parsers",
    "botocore.httpsession",
    "urllib3.connectionpool",
    "aiohttp.client",
)

__all__ = ["ROOT_LOGGER", "SECRET_ENV_VARS", "SENSITIVE_LOGGERS", "configure", "masker"]


def masker(secrets: list[str] | None = None) -> TextMasker:
    """The sidecar's masker: the default rules, its environment's secrets, AWS credential shapes."""
    return TextMasker(KeyRedactor(), env_secrets() if secrets is None else secrets, aws_shapes=True)


def configure(
    level_spec: str = "INFO",
    fmt: str = "json",
    max_bytes: int = 16384,
    stream: TextIO | None = None,
    secrets: list[str] | None = None,
) -> None:
    """Installs the one handler; ``secrets`` defaults to the values of :data:`SECRET_ENV_VARS`.

    ``level_spec`` is parsed by the library's parser (``INFO,botocore=WARNING``); a bad spec raises
    ``ValueError`` (the configuration check reports it before this runs).
    """
    spec = parse_level_spec(level_spec)
    root_level = spec.root if spec.root is not None else logging.INFO
    mask = masker(secrets)
    formatter: logging.Formatter
    if fmt == "json":
        formatter = JsonFormatter(masker=mask, max_bytes=max_bytes, access_fields=False)
    else:
        formatter = TextFormatter(
            "%(asctime)s %(levelname)s %(name)s: %(message)s", masker=mask, extras=True, max_bytes=max_bytes
        )
    handler = JsonStreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(root_level)
    for name, level in spec.loggers.items():
        logging.getLogger(name).setLevel(level)
    for name in SENSITIVE_LOGGERS:
        if name in spec.loggers:
            continue
        # Named through a parent (``botocore=DEBUG``): inherit that choice, even over an earlier configure().
        level = logging.NOTSET if _named(name, spec.loggers) else max(logging.INFO, root_level)
        logging.getLogger(name).setLevel(level)
    logging.captureWarnings(True)


def _named(logger: str, per_logger: dict[str, int]) -> bool:
    """Whether the level spec names ``logger`` or one of its parents (``botocore=DEBUG`` is a choice)."""
    return any(logger == name or logger.startswith(name + ".") for name in per_logger)
