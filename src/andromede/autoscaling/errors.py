"""Auto Scaling's domain errors; the wire names them with AWS's codes."""

from __future__ import annotations

from andromede.errors import AndromedeError

__all__ = [
    "ActiveRefreshNotFound",
    "AlreadyExists",
    "AutoScalingError",
    "GroupLimitExceeded",
    "NoSuchGroup",
    "RefreshInProgress",
    "ResourceContention",
    "ResourceInUse",
    "ScalingValidationError",
]


class AutoScalingError(AndromedeError):
    """Any refusal of an Auto Scaling call."""


class ScalingValidationError(AutoScalingError):
    """A parameter out of its constraints (AWS: ``ValidationError``)."""


class NoSuchGroup(ScalingValidationError):
    """AWS answers an unknown group name with ``ValidationError`` too."""


class AlreadyExists(AutoScalingError):
    """A group of that name exists in the account."""


class ResourceInUse(AutoScalingError):
    """The group still holds instances (DeleteAutoScalingGroup without ForceDelete)."""


class GroupLimitExceeded(AutoScalingError):
    """The account holds its quota of groups (AWS: ``LimitExceeded``)."""


class RefreshInProgress(AutoScalingError):
    """An instance refresh is already running (AWS: ``InstanceRefreshInProgress``)."""


class ActiveRefreshNotFound(AutoScalingError):
    """No instance refresh to cancel (AWS: ``ActiveInstanceRefreshNotFound``)."""


class ResourceContention(AutoScalingError):
    """The group kept changing under a call's conditional write, each retry lost to another
    writer (AWS: ``ResourceContention``, to retry)."""
