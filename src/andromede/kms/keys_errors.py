"""Domain errors of customer-managed keys (CMKs). No HTTP: ``andromede.kmsapi`` maps them to
AWS KMS's error types in one table.

No message carries key material, plaintext or a ciphertext byte: only key ids, ARNs and states.

KmsError
└── CustomerKeyError
    ├── CmkNotFound              no such key or alias visible to the caller (also malformed ids)
    ├── InvalidKeyArn            a KeyId that starts like an ARN but is not a KMS one
    ├── CmkDisabled              the key is Disabled
    ├── CmkInvalidState          the key's state forbids the operation (pending deletion...)
    ├── InvalidCiphertext        tampered or foreign blob, or the wrong encryption context
    ├── IncorrectKey             the ciphertext was made under another key than the one named
    ├── CmkAccessDenied          the key policy and IAM policies do not allow the call
    ├── AliasAlreadyExists       the alias name is taken in the tenant
    ├── ReplicaAlreadyExists     a multi-Region key has a key in that region already
    ├── MalformedKeyPolicy       the key policy is not a valid policy document
    └── InvalidKeyParameter      a parameter is out of range or malformed (ValidationException)
"""

from __future__ import annotations

from andromede.kms.errors import KmsError

__all__ = [
    "AliasAlreadyExists",
    "CmkAccessDenied",
    "CmkDisabled",
    "CmkInvalidState",
    "CmkNotFound",
    "CustomerKeyError",
    "DryRunSucceeded",
    "ExpiredImportToken",
    "IncorrectKey",
    "IncorrectKeyMaterial",
    "InvalidCiphertext",
    "InvalidGrantId",
    "InvalidImportToken",
    "InvalidKeyArn",
    "InvalidKeyParameter",
    "InvalidKeyUsage",
    "InvalidMac",
    "InvalidSignature",
    "KeyLimitExceeded",
    "MalformedKeyPolicy",
    "ReplicaAlreadyExists",
    "UnsupportedKeyOperation",
]


class CustomerKeyError(KmsError):
    """Base of the CMK errors."""


class CmkNotFound(CustomerKeyError):
    pass


class CmkDisabled(CustomerKeyError):
    pass


class CmkInvalidState(CustomerKeyError):
    pass


class InvalidCiphertext(CustomerKeyError):
    pass


class IncorrectKey(CustomerKeyError):
    pass


class CmkAccessDenied(CustomerKeyError):
    pass


class AliasAlreadyExists(CustomerKeyError):
    pass


class MalformedKeyPolicy(CustomerKeyError):
    pass


class InvalidKeyParameter(CustomerKeyError):
    pass


class InvalidKeyArn(CustomerKeyError):
    pass


class KeyLimitExceeded(CustomerKeyError):
    """A per-key quota is used up (AWS: LimitExceededException)."""


class InvalidGrantId(CustomerKeyError):
    """Not a grant id this service could have made (AWS: InvalidGrantIdException)."""


class InvalidKeyUsage(CustomerKeyError):
    """The key's usage or spec does not allow the operation or algorithm asked for
    (AWS: InvalidKeyUsageException)."""


class UnsupportedKeyOperation(CustomerKeyError):
    """Not an operation keys of this kind have (AWS: UnsupportedOperationException)."""


class InvalidSignature(CustomerKeyError):
    """Verify: the signature is not the key's over the message (KMSInvalidSignatureException)."""


class InvalidMac(CustomerKeyError):
    """VerifyMac: the MAC is not the key's over the message (KMSInvalidMacException)."""


class InvalidImportToken(CustomerKeyError):
    """ImportKeyMaterial: the token is not one GetParametersForImport gave for this key
    (AWS: InvalidImportTokenException)."""


class ExpiredImportToken(CustomerKeyError):
    """ImportKeyMaterial: the token's 24 hours are over (AWS: ExpiredImportTokenException)."""


class IncorrectKeyMaterial(CustomerKeyError):
    """ImportKeyMaterial: not 256 bits, or not the material the key had before
    (AWS: IncorrectKeyMaterialException)."""


class DryRunSucceeded(CustomerKeyError):
    """``DryRun``: every check passed, and nothing was done (AWS: DryRunOperationException)."""

    def __init__(
        self, message: str = "The request would have succeeded, but the DryRun option is set."
    ) -> None:
        super().__init__(message)


class ReplicaAlreadyExists(CustomerKeyError):
    """ReplicateKey: the multi-Region key has a key in that region already
    (AWS: AlreadyExistsException)."""
