"""Domain errors of identity. No HTTP here; the IAM, STS and S3 adapters map them to wire codes.

The class names are the AWS error codes they stand for, so the wire tables stay obvious.

AndromedeError
└── IamError
    ├── InvalidAccessKeyId       no such key, or the key is inactive, or its tenant is not active
    │   ├── InvalidClientTokenId temporary credentials with an unknown or wrong session token
    │   └── ExpiredToken         temporary credentials past their expiry
    ├── AccessDenied             authenticated, but not allowed
    ├── TenantAlreadyExists      the tenant's id or name is taken
    ├── NoSuchTenant             no tenant by that id or name
    ├── InvalidTenantTransition  e.g. reactivating a closed tenant
    ├── EntityAlreadyExists      a user, group, role, policy, device… of that name exists
    ├── NoSuchEntity             no user, group, role, policy, version, key or device
    ├── DeleteConflict           the entity still has things attached (keys, members, versions…)
    ├── UnmodifiableEntity       a service-linked role: only its service changes it (0208)
    ├── LimitExceeded            a quota: two keys per user, five versions, attached policies
    ├── InvalidInput             a malformed name, path, duration, status…
    ├── MalformedPolicyDocument  a policy document that is not a JSON object
    ├── InvalidIdentityToken     a web identity token that cannot be validated (decision 0087)
    ├── ExpiredIdentityToken     a web identity token past its ``exp``
    ├── IdpCommunicationError    the token's issuer could not be reached for its keys
    ├── IdpRejectedClaim         a token whose claims are unusable (no ``sub``)
    ├── InvalidAuthenticationCode  a wrong, stale or replayed MFA code
    ├── PasswordPolicyViolation  a password the policy refuses
    ├── LoginFailed              wrong user, password or code (one error: no oracle)
    ├── LoginLocked              too many failures: retry after ``retry_after`` seconds
    └── InvalidConsoleSession    unknown, revoked, idle or expired console session
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from andromede.errors import AndromedeError

if TYPE_CHECKING:
    from andromede.iam.model import Principal


class IamError(AndromedeError):
    """Base of identity domain errors."""


class InvalidAccessKeyId(IamError):
    pass


class InvalidClientTokenId(InvalidAccessKeyId):
    pass


class ExpiredToken(InvalidAccessKeyId):
    """Temporary credentials used after their expiry. ``principal``: whom they acted as, so
    that an operator's expired access is audited in its tenant's log (decision 0107)."""

    def __init__(self, message: str, principal: Principal | None = None) -> None:
        super().__init__(message)
        self.principal = principal


class AccessDenied(IamError):
    pass


class TenantAlreadyExists(IamError):
    pass


class NoSuchTenant(IamError):
    pass


class InvalidTenantTransition(IamError):
    pass


class EntityAlreadyExists(IamError):
    pass


class NoSuchEntity(IamError):
    pass


class ConcurrentModification(IamError):
    """Another request changed the entity between this one's read and its write, again and
    again (IAM's ConcurrentModification): the caller tries again."""


class DeleteConflict(IamError):
    pass


class UnmodifiableEntity(IamError):
    """A change to a service-linked role, which only its service may make (decision 0208)."""


class LimitExceeded(IamError):
    pass


class InvalidInput(IamError):
    pass


class MalformedPolicyDocument(IamError):
    pass


class MalformedCertificate(IamError):
    """A server certificate, its chain or its private key that cannot be read, or expired."""


class KeyPairMismatch(IamError):
    """A server certificate whose public key is not its private key's."""


class PackedPolicyTooLarge(IamError):
    """AssumeRole's session policies exceed what a session carries (STS's own code)."""


class InvalidIdentityToken(IamError):
    pass


class ExpiredIdentityToken(IamError):
    pass


class IdpCommunicationError(IamError):
    pass


class IdpRejectedClaim(IamError):
    pass


class InvalidAuthenticationCode(IamError):
    pass


class PasswordPolicyViolation(IamError):
    pass


class ReportNotPresent(IamError):
    """GetCredentialReport before any GenerateCredentialReport (decision 0193)."""


class ReportExpired(IamError):
    """GetCredentialReport once the last report is older than its lifetime (decision 0193)."""


class LoginFailed(IamError):
    pass


class LoginLocked(IamError):
    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InvalidConsoleSession(IamError):
    pass
