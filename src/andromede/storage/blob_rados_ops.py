"""The RADOS blob store's shared parts: object names, librados return codes as blob errors, and the
hand-over of librados completions to the event loop.

librados calls completions on its own threads; :func:`_set_result` runs on the loop (through
``loop.call_soon_threadsafe``) and :func:`_keep_thread_state` keeps each such thread's Python
thread state for its life (decision 0027). Split off ``blob_rados.py`` for size; see that
module's docstring for the layout of a blob.
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import itertools
import os
import re
import threading
from typing import TYPE_CHECKING, Any

import rados

from andromede.storage.errors import BlobError, BlobStoreUnavailable

if TYPE_CHECKING:
    from andromede.storage.blob_rados_store import RadosBlobStore

__all__ = ["DEFAULT_READ_BLOCK_SIZE", "DEFAULT_STRIPE_SIZE"]

DEFAULT_STRIPE_SIZE = 4 * 1024 * 1024
DEFAULT_READ_BLOCK_SIZE = 1024 * 1024
_BLOB_ID = re.compile(r"[A-Za-z0-9_-]{4,128}")
_TAIL = re.compile(r"([A-Za-z0-9_-]{4,128})\.([1-9][0-9]{0,9})")
_XATTR = "andromede.blob"
_FORMAT = 1
_LIST_BATCH = 1000
_STAT_CONCURRENCY = 64
_UNAVAILABLE = {errno.ETIMEDOUT, errno.ENOTCONN, errno.ESHUTDOWN, errno.ECONNREFUSED}


def _failure(blob_id: str, what: str, code: int) -> BlobError:
    """A BlobError for a negative librados return code; timeouts mean the cluster is away."""
    err = -code
    text = f"blob {blob_id}: {what}: {os.strerror(err)} (errno {err})"
    if err in _UNAVAILABLE:
        return BlobStoreUnavailable(text)
    return BlobError(text)


def _translate(exc: rados.Error, what: str) -> BlobError:
    if isinstance(exc, rados.TimedOut | rados.NotConnected | rados.ConnectionShutdown):
        return BlobStoreUnavailable(f"{what}: {exc}")
    return BlobError(f"{what}: {exc}")


_kept = threading.local()
_gil_state_ensure = ctypes.pythonapi.PyGILState_Ensure


def _keep_thread_state() -> None:
    """Keep the calling librados thread's Python thread state for the thread's life.

    The binding runs each completion callback under ``PyGILState_Ensure``/``Release``. On a
    thread Python did not start, that makes a thread state and destroys it again on every
    callback, and on Python 3.11 each one maps (``mmap``) and unmaps a 16 KiB frame stack:
    a TLB shoot-down of every core per RADOS operation, about a third of the completion
    thread's CPU on a 4 KiB GET (docs/decisions/0027-rados-small-gets.md). One more
    ``PyGILState_Ensure`` that is never released keeps the count above zero, so later
    callbacks reuse the state. librados' threads live as long as its client (a handful per
    client); the state of a thread that ends with a replaced client stays allocated (a few
    KiB, once per replacement).
    """
    if getattr(_kept, "state", False):
        return
    _gil_state_ensure()  # the GIL is held: only the thread state's count goes up
    _kept.state = True


def _set_result(
    future: asyncio.Future[Any], value: Any, store: RadosBlobStore | None, ioctx: Any
) -> None:
    """On the loop: resolve an operation's future, then let ``store`` (if it watches for the
    cluster going away) judge the result of an operation run on ``ioctx``."""
    if future.done():  # the awaiting task was cancelled: nobody reads this result
        return
    future.set_result(value)
    if store is not None and ioctx is not None:
        store._watch(value, ioctx)


def _next_batch(objects: Any) -> list[str]:
    return [obj.key for obj in itertools.islice(objects, _LIST_BATCH)]
