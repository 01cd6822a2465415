"""The ``cardinality`` processor: live-series limits with an overflow series, attribute rules,
URL and span-name normalisation.

The series table, the rules and the wire-level rewriting are its internals (``_internal/``).
"""

from sidecar.processors.cardinality.processor import CardinalityProcessor

__all__ = ["CardinalityProcessor"]
