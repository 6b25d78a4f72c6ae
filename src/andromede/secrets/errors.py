"""The secrets context's domain errors, with no HTTP in them; ``secretsapi.errors`` maps each to
AWS Secrets Manager's error type.

::

    SecretsError
    ├── SecretNotFound          no such secret (or version) for the caller
    ├── SecretExists            the name is taken, or a token names a version of another value
    ├── InvalidParameter        a parameter's value is not acceptable
    ├── InvalidRequest          the secret's state refuses the call (marked for deletion…)
    ├── LimitExceeded           a quota (secrets, versions, tags) is reached
    ├── MalformedPolicy         the resource policy is not a valid policy
    ├── PublicPolicy            BlockPublicPolicy refused a policy granting everyone
    ├── EncryptionFailure       the KMS key refused to make a data key
    ├── DecryptionFailure       the KMS key refused to open a version's data key
    ├── KmsAccessDenied         the caller may not use the secret's KMS key
    ├── RegionRefused           the account may not hold data in the region (allow-list)
    └── Conflict                another writer changed the secret meanwhile (retried)
"""

from __future__ import annotations

from andromede.errors import AndromedeError

__all__ = [
    "Conflict",
    "DecryptionFailure",
    "EncryptionFailure",
    "InvalidParameter",
    "InvalidRequest",
    "KmsAccessDenied",
    "LimitExceeded",
    "MalformedPolicy",
    "PublicPolicy",
    "RegionRefused",
    "SecretExists",
    "SecretNotFound",
    "SecretsError",
]


class SecretsError(AndromedeError):
    """Root of the secrets context's errors."""


class SecretNotFound(SecretsError):
    pass


class SecretExists(SecretsError):
    pass


class InvalidParameter(SecretsError):
    pass


class InvalidRequest(SecretsError):
    pass


class LimitExceeded(SecretsError):
    pass


class MalformedPolicy(SecretsError):
    pass


class PublicPolicy(SecretsError):
    pass


class EncryptionFailure(SecretsError):
    pass


class DecryptionFailure(SecretsError):
    pass


class Conflict(SecretsError):
    pass


class KmsAccessDenied(SecretsError):
    pass


class RegionRefused(SecretsError):
    """The account's allow-list of regions (the operator's data-residency guardrail) does not
    hold the region asked for (decision 0207)."""
