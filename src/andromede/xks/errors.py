"""The XKS proxy's errors: one class per ``errorName`` of the spec's "Error codes" table.

The names are the wire vocabulary itself (the spec defines no other), so the domain raises them
directly; the HTTP status of each lives in one table, :data:`STATUS`, read only by the ASGI
adapter. ``message`` becomes the optional ``errorMessage``: printable ASCII, under 512
characters (:func:`safe_message` enforces it), never a secret, a plaintext or key material.
The tree::

    XksError
    ├── ValidationException            400  an input parameter is invalid
    ├── InvalidStateException          400  the key (or the proxy's token) is disabled or blocked
    ├── InvalidCiphertextException     400  ciphertext, IV, AAD or tag do not authenticate
    ├── InvalidKeyUsageException       400  the key does not do the operation
    ├── AuthenticationFailedException  401  SigV4 does not verify
    ├── AccessDeniedException          403  secondary authorization refuses requestMetadata
    ├── KeyNotFoundException           404  no key has the externalKeyId as its label
    ├── InvalidUriPathException        404  not a URI of the API under the configured prefix
    ├── ThrottlingException            429  too many requests in flight
    ├── UnsupportedOperationException  501  an operation or a size this proxy does not offer
    ├── DependencyTimeoutException     503  the token did not answer in time
    └── InternalException              500  the token failed, or anything unexpected
"""

from __future__ import annotations

from typing import ClassVar

from andromede.errors import AndromedeError

__all__ = [
    "STATUS",
    "AccessDeniedException",
    "AuthenticationFailedException",
    "DependencyTimeoutException",
    "InternalException",
    "InvalidCiphertextException",
    "InvalidKeyUsageException",
    "InvalidStateException",
    "InvalidUriPathException",
    "KeyNotFoundException",
    "ThrottlingException",
    "UnsupportedOperationException",
    "ValidationException",
    "XksError",
    "safe_message",
]

_MAX_MESSAGE = 511


def safe_message(text: str) -> str:
    """``text`` as an ``errorMessage`` may be: printable ASCII only, fewer than 512 characters."""
    printable = "".join(ch if " " <= ch <= "~" else "?" for ch in text)
    return printable[:_MAX_MESSAGE]


class XksError(AndromedeError):
    """An answer of the spec's error table; ``error_name`` is its ``errorName``."""

    error_name: ClassVar[str] = "InternalException"
    default_message: ClassVar[str] = "The request failed."

    def __init__(self, message: str | None = None, *, detail: str | None = None) -> None:
        self.message = safe_message(message or self.default_message)
        #: For the audit log only (which rule denied, which check failed); never sent.
        self.detail = detail
        super().__init__(f"{self.error_name}: {self.message}")


class ValidationException(XksError):
    error_name = "ValidationException"
    default_message = "One or more input parameters is invalid."


class InvalidStateException(XksError):
    error_name = "InvalidStateException"
    default_message = "The external key is disabled."


class InvalidCiphertextException(XksError):
    error_name = "InvalidCiphertextException"
    default_message = (
        "The ciphertext, initialization vector, additional authenticated data or "
        "authentication tag is corrupted, missing, or otherwise invalid."
    )


class InvalidKeyUsageException(XksError):
    error_name = "InvalidKeyUsageException"
    default_message = "The external key does not support the requested operation."


class AuthenticationFailedException(XksError):
    error_name = "AuthenticationFailedException"
    default_message = "The request signature could not be verified."


class AccessDeniedException(XksError):
    error_name = "AccessDeniedException"
    default_message = "The operation is not authorized for this request metadata."


class KeyNotFoundException(XksError):
    error_name = "KeyNotFoundException"
    default_message = "The external key was not found."


class InvalidUriPathException(XksError):
    error_name = "InvalidUriPathException"
    default_message = "The URI path is not valid."


class ThrottlingException(XksError):
    error_name = "ThrottlingException"
    default_message = "Too many requests; retry later."


class UnsupportedOperationException(XksError):
    error_name = "UnsupportedOperationException"
    default_message = "The operation or parameter size is not supported."


class DependencyTimeoutException(XksError):
    error_name = "DependencyTimeoutException"
    default_message = "The key manager did not answer in time."


class InternalException(XksError):
    error_name = "InternalException"
    default_message = "The key manager failed to process the request."


#: The spec's HTTP status of each ``errorName``.
STATUS: dict[str, int] = {
    ValidationException.error_name: 400,
    InvalidStateException.error_name: 400,
    InvalidCiphertextException.error_name: 400,
    InvalidKeyUsageException.error_name: 400,
    AuthenticationFailedException.error_name: 401,
    AccessDeniedException.error_name: 403,
    KeyNotFoundException.error_name: 404,
    InvalidUriPathException.error_name: 404,
    ThrottlingException.error_name: 429,
    UnsupportedOperationException.error_name: 501,
    DependencyTimeoutException.error_name: 503,
    InternalException.error_name: 500,
}
