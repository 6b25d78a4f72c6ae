"""The logs context's errors, free of any wire protocol. Their names are CloudWatch Logs' own
exception names, which ``andromede.logsapi.errors`` maps to the JSON protocol's shape::

    LogsError
    ├── InvalidParameter         a value out of its range or of the wrong form
    ├── ResourceAlreadyExists    a group or stream of that name exists
    ├── ResourceNotFound         a group or stream the account does not have
    ├── LimitExceeded            the account's groups are at their bound
    ├── InvalidOperation         not valid in the resource's state (cancelling a finished
    │                            export task)
    ├── KmsKeyUnusable           the group's KMS key cannot seal or open (AWS words it as an
    │                            InvalidParameterException on create, AccessDenied on use)
    └── ExportRefused            an export's (or a findings destination's) bucket cannot be
                                 written (missing, another region, or its policy does not
                                 let Logs in): an InvalidParameterException at
                                 CreateExportTask or PutDataProtectionPolicy, the FAILED
                                 task's message later
"""

from __future__ import annotations

from andromede.errors import AndromedeError

__all__ = [
    "ExportRefused",
    "InvalidOperation",
    "InvalidParameter",
    "KmsKeyUnusable",
    "LimitExceeded",
    "LogsError",
    "ResourceAlreadyExists",
    "ResourceNotFound",
]


class LogsError(AndromedeError):
    """Base of the logs context's errors; the message is the client's to read."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class InvalidParameter(LogsError):
    pass


class ResourceAlreadyExists(LogsError):
    pass


class ResourceNotFound(LogsError):
    pass


class LimitExceeded(LogsError):
    pass


class KmsKeyUnusable(LogsError):
    pass


class InvalidOperation(LogsError):
    pass


class ExportRefused(LogsError):
    pass
