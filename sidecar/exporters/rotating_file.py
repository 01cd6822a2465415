"""An append-only file that rotates by size and keeps a fixed number of old files.

``traces.jsonl`` is the live file; ``traces.jsonl.1`` the newest rotated one, up to
``traces.jsonl.<keep>``; older ones are deleted. So the disk used is bounded by about
``(keep + 1) × max_bytes`` (a single line larger than ``max_bytes`` still gets a file of its own
rather than being split, since half a JSON line is useless).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO


class RotatingFile:
    def __init__(self, path: Path, max_bytes: int, keep: int) -> None:
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        if keep < 0:
            raise ValueError("keep must be zero or more")
        self.path = path
        self.max_bytes = max_bytes
        self.keep = keep
        self.rotations = 0
        self._fh: BinaryIO | None = None
        self._size = 0

    def _open(self) -> BinaryIO:
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "ab")  # noqa: SIM115 - held open across writes, closed in close()
            self._size = self._fh.tell()
        return self._fh

    def write_line(self, line: bytes) -> None:
        """Append ``line`` plus a newline, rotating first when it would not fit."""
        fh = self._open()
        if self._size and self._size + len(line) + 1 > self.max_bytes:
            self.rotate()
            fh = self._open()
        fh.write(line + b"\n")
        fh.flush()
        self._size += len(line) + 1

    def rotate(self) -> None:
        self.close()
        self.rotations += 1
        if self.keep == 0:
            self.path.unlink(missing_ok=True)
            return
        oldest = self._numbered(self.keep)
        oldest.unlink(missing_ok=True)
        for n in range(self.keep - 1, 0, -1):
            src = self._numbered(n)
            if src.exists():
                os.replace(src, self._numbered(n + 1))
        if self.path.exists():
            os.replace(self.path, self._numbered(1))

    def _numbered(self, n: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{n}")

    def close(self) -> None:
        if self._fh is not None:
            fh, self._fh = self._fh, None
            fh.close()
            self._size = 0
