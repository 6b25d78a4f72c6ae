"""Errors of the persistence layer that mean something to a caller above the stores.

Only one so far: the database cannot be reached. Everything else a store raises is either a
domain error of its context (``NoSuchBucket``…) or a bug, reported as an internal error.
"""

from __future__ import annotations

from andromede.errors import AndromedeError

__all__ = ["DatabaseUnavailable"]


class DatabaseUnavailable(AndromedeError):
    """The metadata database is unreachable, restarting or out of connections right now.

    The request did not change anything the caller can rely on (a write may have committed or
    not when the connection broke during COMMIT, exactly as a lost HTTP response); the wire APIs
    answer 503 so that clients retry. The message never carries the database URL.
    """
