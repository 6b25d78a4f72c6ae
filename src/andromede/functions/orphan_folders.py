"""The gateway's temporary folders named by the process that made them
(``<prefix><pid>-<random>``): the sandboxes' (decision 0303) and the API relay's socket
folder (decision 0350), and their removal once that process is gone — what a gateway killed
before it could clean up leaves behind."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import stat
import tempfile
from pathlib import Path

__all__ = ["make_owned_folder", "sweep_orphans"]

log = logging.getLogger(__name__)


def make_owned_folder(prefix: str, parent: Path | None = None) -> Path:
    """A new private folder under ``parent`` (the system's temporary folder by default)
    whose name carries this process's id, so that a later gateway can tell it orphaned."""
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=parent))


def sweep_orphans(parent: Path, prefix: str) -> int:
    """Remove the folders under ``parent`` named ``<prefix><pid>-…`` whose making process is
    gone (this user's only). How many were removed."""
    removed = 0
    with contextlib.suppress(OSError):
        for folder in parent.glob(f"{prefix}*-*"):
            owner = folder.name[len(prefix) :].split("-", 1)[0]
            if not owner.isdigit() or _alive(int(owner)):
                continue
            with contextlib.suppress(OSError):
                found = folder.lstat()
                if found.st_uid != os.getuid() or not stat.S_ISDIR(found.st_mode):
                    continue
                shutil.rmtree(folder)
                removed += 1
    if removed:
        log.info("removed %d %s* folders of gateways no longer running", removed, prefix)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive, and not ours to judge
        return True
    return True
