"""A configuration file the running proxy reads again when it changes on disk.

Owns the reload rule shared by the credentials and the authorization files: on each
:meth:`WatchedFile.current`, one ``stat``; when the file's modification time, size or inode
changed, it is loaded again. A file that no longer loads keeps the last good value (an error
in the log says so), so a half-edited file never locks KMS out, and a rotation of the SigV4
credentials or an edit of the authorization rules needs no restart (the spec's "changes to
these credentials take effect without disconnecting or shutting down the XKS proxy").
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from andromede.errors import ConfigurationError

__all__ = ["WatchedFile"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class WatchedFile(Generic[T]):
    """``load(path)`` once now (a ConfigurationError propagates), again after each change."""

    def __init__(self, path: Path, load: Callable[[Path], T], what: str) -> None:
        self.path = path
        self._load = load
        self._what = what
        self._signature = self._stat()
        self._value = load(path)

    def current(self) -> T:
        signature = self._stat()
        if signature != self._signature:
            self._signature = signature
            try:
                self._value = self._load(self.path)
                log.info("%s %s reloaded", self._what, self.path)
            except ConfigurationError as exc:
                log.error("%s changed but the previous one stays in force: %s", self._what, exc)
        return self._value

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            info = os.stat(self.path)
        except OSError:
            return None
        return (info.st_mtime_ns, info.st_size, info.st_ino)
