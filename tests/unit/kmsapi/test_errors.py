"""The KMS wire errors: every domain error has its AWS type, and nothing else passes as one."""

from __future__ import annotations

import pytest

from andromede.errors import AndromedeError
from andromede.http.sigv4 import SigV4Error
from andromede.kms import keys_errors
from andromede.kms.errors import InvalidWrappedKey, KeyNotFound, ProviderError
from andromede.kmsapi.errors import CATALOGUE, KmsWireError, to_kms_error


@pytest.mark.parametrize(
    ("error", "error_type"),
    [
        (keys_errors.CmkNotFound("x"), "NotFoundException"),
        (keys_errors.InvalidKeyArn("x"), "InvalidArnException"),
        (keys_errors.CmkDisabled("x"), "DisabledException"),
        (keys_errors.CmkInvalidState("x"), "KMSInvalidStateException"),
        (keys_errors.InvalidCiphertext("x"), "InvalidCiphertextException"),
        (keys_errors.IncorrectKey("x"), "IncorrectKeyException"),
        (keys_errors.CmkAccessDenied("x"), "AccessDeniedException"),
        (keys_errors.AliasAlreadyExists("x"), "AlreadyExistsException"),
        (keys_errors.MalformedKeyPolicy("x"), "MalformedPolicyDocumentException"),
        (keys_errors.InvalidKeyParameter("x"), "ValidationException"),
        (InvalidWrappedKey("x"), "InvalidCiphertextException"),
        (ProviderError("token gone"), "KMSInternalException"),
    ],
)
def test_domain_errors_map_to_aws_types(error: AndromedeError, error_type: str) -> None:
    wire = to_kms_error(error)
    assert wire is not None and wire.error_type == error_type


def test_every_customer_key_error_is_mapped() -> None:
    for name in keys_errors.__all__:
        cls = getattr(keys_errors, name)
        if cls is keys_errors.CustomerKeyError:
            continue
        assert to_kms_error(cls("x")) is not None, name


def test_provider_failures_say_nothing_of_the_cause() -> None:
    wire = to_kms_error(ProviderError("/dev/hsm0 login failed for PIN 1234"))
    assert wire is not None and "1234" not in wire.message and wire.status == 500


def test_clock_skew_is_worded_for_botocore_to_correct() -> None:
    wire = to_kms_error(SigV4Error("RequestTimeTooSkewed", "too far"))
    assert wire is not None
    assert wire.error_type == "InvalidSignatureException"
    assert wire.message.startswith("Signature expired")


def test_unexpected_errors_are_not_mapped() -> None:
    assert to_kms_error(KeyNotFound("x", tenant_id="t")) is None
    assert to_kms_error(AndromedeError("x")) is None


def test_catalogue_statuses() -> None:
    assert all(status in (400, 413, 500) for status, _ in CATALOGUE.values())
    assert KmsWireError("NotFoundException").status == 400
