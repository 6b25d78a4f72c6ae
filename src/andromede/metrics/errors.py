"""The metrics context's errors, free of any wire protocol. Their names are CloudWatch's own
error codes, which the wire adapter (``andromede.cloudwatchapi.errors``) maps to each
protocol's shape::

    MetricsError
    ├── InvalidParameterValue         a value out of its range or of the wrong form
    ├── MissingParameter              a required parameter absent
    ├── InvalidParameterCombination   parameters that exclude each other
    ├── InvalidNextToken              a page token this service did not give
    ├── ResourceNotFound              an alarm the account does not have (decision 0177)
    └── LimitExceeded                 the account's alarms are at their setting's bound
"""

from __future__ import annotations

from andromede.errors import AndromedeError

__all__ = [
    "InvalidNextToken",
    "InvalidParameterCombination",
    "InvalidParameterValue",
    "LimitExceeded",
    "MetricsError",
    "MissingParameter",
    "ResourceNotFound",
]


class MetricsError(AndromedeError):
    """Base of the metrics context's errors; the message is the client's to read."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class InvalidParameterValue(MetricsError):
    pass


class MissingParameter(MetricsError):
    pass


class InvalidParameterCombination(MetricsError):
    pass


class InvalidNextToken(MetricsError):
    pass


class ResourceNotFound(MetricsError):
    pass


class LimitExceeded(MetricsError):
    pass
