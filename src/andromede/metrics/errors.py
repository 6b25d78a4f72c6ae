"""The metrics context's errors, free of any wire protocol. Their names are CloudWatch's own
error codes, which the wire adapter (``andromede.cloudwatchapi.errors``) maps to each
protocol's shape::

    MetricsError
    ├── InvalidParameterValue         a value out of its range or of the wrong form
    ├── MissingParameter              a required parameter absent
    ├── InvalidParameterCombination   parameters that exclude each other
    ├── InvalidNextToken              a page token this service did not give
    ├── ResourceNotFound              an alarm the account does not have (decision 0177)
    ├── LimitExceeded                 the account's alarms (or dashboards) are at their bound
    └── InvalidParameterInput         a dashboard's name or body refused (decision 0185)
"""

from __future__ import annotations

from andromede.errors import AndromedeError

__all__ = [
    "InvalidNextToken",
    "InvalidParameterCombination",
    "InvalidParameterInput",
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


class InvalidParameterInput(MetricsError):
    """A dashboard refused (decision 0185): ``messages`` are its validation messages, each a
    (data path, message) pair as AWS's ``DashboardValidationMessages`` has them."""

    def __init__(self, message: str, messages: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.messages = messages
