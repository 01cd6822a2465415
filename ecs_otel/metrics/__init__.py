"""Runtime metrics (process.*, cpython.gc.*) and the per-metric cardinality limit."""
