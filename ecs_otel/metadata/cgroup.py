"""Hints from the container's own cgroup, for what the metadata documents leave open.

Task stats carry Docker-style memory keys that differ between cgroup v1 (``cache``,
``total_inactive_file``) and v2 (``anon``, ``file``, ``inactive_file``); consumers computing a
working set need to know which. A container without a hard memory limit in its task definition
still has a cgroup limit, which is the real ceiling for a process sizing its buffers.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: cgroup v1 reports "no limit" as a huge page-aligned number rather than a marker.
_UNLIMITED_V1 = 1 << 62

_V1_KEYS = frozenset({"cache", "total_inactive_file", "hierarchical_memory_limit", "total_rss"})
_V2_KEYS = frozenset({"anon", "file", "inactive_file"})


def stats_cgroup_version(stats: Mapping[str, Any] | None) -> int | None:
    """1 or 2 from one container's stats document (its ``memory_stats.stats`` keys), else ``None``."""
    if not stats:
        return None
    memory = stats.get("memory_stats")
    keys = memory.get("stats") if isinstance(memory, dict) else None
    if not isinstance(keys, dict) or not keys:
        return None
    if _V1_KEYS & keys.keys():
        return 1
    if _V2_KEYS & keys.keys():
        return 2
    return None


def local_cgroup_version(root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """The cgroup version this process runs under, or ``None`` when there is no cgroup fs (not Linux)."""
    if (root / "cgroup.controllers").exists():
        return 2
    if (root / "memory").is_dir():
        return 1
    return None


def local_memory_limit_bytes(root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """This container's memory ceiling from its cgroup, ``None`` when unlimited or unreadable."""
    for candidate in (root / "memory.max", root / "memory" / "memory.limit_in_bytes"):
        try:
            raw = candidate.read_text().strip()
        except OSError:
            continue
        if raw == "max":
            return None
        try:
            value = int(raw)
        except ValueError:
            return None
        # Zero or negative is no usable ceiling either.
        return value if 0 < value < _UNLIMITED_V1 else None
    return None
