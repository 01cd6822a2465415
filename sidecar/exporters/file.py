"""``file``: OTLP/JSON lines on local disk, one file per signal, rotated by size.

Each line is one ``Export*ServiceRequest`` in the OTLP JSON encoding
(:mod:`sidecar.otlp.json_codec`), which is also what the OpenTelemetry Collector's file exporter
writes, so the files can be replayed to any OTLP/HTTP receiver with ``curl -d @line``.
Meant for local runs, demos and tests; disk use is bounded by the rotation settings.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from google.protobuf.message import Message

from sidecar.config import ConfigError, setting
from sidecar.config import environment_variables as V
from sidecar.context import SidecarContext
from sidecar.exporters.rotating_file import RotatingFile
from sidecar.otlp import json_codec
from sidecar.otlp.signals import Signal
from sidecar.pipeline.exporter import Exporter, ExportOutcome

#: Errors that no retry cures: the path is a file, a directory the sidecar may not write, a read-only disk.
_PERMANENT = frozenset({errno.EISDIR, errno.ENOTDIR, errno.EACCES, errno.EPERM, errno.EROFS, errno.ENAMETOOLONG})


class FileExporter(Exporter):
    """Appends each batch as one JSON line to ``<path>/<signal>.jsonl``."""

    name = "file"

    @dataclass
    class Settings:
        path: str = setting(
            "./otel-output",
            help="Directory for traces.jsonl, metrics.jsonl and logs.jsonl (created when missing).",
            env=V.ECS_OTEL_FILE_PATH,
        )
        max_bytes: int = setting(
            16 * 1024 * 1024, help="Size at which a file is rotated.", env=V.ECS_OTEL_FILE_MAX_BYTES
        )
        keep: int = setting(
            3, help="Rotated files kept per signal (older ones are deleted).", env=V.ECS_OTEL_FILE_KEEP
        )

        def check(self, key: Callable[[str], str]) -> None:
            """The path must be a directory the sidecar can write, or one it can create.

            An existing file, or a directory it may not write, fails every export the same way
            for as long as it runs: a configuration error, not a reason to retry.
            """
            path = Path(self.path)
            if path.exists():
                if not path.is_dir():
                    raise ConfigError(key("path"), "a directory (or a path to create one)", f"{self.path} is a file")
                if not os.access(path, os.W_OK | os.X_OK):
                    raise ConfigError(key("path"), "a directory the sidecar may write", self.path)
                return
            parent = next((p for p in path.absolute().parents if p.exists()), None)
            if parent is None or not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
                raise ConfigError(key("path"), "a path whose nearest existing parent is a writable directory",
                                  self.path)

    def __init__(self, settings: FileExporter.Settings, context: SidecarContext) -> None:
        if settings.max_bytes <= 0:
            raise ConfigError("exporters.file.max_bytes", "a positive number of bytes", settings.max_bytes)
        if settings.keep < 0:
            raise ConfigError("exporters.file.keep", "zero or more files", settings.keep)
        self.settings = settings
        self.context = context
        self.directory = Path(settings.path)
        self.files = {
            s: RotatingFile(self.directory / f"{s.value}.jsonl", settings.max_bytes, settings.keep)
            for s in Signal
        }

    def destination(self, signal: Signal) -> str:
        return str(self.directory / f"{signal.value}.jsonl")

    async def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)

    async def export(self, signal: Signal, batch: Message) -> ExportOutcome:
        line = json_codec.encode(batch)
        try:
            self.files[signal].write_line(line)
        except OSError as e:
            self.files[signal].close()
            reason = f"writing {self.files[signal].path}: {e.strerror or e}"
            if e.errno in _PERMANENT:  # the same call fails the same way next time: do not retry
                return ExportOutcome.fail(reason)
            return ExportOutcome.retry(reason)  # disk full or a vanished directory may heal
        return ExportOutcome.success()

    async def shutdown(self, deadline: float) -> None:
        for f in self.files.values():
            f.close()
