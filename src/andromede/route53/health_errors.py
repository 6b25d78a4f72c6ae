"""Route 53 health checks' domain errors (decision 0285), one per AWS error code, beside
decision 0280's (``InvalidInput`` is theirs); ``route53api.errors`` gives each its status.

    Route53Error
    ├── NoSuchHealthCheck
    ├── HealthCheckAlreadyExists
    ├── HealthCheckVersionMismatch
    ├── HealthCheckInUse
    ├── TooManyHealthChecks
    └── HealthCheckChanged        (a concurrent write won: the caller reads again)
"""

from __future__ import annotations

from andromede.route53.errors import InvalidInput, Route53Error

__all__ = [
    "HealthCheckAlreadyExists",
    "HealthCheckChanged",
    "HealthCheckInUse",
    "HealthCheckVersionMismatch",
    "InvalidInput",
    "NoSuchHealthCheck",
    "TooManyHealthChecks",
]


class NoSuchHealthCheck(Route53Error):
    pass


class HealthCheckAlreadyExists(Route53Error):
    pass


class HealthCheckVersionMismatch(Route53Error):
    pass


class HealthCheckInUse(Route53Error):
    pass


class TooManyHealthChecks(Route53Error):
    pass


class HealthCheckChanged(Route53Error):
    pass
