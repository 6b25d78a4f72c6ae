"""The Firehose context's domain errors, with no HTTP in them; ``firehoseapi.errors`` maps each
to Amazon Data Firehose's error type.

::

    FirehoseError
    ├── StreamNotFound          no such delivery stream for the account
    ├── StreamInUse             the name is taken, or the stream's state refuses the call
    ├── InvalidArgument         a parameter's value is not acceptable
    ├── LimitExceeded           a quota (streams, tags, buffered bytes) is reached
    └── ConcurrentModification  the version the caller named is no longer the stream's
"""

from __future__ import annotations

from andromede.errors import AndromedeError

__all__ = [
    "ConcurrentModification",
    "FirehoseError",
    "InvalidArgument",
    "LimitExceeded",
    "StreamInUse",
    "StreamNotFound",
]


class FirehoseError(AndromedeError):
    """Root of the Firehose context's errors."""


class StreamNotFound(FirehoseError):
    pass


class StreamInUse(FirehoseError):
    pass


class InvalidArgument(FirehoseError):
    pass


class LimitExceeded(FirehoseError):
    pass


class ConcurrentModification(FirehoseError):
    pass
