"""The signature a signed Lambda ZIP carries (decision 0386), as AWS Signer's signed artifact
carries its own: the signature travels inside the object, so the signed ZIP is the code
package Lambda is given, and anyone holding it can check it offline.

The ZIP's end-of-central-directory comment holds ``ANDROMEDE-SIGNER-1`` and a JSON envelope:
the SHA-384 digest of the ZIP as it was before signing (the same bytes with an empty
comment), the profile version's and job's ARNs, when it was signed and when the signature
expires, the profile's ECDSA P-384 public key (SubjectPublicKeyInfo DER) and the ECDSA
signature (DER, SHA-384) over the canonical JSON of every other member. Verifying with the
embedded key proves integrity; that the key is the profile version's is for the verifier to
check against the signing service (Lambda does, here). A ZIP that already has a comment is
refused for signing, as AWS Signer refuses a ZIP that already carries a signature.

Pure functions over bytes: no I/O, no clock."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import struct
from dataclasses import dataclass
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from andromede.signer.errors import InvalidSignerInput, SignatureInvalid

__all__ = [
    "MAGIC",
    "Envelope",
    "new_signing_key",
    "public_key_der",
    "read_envelope",
    "sign_zip",
    "verify_envelope",
]

MAGIC: Final = b"ANDROMEDE-SIGNER-1\n"
_EOCD: Final = b"PK\x05\x06"
_EOCD_SIZE: Final = 22
_MAX_COMMENT: Final = 0xFFFF


@dataclass(frozen=True, slots=True)
class Envelope:
    """What a signed ZIP says of its signature, and the bytes it was computed over."""

    digest: str  # SHA-384 of the unsigned ZIP, hex
    profile_version_arn: str
    job_arn: str
    signed_at: int  # epoch seconds
    expires_at: int
    public_key: bytes  # SubjectPublicKeyInfo DER
    signature: bytes  # ECDSA P-384 / SHA-384, DER
    unsigned: bytes  # the ZIP without its signature

    def statement(self) -> bytes:
        return _statement(
            self.digest, self.profile_version_arn, self.job_arn, self.signed_at, self.expires_at
        )


def new_signing_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


def public_key_der(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _statement(digest: str, version_arn: str, job_arn: str, signed: int, expires: int) -> bytes:
    return json.dumps(
        {
            "digest": digest,
            "expiresAt": expires,
            "jobArn": job_arn,
            "profileVersionArn": version_arn,
            "signedAt": signed,
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()


def _end_record(data: bytes) -> int | None:
    """Where the end-of-central-directory record starts: the last one whose comment runs
    exactly to the end of the file; None when the bytes are no ZIP."""
    start = len(data) - _EOCD_SIZE
    floor = max(0, start - _MAX_COMMENT)
    while start >= floor:
        found = data.rfind(_EOCD, floor, start + 4)
        if found < 0:
            return None
        (length,) = struct.unpack_from("<H", data, found + 20)
        if found + _EOCD_SIZE + length == len(data):
            return found
        start = found - 1
    return None


def _with_comment(data: bytes, end: int, comment: bytes) -> bytes:
    return data[: end + 20] + struct.pack("<H", len(comment)) + comment


def sign_zip(
    data: bytes,
    key: ec.EllipticCurvePrivateKey,
    *,
    profile_version_arn: str,
    job_arn: str,
    signed_at: int,
    expires_at: int,
) -> bytes:
    """The signed ZIP: ``data`` with the envelope in its comment. InvalidSignerInput when
    ``data`` is empty, no ZIP, or already carries a comment (a signature)."""
    end = _end_record(data)
    if not data or end is None:
        raise InvalidSignerInput("The object to sign is empty or not a ZIP file")
    if end + _EOCD_SIZE != len(data):
        raise InvalidSignerInput("The ZIP file already carries a signature or a comment")
    digest = hashlib.sha384(data).hexdigest()
    statement = _statement(digest, profile_version_arn, job_arn, signed_at, expires_at)
    signature = key.sign(statement, ec.ECDSA(hashes.SHA384()))
    envelope = {
        "digest": digest,
        "expiresAt": expires_at,
        "jobArn": job_arn,
        "profileVersionArn": profile_version_arn,
        "publicKey": base64.b64encode(public_key_der(key)).decode(),
        "signature": base64.b64encode(signature).decode(),
        "signedAt": signed_at,
    }
    comment = MAGIC + json.dumps(envelope, sort_keys=True, separators=(",", ":")).encode()
    return _with_comment(data, end, comment)


def read_envelope(data: bytes) -> Envelope | None:
    """The envelope a ZIP carries; None when it carries none (unsigned). SignatureInvalid
    when its comment starts as a signature but cannot be read as one."""
    end = _end_record(data)
    if end is None:
        return None
    comment = data[end + _EOCD_SIZE :]
    if not comment.startswith(MAGIC):
        return None
    try:
        fields: Any = json.loads(comment[len(MAGIC) :])
        envelope = Envelope(
            digest=_text(fields["digest"]),
            profile_version_arn=_text(fields["profileVersionArn"]),
            job_arn=_text(fields["jobArn"]),
            signed_at=_number(fields["signedAt"]),
            expires_at=_number(fields["expiresAt"]),
            public_key=base64.b64decode(_text(fields["publicKey"]), validate=True),
            signature=base64.b64decode(_text(fields["signature"]), validate=True),
            unsigned=_with_comment(data, end, b""),
        )
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise SignatureInvalid("The code package's signature cannot be read") from exc
    return envelope


def verify_envelope(envelope: Envelope) -> None:
    """Integrity: the unsigned bytes hash to the signed digest, and the signature over the
    statement verifies under the embedded P-384 key. SignatureInvalid otherwise."""
    actual = hashlib.sha384(envelope.unsigned).hexdigest()
    if actual != envelope.digest:
        raise SignatureInvalid("The code package was modified after it was signed")
    try:
        key = serialization.load_der_public_key(envelope.public_key)
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp384r1":
            raise SignatureInvalid("The signature's key is not an ECDSA P-384 key")
        key.verify(envelope.signature, envelope.statement(), ec.ECDSA(hashes.SHA384()))
    except (ValueError, InvalidSignature) as exc:
        raise SignatureInvalid("The code package's signature does not verify") from exc


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("a string was expected")
    return value


def _number(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("an integer was expected")
    return value
