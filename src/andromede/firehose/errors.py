"""The Firehose context's domain errors, with no HTTP in them; ``firehoseapi.errors`` maps each
to Amazon Data Firehose's error type.

::

    FirehoseError
    ├── StreamNotFound          no such delivery stream for the account
    ├── StreamInUse             the name is taken, or the stream's state refuses the call
    ├── InvalidArgument         a parameter's value is not acceptable
    ├── InvalidSource           a put other than CloudWatch Logs' into a stream that
    │                           decompresses CloudWatch Logs records (decision 0334)
    ├── LimitExceeded           a quota (streams, tags, buffered bytes) is reached
    ├── ConcurrentModification  the version the caller named is no longer the stream's
    ├── KmsResourceError        the stream's customer-managed key refuses (AWS's
    │                           ``InvalidKMSResourceException`` and its ``code``)
    └── SourceUnavailable       a Kinesis source cannot be read now (its reader retries)
"""

from __future__ import annotations

from andromede.errors import AndromedeError

__all__ = [
    "ConcurrentModification",
    "FirehoseError",
    "InvalidArgument",
    "InvalidSource",
    "KmsResourceError",
    "LimitExceeded",
    "SourceUnavailable",
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


class InvalidSource(FirehoseError):
    pass


class LimitExceeded(FirehoseError):
    pass


class ConcurrentModification(FirehoseError):
    pass


class KmsResourceError(FirehoseError):
    """A KMS key refused: ``code`` as Firehose's ``InvalidKMSResourceException`` carries it
    (``KMS.DisabledException``, ``KMS.InvalidStateException``, ``KMS.NotFoundException``,
    ``KMS.AccessDeniedException``), ``failure_type`` as ``FailureDescription.Type`` names it
    (``DISABLED_KMS_KEY``, ``INVALID_KMS_KEY``, ``KMS_KEY_NOT_FOUND``, ``KMS_ACCESS_DENIED``),
    and whether it may pass (a key disabled or pending deletion may be enabled again; a key
    gone is gone)."""

    def __init__(self, code: str, failure_type: str, message: str, *, lasting: bool) -> None:
        super().__init__(message)
        self.code = code
        self.failure_type = failure_type
        self.lasting = lasting


class SourceUnavailable(FirehoseError):
    """The source cannot be read now (no secret in the message)."""
