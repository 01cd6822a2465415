"""Runtime metrics (process.*, cpython.gc.*) and the per-metric cardinality limit.

Internal to the library: ``configure()`` installs these from the settings; nothing here is imported by name
from outside ``ecs_otel`` (the submodules are not a public API).
"""

__all__: list[str] = []
