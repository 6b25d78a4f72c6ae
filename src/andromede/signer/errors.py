"""The signer context's domain errors, with no HTTP in them; ``signerapi.errors`` maps each to
AWS Signer's error type.

::

    SignerError
    ├── ProfileNotFound     no such signing profile (or job) for the account
    ├── JobNotFound         no such signing job for the account
    ├── SignerConflict      the profile's name is taken, or its state refuses the call
    │   └── ProfileCanceled a tag operation on a canceled profile (Signer's tagging API
    │                       answers it as a bad request, not a conflict)
    ├── InvalidSignerInput  a parameter's value is not acceptable
    ├── SignerQuota         the account's profiles are at their bound
    ├── SignerAccessDenied  another account's profile does not grant the caller the action
    └── SignatureInvalid    a signed artifact's signature is malformed, forged or does not
                            match its bytes (integrity: Lambda refuses it whatever its policy)
"""

from __future__ import annotations

from andromede.errors import AndromedeError

__all__ = [
    "InvalidSignerInput",
    "JobNotFound",
    "ProfileCanceled",
    "ProfileNotFound",
    "SignatureInvalid",
    "SignerAccessDenied",
    "SignerConflict",
    "SignerError",
    "SignerQuota",
]


class SignerError(AndromedeError):
    """Root of the signer context's errors."""


class ProfileNotFound(SignerError):
    pass


class JobNotFound(SignerError):
    pass


class SignerConflict(SignerError):
    pass


class ProfileCanceled(SignerConflict):
    pass


class InvalidSignerInput(SignerError):
    pass


class SignerQuota(SignerError):
    pass


class SignerAccessDenied(SignerError):
    pass


class SignatureInvalid(SignerError):
    pass
