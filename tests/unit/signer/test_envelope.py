"""The signature a signed Lambda ZIP carries (decision 0386): made over the ZIP's bytes, it
verifies offline with nothing but the envelope and a standard ECDSA P-384 verifier, the ZIP
still opens as the same code package, and any byte changed is refused."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from andromede.signer.envelope import (
    MAGIC,
    new_signing_key,
    read_envelope,
    sign_zip,
    verify_envelope,
)
from andromede.signer.errors import InvalidSignerInput, SignatureInvalid
from support.lambda_functions import handler_zip

VERSION_ARN = "arn:aws:signer:eu-fr-1:123456789012:/signing-profiles/ci/abcdefghij"
JOB_ARN = "arn:aws:signer:eu-fr-1:123456789012:/signing-jobs/job"


def _signed(data: bytes, key: ec.EllipticCurvePrivateKey | None = None) -> bytes:
    return sign_zip(
        data,
        key or new_signing_key(),
        profile_version_arn=VERSION_ARN,
        job_arn=JOB_ARN,
        signed_at=1_800_000_000,
        expires_at=1_900_000_000,
    )


def test_a_signed_zip_is_the_same_package_and_verifies() -> None:
    data = handler_zip()
    signed = _signed(data)
    with zipfile.ZipFile(io.BytesIO(signed)) as archive:
        assert archive.read("app.py") == zipfile.ZipFile(io.BytesIO(data)).read("app.py")
    envelope = read_envelope(signed)
    assert envelope is not None
    assert envelope.unsigned == data
    assert (envelope.profile_version_arn, envelope.job_arn) == (VERSION_ARN, JOB_ARN)
    verify_envelope(envelope)
    assert read_envelope(data) is None  # unsigned


def test_the_signature_verifies_offline_with_a_standard_verifier() -> None:
    data = handler_zip()
    signed = _signed(data)
    comment = zipfile.ZipFile(io.BytesIO(signed)).comment
    assert comment.startswith(MAGIC)
    fields = json.loads(comment[len(MAGIC) :])
    assert fields["digest"] == hashlib.sha384(data).hexdigest()
    statement = {k: fields[k] for k in fields if k not in ("publicKey", "signature")}
    key = serialization.load_der_public_key(base64.b64decode(fields["publicKey"]))
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp384r1"
    key.verify(
        base64.b64decode(fields["signature"]),
        json.dumps(statement, sort_keys=True, separators=(",", ":")).encode(),
        ec.ECDSA(hashes.SHA384()),
    )


@pytest.mark.parametrize("where", [0, 40, -200])
def test_a_byte_changed_is_refused(where: int) -> None:
    signed = bytearray(_signed(handler_zip()))
    signed[where] ^= 0x01
    with pytest.raises(SignatureInvalid):
        envelope = read_envelope(bytes(signed))
        assert envelope is not None
        verify_envelope(envelope)


def test_a_changed_expiry_is_refused() -> None:
    signed = _signed(handler_zip())
    forged = signed.replace(b'"expiresAt":1900000000', b'"expiresAt":1999999999')
    assert forged != signed and len(forged) == len(signed)
    envelope = read_envelope(forged)
    assert envelope is not None and envelope.expires_at == 1_999_999_999
    with pytest.raises(SignatureInvalid, match="does not verify"):
        verify_envelope(envelope)


def test_a_malformed_signature_is_refused() -> None:
    signed = _signed(handler_zip())
    broken = signed.replace(b'"signedAt":1800000000', b'"signedAt":"18000000"')
    with pytest.raises(SignatureInvalid, match="cannot be read"):
        read_envelope(broken)


def test_what_cannot_be_signed() -> None:
    key = new_signing_key()
    for data in (b"", b"not a zip at all"):
        with pytest.raises(InvalidSignerInput, match="not a ZIP"):
            _signed(data, key)
    with pytest.raises(InvalidSignerInput, match="already carries"):
        _signed(_signed(handler_zip(), key), key)
