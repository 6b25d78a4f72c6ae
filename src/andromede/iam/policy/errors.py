"""Errors of the policy language. No HTTP here.

AndromedeError
└── MalformedPolicy        the document is not a valid policy (IAM ``MalformedPolicyDocument``,
    │                      S3 ``MalformedPolicy``)
    └── PolicyTooLarge     the document exceeds the size limit given by the caller (IAM answers
                           ``LimitExceeded`` for it, S3 ``MalformedPolicy``)
"""

from __future__ import annotations

from andromede.errors import AndromedeError

__all__ = ["MalformedPolicy", "PolicyTooLarge"]


class MalformedPolicy(AndromedeError):
    """The policy text cannot be accepted; ``message`` is safe to show to the client.

    The message names the offending element (and statement, when there is one) the way AWS
    does, so a user can fix the document; it never contains anything but the policy's own text.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PolicyTooLarge(MalformedPolicy):
    """The document is larger than the limit for its kind of policy."""

    def __init__(self, message: str, *, limit: int, size: int) -> None:
        super().__init__(message)
        self.limit = limit
        self.size = size
