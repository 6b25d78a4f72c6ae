"""The Certificate Manager context's domain errors, with no HTTP in them; ``acmapi.errors``
maps each to ACM's error type.

::

    AcmError
    ├── CertificateNotFound   no such certificate for the account (ResourceNotFoundException)
    ├── InvalidArn            an ARN that cannot name a certificate (InvalidArnException)
    ├── ValidationFailed      a value ACM's checks refuse (ValidationException)
    │   └── InvalidCertificate    a certificate, chain or key ACM refuses
    ├── InvalidParameter      a parameter ACM refuses (InvalidParameterException)
    ├── InvalidTag            a tag ACM refuses (InvalidTagException)
    ├── TooManyTags           past the 50 tags of a certificate (TooManyTagsException)
    ├── CertificateInUse      still presented by a load balancer (ResourceInUseException)
    ├── LimitExceeded         the account's bound of certificates (LimitExceededException)
    └── Conflict              another request changed the certificate meanwhile (ConflictException)
"""

from __future__ import annotations

from andromede.errors import AndromedeError

__all__ = [
    "AcmError",
    "CertificateInUse",
    "CertificateNotFound",
    "Conflict",
    "InvalidArn",
    "InvalidCertificate",
    "InvalidParameter",
    "InvalidTag",
    "LimitExceeded",
    "TooManyTags",
    "ValidationFailed",
]


class AcmError(AndromedeError):
    """Root of the Certificate Manager context's errors."""


class CertificateNotFound(AcmError):
    pass


class InvalidArn(AcmError):
    pass


class ValidationFailed(AcmError):
    pass


class InvalidCertificate(ValidationFailed):
    pass


class InvalidParameter(AcmError):
    pass


class InvalidTag(AcmError):
    pass


class TooManyTags(AcmError):
    pass


class CertificateInUse(AcmError):
    pass


class LimitExceeded(AcmError):
    pass


class Conflict(AcmError):
    pass
