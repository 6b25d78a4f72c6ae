"""The Kinesis context's domain errors, with no HTTP in them; ``kinesisapi.errors`` maps each
to Kinesis Data Streams' error type.

::

    KinesisError
    ├── StreamNotFound      no such stream (or shard) for the account
    ├── StreamInUse         the name is taken, or the stream's state refuses the call
    ├── InvalidArgument     a parameter's value is not acceptable
    ├── LimitExceeded       a quota (shards, on-demand streams, tags) is reached
    ├── ExpiredIterator     a shard iterator older than its lifetime
    ├── ThroughputExceeded  a shard's read throughput spent (decision 0248)
    └── KmsRefused          the stream's KMS key refuses (``KMSDisabledException``…)
"""

from __future__ import annotations

from andromede.errors import AndromedeError

__all__ = [
    "ExpiredIterator",
    "InvalidArgument",
    "KinesisError",
    "KmsRefused",
    "LimitExceeded",
    "StreamInUse",
    "StreamNotFound",
    "ThroughputExceeded",
]


class KinesisError(AndromedeError):
    """Root of the Kinesis context's errors."""


class StreamNotFound(KinesisError):
    pass


class StreamInUse(KinesisError):
    pass


class InvalidArgument(KinesisError):
    pass


class LimitExceeded(KinesisError):
    pass


class ExpiredIterator(KinesisError):
    pass


class ThroughputExceeded(KinesisError):
    pass


class KmsRefused(KinesisError):
    """``code``: Kinesis' error type for the refusal (``KMSDisabledException``,
    ``KMSInvalidStateException``, ``KMSNotFoundException``, ``KMSAccessDeniedException``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
