"""The notification context's errors, free of any wire protocol::

NotificationError
├── NoSuchTopic          the tenant has no topic of that name or ARN
├── InvalidTopic         a name, an ARN or an attribute that cannot be taken
├── TopicLimitExceeded   the tenant holds as many topics as it may
├── TagLimitExceeded     the topic would hold more tags than it may
├── SubscriptionLimitExceeded  the topic holds as many subscriptions as it may
├── NoSuchSubscription   no subscription of that ARN (the caller's to see)
├── NotSubscribable      the caller may not act so (AWS's AuthorizationError)
└── TopicKeyError        the topic's KMS key cannot be used (decision 0212): its
    ├── TopicKeyDisabled, TopicKeyInvalidState, TopicKeyNotFound, TopicKeyAccessDenied
"""

from __future__ import annotations

from andromede.errors import AndromedeError

__all__ = [
    "InvalidTopic",
    "MessageDenied",
    "NoSuchSubscription",
    "NoSuchTopic",
    "NotSubscribable",
    "NotificationError",
    "SubscriptionLimitExceeded",
    "TagLimitExceeded",
    "TopicKeyAccessDenied",
    "TopicKeyDisabled",
    "TopicKeyError",
    "TopicKeyInvalidState",
    "TopicKeyNotFound",
    "TopicLimitExceeded",
]


class NotificationError(AndromedeError):
    """Root of the notification context's errors."""


class NoSuchTopic(NotificationError):
    pass


class InvalidTopic(NotificationError):
    pass


class MessageDenied(NotificationError):
    """A Deny statement of the topic's data protection policy refused it (decision 0215)."""


class TopicLimitExceeded(NotificationError):
    pass


class TagLimitExceeded(NotificationError):
    pass


class SubscriptionLimitExceeded(NotificationError):
    pass


class NoSuchSubscription(NotificationError):
    pass


class NotSubscribable(NotificationError):
    pass


class TopicKeyError(NotificationError):
    """The topic's KMS key cannot be used now (SNS's ``KMS*`` errors); ``code`` is SNS's."""

    code = "KMSInvalidState"


class TopicKeyDisabled(TopicKeyError):
    code = "KMSDisabled"


class TopicKeyInvalidState(TopicKeyError):
    code = "KMSInvalidState"


class TopicKeyNotFound(TopicKeyError):
    code = "KMSNotFound"


class TopicKeyAccessDenied(TopicKeyError):
    code = "KMSAccessDenied"
