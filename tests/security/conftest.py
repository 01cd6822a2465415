from __future__ import annotations

from tests.faults.conftest import fault_sidecar  # noqa: F401 - sidecars with secrets, checked for leaks
from tests.support.sidecar import sidecar_factory  # noqa: F401 - plain sidecars
