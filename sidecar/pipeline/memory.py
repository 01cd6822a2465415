"""The sidecar's global memory limit, and the budget that makes the pipeline refuse rather than grow.

The limit defaults to 80 % of the container's memory limit, read from the cgroup (v2
``memory.max``, v1 ``memory.limit_in_bytes``) or the task metadata's container limit, else
256 MiB. Two guards use it: the encoded bytes waiting in all queues together (queues hold
wire bytes, so half the limit leaves room for the interpreter, batches being decoded or
exported, and buffers), and the process's resident memory, projected forward (see
:meth:`MemoryBudget.check`) so that the limit is not overshot before anyone notices.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from ecs_otel.metadata.cgroup import local_memory_limit_bytes
from sidecar.pipeline.consumer import BackPressure

FALLBACK_BYTES = 256 * 1024 * 1024
DEFAULT_FRACTION = 0.8
_CGROUP_ROOT = Path("/sys/fs/cgroup")


def default_limit_bytes(metadata_limit_mib: int | None = None, cgroup_root: Path = _CGROUP_ROOT) -> int:
    limit = local_memory_limit_bytes(cgroup_root)
    if limit is None and metadata_limit_mib:
        limit = metadata_limit_mib * 1024 * 1024
    if limit is None:
        return FALLBACK_BYTES
    return int(limit * DEFAULT_FRACTION)



class _Statm:
    """This process's resident size from ``/proc/self/statm`` through one descriptor kept open (one
    ``pread`` per sample: what psutil reads, without opening the file each time; ~15x cheaper), or
    ``None`` where there is no such file. Reopened after a fork (``/proc/self`` named the parent)."""

    _fd = -1
    _pid = -1
    _page = 0

    @classmethod
    def read(cls) -> int | None:
        try:
            if cls._pid != os.getpid():
                if cls._fd >= 0:
                    os.close(cls._fd)
                    cls._fd = -1
                cls._fd = os.open("/proc/self/statm", os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
                cls._pid = os.getpid()
                cls._page = os.sysconf("SC_PAGE_SIZE")
            return int(os.pread(cls._fd, 128, 0).split()[1]) * cls._page
        except (OSError, ValueError, IndexError, AttributeError):
            return None


def _process_rss(process: psutil.Process) -> Callable[[], int]:
    """The RSS reader the budget samples (every :attr:`MemoryBudget._SAMPLE_EVERY_S` under load)."""
    if _Statm.read() is None:
        return lambda: int(process.memory_info().rss)
    return lambda: _Statm.read() or int(process.memory_info().rss)


class MemoryBudget:
    """Shared by every queue: refuses new data (``BackPressure``) before the limit would be passed."""

    #: Share of the limit that queued wire bytes may take.
    QUEUED_SHARE = 1 / 2
    #: What accepting a batch may cost in resident memory, as a multiple of its encoded size: the
    #: body the receiver read, the decoded message, and the encoded copy the queues keep.
    GROWTH_FACTOR = 3
    _SAMPLE_EVERY_S = 0.01

    def __init__(self, limit_bytes: int, read_rss: Callable[[], int] | None = None) -> None:
        self.limit_bytes = limit_bytes
        self.queued_bytes = 0
        #: What requests being decoded right now are expected to cost (see :meth:`reserve_decode`).
        self.decoding_bytes = 0
        self._read_rss: Callable[[], int] = read_rss or _process_rss(psutil.Process())
        self._rss = 0
        self._sampled_at = 0.0
        #: Growth admitted since the last RSS sample, which that sample cannot show yet.
        self._admitted_since_sample = 0

    @property
    def queued_limit_bytes(self) -> int:
        return int(self.limit_bytes * self.QUEUED_SHARE)

    def rss(self) -> int:
        now = time.monotonic()
        if now - self._sampled_at >= self._SAMPLE_EVERY_S:
            self._rss = self._read_rss()
            self._sampled_at = now
            self._admitted_since_sample = 0
        return self._rss

    def check(self, incoming_bytes: int) -> None:
        """Refuses when accepting ``incoming_bytes`` (encoded) could take RSS past the limit.

        Checking only whether RSS is *already* over the limit overshoots: the RSS sample is
        up to one interval old, and every request admitted meanwhile grows memory further
        (the overload fault test measured ~5 % over). So the check projects instead:
        last RSS sample, plus what was admitted since that sample, plus
        :attr:`GROWTH_FACTOR` times the incoming batch, must stay within the limit. The
        price is refusing a little early (by a few times one batch) when close to the limit.
        """
        if self.queued_bytes + incoming_bytes > self.queued_limit_bytes:
            raise BackPressure("memory_limit", retry_after_s=1.0)
        growth = self.GROWTH_FACTOR * incoming_bytes
        if self.rss() + self._admitted_since_sample + growth > self.limit_bytes:
            raise BackPressure("memory_limit", retry_after_s=2.0)
        self._admitted_since_sample += growth

    def reserve_decode(self, cost_bytes: int) -> None:
        """Reserves room for decoding a request estimated to cost ``cost_bytes``, or raises BackPressure.

        Called before a request is decoded, so that memory is bounded *before* the objects exist
        (decoding is where a small body turns into a large heap: two bytes of wire per empty
        span, ~190 bytes once decoded). Requests decoding at the same time add up. Pair with
        :meth:`release_decode` once the decoded batch has been handed on (or refused).
        """
        if self.rss() + self._admitted_since_sample + self.decoding_bytes + cost_bytes > self.limit_bytes:
            raise BackPressure("memory_limit", retry_after_s=2.0)
        self.decoding_bytes += cost_bytes

    def can_reserve_decode(self, cost_bytes: int) -> bool:
        """Whether :meth:`reserve_decode` would take ``cost_bytes`` now (the same test, nothing reserved)."""
        return self.rss() + self._admitted_since_sample + self.decoding_bytes + cost_bytes <= self.limit_bytes

    def release_decode(self, cost_bytes: int) -> None:
        self.decoding_bytes -= cost_bytes

    def take(self, n: int) -> None:
        self.queued_bytes += n

    def release(self, n: int) -> None:
        self.queued_bytes -= n
