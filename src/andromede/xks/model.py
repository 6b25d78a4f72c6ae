"""The XKS proxy API's pure core: operations, URIs, request bodies, the AAD and the CDIV.

No I/O. Owns:

- :class:`Operation` and :func:`route`: which of the four operations a request path names under
  the configured ``[/<prefix>]/kms/xks/v1`` (``InvalidUriPathException`` otherwise);
- :func:`check_key_id` and :func:`check_uri_path_prefix`: the spec's character sets and lengths;
- the request bodies, parsed and validated into frozen values (:func:`parse_body`,
  :class:`RequestMetadata`, :class:`EncryptRequest`, :class:`DecryptRequest`): JSON objects
  with no duplicate member, strings where the spec says string, standard Base64 (RFC 4648 §4,
  padded, nothing else), the spec's lengths. What a request may carry that this proxy does not
  know is refused (``ValidationException``), except inside ``requestMetadata``, which Appendix B
  says AWS KMS will grow;
- :func:`gcm_aad`: the AAD given to AES-GCM in the token,
  ``len(aad) (2 bytes, big-endian) || aad || len(ciphertextMetadata) (1 byte) || metadata``
  (the spec's Encrypt section), so that an AAD can never pass for metadata or the reverse;
- :func:`cdiv`: the Ciphertext Data Integrity Value of Appendix C.

Sizes: the proxy accepts exactly the spec's minimum maxima (4300 bytes of plaintext or
ciphertext, 8192 of AAD); a longer value is ``UnsupportedOperationException``, the table's
answer for "a parameter value exceeded the maximum size currently supported".
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from andromede.xks.errors import (
    InvalidUriPathException,
    UnsupportedOperationException,
    ValidationException,
)

__all__ = [
    "AES_GCM",
    "API_ROOT",
    "CDIV_SHA_256",
    "IV_SIZES",
    "MAX_AAD",
    "MAX_CIPHERTEXT_METADATA",
    "MAX_DATA",
    "MAX_KEY_ID_LENGTH",
    "MAX_URI_PATH_LENGTH",
    "NONCE_SIZE",
    "TAG_SIZE",
    "DecryptRequest",
    "EncryptRequest",
    "Operation",
    "RequestMetadata",
    "Route",
    "cdiv",
    "check_key_id",
    "check_uri_path_prefix",
    "gcm_aad",
    "parse_body",
    "parse_decrypt",
    "parse_encrypt",
    "parse_metadata_request",
    "route",
]

API_ROOT = "/kms/xks/v1"
AES_GCM = "AES_GCM"
CDIV_SHA_256 = "SHA_256"
MAX_DATA = 4300  # plaintext and ciphertext, decoded
MAX_AAD = 8192
MAX_CIPHERTEXT_METADATA = 20
MAX_KEY_ID_LENGTH = 128
MAX_URI_PATH_LENGTH = 128  # XksProxyUriPath, prefix and /kms/xks/v1 together
NONCE_SIZE = 12  # what this proxy generates
IV_SIZES = (12, 16)  # what Decrypt accepts, as the spec allows
TAG_SIZE = 16

_KEY_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,128}")
_PREFIX_RE = re.compile(r"(/[A-Za-z0-9_-]+)*")
_BASE64_RE = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


class Operation(enum.Enum):
    """The four operations, by the last segment of their URI."""

    GET_KEY_METADATA = "metadata"
    ENCRYPT = "encrypt"
    DECRYPT = "decrypt"
    GET_HEALTH_STATUS = "health"

    @property
    def api_name(self) -> str:
        return _API_NAMES[self]


_API_NAMES = {
    Operation.GET_KEY_METADATA: "GetKeyMetadata",
    Operation.ENCRYPT: "Encrypt",
    Operation.DECRYPT: "Decrypt",
    Operation.GET_HEALTH_STATUS: "GetHealthStatus",
}


@dataclass(frozen=True, slots=True)
class Route:
    operation: Operation
    key_id: str | None  # the externalKeyId segment as sent (checked by check_key_id later)


def check_uri_path_prefix(prefix: str) -> str:
    """The configured prefix, normalised to ``""`` or ``/a/b`` (no trailing slash).

    ``XksProxyUriPath`` (prefix + ``/kms/xks/v1``) is at most 128 characters of
    ``a-z A-Z 0-9 / - _``."""
    normalised = "/" + prefix.strip("/") if prefix.strip("/") else ""
    if not _PREFIX_RE.fullmatch(normalised) or "//" in normalised:
        raise ValueError(
            "the URI path prefix may hold only letters, digits, '-', '_' and '/' between segments"
        )
    if len(normalised + API_ROOT) > MAX_URI_PATH_LENGTH:
        raise ValueError(
            f"the URI path ({normalised + API_ROOT}) is longer than {MAX_URI_PATH_LENGTH} "
            "characters"
        )
    return normalised


def route(raw_path: str, prefix: str) -> Route:
    """The operation a raw request path names under ``prefix`` (normalised by
    :func:`check_uri_path_prefix`); ``InvalidUriPathException`` for anything else."""
    root = prefix + API_ROOT
    if not raw_path.startswith(root + "/"):
        raise InvalidUriPathException()
    rest = raw_path[len(root) + 1 :]
    if rest == Operation.GET_HEALTH_STATUS.value:
        return Route(Operation.GET_HEALTH_STATUS, None)
    parts = rest.split("/")
    if len(parts) == 3 and parts[0] == "keys" and parts[1]:
        try:
            operation = Operation(parts[2])
        except ValueError:
            raise InvalidUriPathException() from None
        if operation is not Operation.GET_HEALTH_STATUS:
            return Route(operation, parts[1])
    raise InvalidUriPathException()


def check_key_id(key_id: str) -> str:
    """An externalKeyId: 1 to 128 of ``A-Z a-z 0-9 - . _``. Only dots (``.``, ``..``) are
    refused too: HTTP clients and SigV4 signers normalise such path segments away."""
    if not _KEY_ID_RE.fullmatch(key_id) or not key_id.strip("."):
        raise ValidationException(
            "The externalKeyId must be 1 to 128 characters of A-Z, a-z, 0-9, '-', '.' and '_'."
        )
    return key_id


# --------------------------------------------------------------------------- bodies


@dataclass(frozen=True, slots=True)
class RequestMetadata:
    """``requestMetadata``: the fields the spec names (others, which KMS may add, are kept
    out of this value and of the log)."""

    kms_request_id: str
    kms_operation: str
    aws_principal_arn: str | None = None
    kms_key_arn: str | None = None
    kms_via_service: str | None = None
    aws_source_vpc: str | None = None
    aws_source_vpce: str | None = None

    def log_fields(self) -> dict[str, str]:
        fields = {
            "kmsRequestId": self.kms_request_id,
            "kmsOperation": self.kms_operation,
            "awsPrincipalArn": self.aws_principal_arn,
            "kmsKeyArn": self.kms_key_arn,
            "kmsViaService": self.kms_via_service,
            "awsSourceVpc": self.aws_source_vpc,
            "awsSourceVpce": self.aws_source_vpce,
        }
        return {name: value for name, value in fields.items() if value is not None}


@dataclass(frozen=True, slots=True)
class EncryptRequest:
    metadata: RequestMetadata
    plaintext: bytes
    aad: bytes | None
    cdiv_algorithm: str | None

    def __repr__(self) -> str:  # never the plaintext
        size = len(self.plaintext)
        return f"EncryptRequest(metadata={self.metadata!r}, plaintext=<{size} bytes>)"


@dataclass(frozen=True, slots=True)
class DecryptRequest:
    metadata: RequestMetadata
    ciphertext: bytes
    ciphertext_metadata: bytes | None
    aad: bytes | None
    iv: bytes
    tag: bytes


def parse_body(body: bytes) -> dict[str, Any]:
    """The request body as a JSON object; ``ValidationException`` for anything else (invalid
    UTF-8 or JSON, another type at the top, a member given twice, NaN or Infinity)."""
    try:
        value = json.loads(
            body.decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_constant=_no_constant,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValidationException("The request body is not a valid JSON document.") from exc
    if not isinstance(value, dict):
        raise ValidationException("The request body must be a JSON object.")
    return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise ValueError(f"duplicate member {name!r}")
        result[name] = value
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_metadata_request(body: Mapping[str, Any], operation: Operation) -> RequestMetadata:
    """The body of GetKeyMetadata or GetHealthStatus: ``requestMetadata`` alone."""
    _only(body, {"requestMetadata"})
    return _request_metadata(body, operation)


def parse_encrypt(body: Mapping[str, Any]) -> EncryptRequest:
    _only(
        body,
        {"requestMetadata", "plaintext", "encryptionAlgorithm", "additionalAuthenticatedData",
         "ciphertextDataIntegrityValueAlgorithm"},
    )  # fmt: skip
    metadata = _request_metadata(body, Operation.ENCRYPT)
    plaintext = _required_base64(body, "plaintext", maximum=MAX_DATA)
    _algorithm(body)
    aad = _optional_base64(body, "additionalAuthenticatedData", maximum=MAX_AAD)
    cdiv_algorithm = _string(body, "ciphertextDataIntegrityValueAlgorithm", required=False)
    if cdiv_algorithm is not None and cdiv_algorithm != CDIV_SHA_256:
        raise ValidationException(f"ciphertextDataIntegrityValueAlgorithm must be {CDIV_SHA_256}.")
    return EncryptRequest(metadata, plaintext, aad, cdiv_algorithm)


def parse_decrypt(body: Mapping[str, Any]) -> DecryptRequest:
    _only(
        body,
        {"requestMetadata", "ciphertext", "ciphertextMetadata", "encryptionAlgorithm",
         "additionalAuthenticatedData", "initializationVector", "authenticationTag"},
    )  # fmt: skip
    metadata = _request_metadata(body, Operation.DECRYPT)
    ciphertext = _required_base64(body, "ciphertext", maximum=MAX_DATA)
    ciphertext_metadata = _optional_base64(body, "ciphertextMetadata", maximum=None)
    if ciphertext_metadata is not None and len(ciphertext_metadata) > MAX_CIPHERTEXT_METADATA:
        raise ValidationException(
            f"ciphertextMetadata must not exceed {MAX_CIPHERTEXT_METADATA} bytes."
        )
    _algorithm(body)
    aad = _optional_base64(body, "additionalAuthenticatedData", maximum=MAX_AAD)
    iv = _required_base64(body, "initializationVector", maximum=None)
    if len(iv) not in IV_SIZES:
        raise ValidationException("initializationVector must be 12 or 16 bytes.")
    tag = _required_base64(body, "authenticationTag", maximum=None)
    if len(tag) != TAG_SIZE:
        raise ValidationException(f"authenticationTag must be {TAG_SIZE} bytes.")
    return DecryptRequest(metadata, ciphertext, ciphertext_metadata, aad, iv, tag)


# Which requestMetadata fields each operation requires (the spec's REQUIRED).
_REQUIRED_METADATA: dict[Operation, tuple[str, ...]] = {
    Operation.GET_KEY_METADATA: ("awsPrincipalArn", "kmsOperation", "kmsRequestId"),
    Operation.ENCRYPT: ("awsPrincipalArn", "kmsKeyArn", "kmsOperation", "kmsRequestId"),
    Operation.DECRYPT: ("awsPrincipalArn", "kmsKeyArn", "kmsOperation", "kmsRequestId"),
    Operation.GET_HEALTH_STATUS: ("kmsOperation", "kmsRequestId"),
}
_OPTIONAL_METADATA = (
    "awsPrincipalArn", "kmsKeyArn", "kmsViaService", "awsSourceVpc", "awsSourceVpce",
)  # fmt: skip


def _request_metadata(body: Mapping[str, Any], operation: Operation) -> RequestMetadata:
    raw = body.get("requestMetadata")
    if not isinstance(raw, dict):
        raise ValidationException("requestMetadata is required and must be a JSON object.")
    required = _REQUIRED_METADATA[operation]
    values: dict[str, str | None] = {}
    for name in (*required, *_OPTIONAL_METADATA):
        if name in values:
            continue
        # kmsRequestId and kmsOperation are opaque: their presence and type are checked,
        # never their structure or value (the spec forbids rejecting an unknown kmsOperation).
        values[name] = _string(raw, name, required=name in required, where="requestMetadata.")
    return RequestMetadata(
        kms_request_id=values["kmsRequestId"] or "",
        kms_operation=values["kmsOperation"] or "",
        aws_principal_arn=values["awsPrincipalArn"],
        kms_key_arn=values["kmsKeyArn"],
        kms_via_service=values["kmsViaService"],
        aws_source_vpc=values["awsSourceVpc"],
        aws_source_vpce=values["awsSourceVpce"],
    )


def _only(body: Mapping[str, Any], known: set[str]) -> None:
    unknown = sorted(set(body) - known)
    if unknown:
        # A member this proxy does not know may change what the caller expects of the
        # operation; it is refused rather than ignored.
        raise ValidationException(f"Unknown parameter: {unknown[0][:64]}.")


def _string(body: Mapping[str, Any], name: str, *, required: bool, where: str = "") -> str | None:
    value = body.get(name)
    if value is None:  # absent, or null: both mean "not given"
        if required:
            raise ValidationException(f"{where}{name} is required.")
        return None
    if not isinstance(value, str):
        raise ValidationException(f"{where}{name} must be a string.")
    return value


def _algorithm(body: Mapping[str, Any]) -> None:
    if _string(body, "encryptionAlgorithm", required=True) != AES_GCM:
        raise ValidationException(f"encryptionAlgorithm must be {AES_GCM}.")


def _required_base64(body: Mapping[str, Any], name: str, *, maximum: int | None) -> bytes:
    text = _string(body, name, required=True)
    return _decode(text or "", name, maximum)


def _optional_base64(body: Mapping[str, Any], name: str, *, maximum: int | None) -> bytes | None:
    text = _string(body, name, required=False)
    return None if text is None else _decode(text, name, maximum)


def _decode(text: str, name: str, maximum: int | None) -> bytes:
    if maximum is not None and len(text) > _encoded_length(maximum):
        raise UnsupportedOperationException(f"{name} is longer than {maximum} bytes.")
    if not _BASE64_RE.fullmatch(text):
        raise ValidationException(f"{name} must be standard Base64 (RFC 4648, padded).")
    try:
        decoded = base64.b64decode(text, validate=True)
    except binascii.Error as exc:  # the pattern already rules this out
        raise ValidationException(f"{name} must be standard Base64.") from exc
    if maximum is not None and len(decoded) > maximum:
        raise UnsupportedOperationException(f"{name} is longer than {maximum} bytes.")
    return decoded


def _encoded_length(size: int) -> int:
    return 4 * ((size + 2) // 3)


# --------------------------------------------------------------------------- cryptography


def gcm_aad(aad: bytes | None, ciphertext_metadata: bytes | None) -> bytes:
    """The AAD given to AES-GCM in the token (the spec's Encrypt section): both lengths
    included, so that an AAD cannot be replayed as ciphertextMetadata or the reverse."""
    aad = aad or b""
    metadata = ciphertext_metadata or b""
    if len(aad) > 0xFFFF or len(metadata) > 0xFF:
        raise ValidationException("additionalAuthenticatedData or ciphertextMetadata is too long.")
    return len(aad).to_bytes(2, "big") + aad + len(metadata).to_bytes(1, "big") + metadata


def cdiv(
    aad: bytes | None,
    ciphertext_metadata: bytes | None,
    iv: bytes,
    ciphertext: bytes,
    tag: bytes,
) -> str:
    """Appendix C: Base64 of SHA-256 over AAD || ciphertextMetadata || IV || ciphertext || tag
    (absent fields are empty; no lengths, by the spec's design)."""
    digest = hashlib.sha256()
    for part in (aad or b"", ciphertext_metadata or b"", iv, ciphertext, tag):
        digest.update(part)
    return base64.b64encode(digest.digest()).decode("ascii")
