"""Kept for the tests that import ``validate`` from here: EMF events are checked by :mod:`tests.aws.aws_documents`."""

from __future__ import annotations

from tests.aws.aws_documents import validate_emf as validate

__all__ = ["validate"]
