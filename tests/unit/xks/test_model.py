"""The XKS API's pure core: URIs, request validation, the GCM AAD and the CDIV (Appendix C)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from andromede.xks.errors import (
    InvalidUriPathException,
    UnsupportedOperationException,
    ValidationException,
)
from andromede.xks.model import (
    Operation,
    cdiv,
    check_key_id,
    check_uri_path_prefix,
    gcm_aad,
    parse_body,
    parse_decrypt,
    parse_encrypt,
    parse_metadata_request,
    route,
)

METADATA = {
    "awsPrincipalArn": "arn:aws:iam::123456789012:user/Alice",
    "kmsKeyArn": "arn:aws:kms:us-east-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "kmsOperation": "Encrypt",
    "kmsRequestId": "4112f4d6-db54-4af4-ae30-c55a22a8dfae",
    "kmsViaService": "ebs",
}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def encrypt_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "requestMetadata": dict(METADATA),
        "plaintext": b64(b"Hello World!"),
        "encryptionAlgorithm": "AES_GCM",
    }
    body.update(changes)
    return {name: value for name, value in body.items() if value is not ...}


def decrypt_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "requestMetadata": {**METADATA, "kmsOperation": "Decrypt"},
        "ciphertext": b64(b"x" * 12),
        "encryptionAlgorithm": "AES_GCM",
        "initializationVector": b64(b"i" * 12),
        "authenticationTag": b64(b"t" * 16),
    }
    body.update(changes)
    return {name: value for name, value in body.items() if value is not ...}


# --------------------------------------------------------------------------- URIs


@pytest.mark.parametrize(
    ("path", "operation", "key_id"),
    [
        ("/kms/xks/v1/health", Operation.GET_HEALTH_STATUS, None),
        ("/kms/xks/v1/keys/k-1/metadata", Operation.GET_KEY_METADATA, "k-1"),
        ("/kms/xks/v1/keys/a.b_c/encrypt", Operation.ENCRYPT, "a.b_c"),
        ("/kms/xks/v1/keys/K/decrypt", Operation.DECRYPT, "K"),
    ],
)
def test_routes_without_prefix(path: str, operation: Operation, key_id: str | None) -> None:
    found = route(path, "")
    assert (found.operation, found.key_id) == (operation, key_id)


@pytest.mark.parametrize(
    "path",
    [
        "/kms/xks/v1",
        "/kms/xks/v1/",
        "/kms/xks/v2/health",
        "/tenant-b/kms/xks/v1/health",
        "/tenant-a/kms/xks/v1/health/",
        "/tenant-a/kms/xks/v1/keys//encrypt",
        "/tenant-a/kms/xks/v1/keys/k/sign",
        "/tenant-a/kms/xks/v1/keys/k/health",
        "/tenant-a/kms/xks/v1/keys/k/encrypt/more",
        "/tenant-a/invalid/kms/xks/v1/keys/k/encrypt",
        "/healthz",
    ],
)
def test_other_paths_are_invalid_uri_paths(path: str) -> None:
    with pytest.raises(InvalidUriPathException):
        route(path, "/tenant-a")


def test_uri_path_prefix_rules() -> None:
    assert check_uri_path_prefix("") == ""
    assert check_uri_path_prefix("/") == ""
    assert check_uri_path_prefix("tenant-a/") == "/tenant-a"
    assert check_uri_path_prefix("/a/b_c") == "/a/b_c"
    for bad in ("/a.b", "/a//b", "/a b", "/é"):
        with pytest.raises(ValueError, match="letters"):
            check_uri_path_prefix(bad)
    # XksProxyUriPath, prefix and /kms/xks/v1 together, is at most 128 characters.
    assert check_uri_path_prefix("/" + "a" * 116)
    with pytest.raises(ValueError, match="128"):
        check_uri_path_prefix("/" + "a" * 117)


def test_key_ids() -> None:
    assert check_key_id("a" * 128) == "a" * 128
    assert check_key_id("Key-1.v2_x") == "Key-1.v2_x"
    for bad in ("", "a" * 129, "a/b", "a:b", "a%2Fb", "é", ".", ".."):
        with pytest.raises(ValidationException):
            check_key_id(bad)


# --------------------------------------------------------------------------- bodies


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b"[]", b'"x"', b"\xff\xfe", b'{"a": 1, "a": 2}', b'{"a": NaN}'],
)
def test_a_body_must_be_one_json_object(raw: bytes) -> None:
    with pytest.raises(ValidationException):
        parse_body(raw)


def test_request_metadata_is_required_per_operation() -> None:
    with pytest.raises(ValidationException, match="requestMetadata"):
        parse_metadata_request({}, Operation.GET_KEY_METADATA)
    with pytest.raises(ValidationException, match="awsPrincipalArn"):
        parse_metadata_request({"requestMetadata": {}}, Operation.GET_KEY_METADATA)
    # kmsKeyArn is optional for GetKeyMetadata (KMS's CreateKey has no key ARN yet)...
    no_arn = {k: v for k, v in METADATA.items() if k != "kmsKeyArn"}
    assert parse_metadata_request({"requestMetadata": no_arn}, Operation.GET_KEY_METADATA)
    # ...and required for Encrypt and Decrypt.
    with pytest.raises(ValidationException, match="kmsKeyArn"):
        parse_encrypt(encrypt_body(requestMetadata=no_arn))
    with pytest.raises(ValidationException, match="kmsKeyArn"):
        parse_decrypt(decrypt_body(requestMetadata=no_arn))
    # GetHealthStatus needs only kmsRequestId and kmsOperation.
    health = parse_metadata_request(
        {"requestMetadata": {"kmsRequestId": "r", "kmsOperation": "KmsHealthCheck"}},
        Operation.GET_HEALTH_STATUS,
    )
    assert health.kms_operation == "KmsHealthCheck"
    with pytest.raises(ValidationException, match="kmsRequestId"):
        parse_metadata_request(
            {"requestMetadata": {"kmsOperation": "KmsHealthCheck"}}, Operation.GET_HEALTH_STATUS
        )


def test_opaque_fields_are_not_judged_and_new_metadata_fields_are_accepted() -> None:
    """kmsOperation may be any KMS API (the spec's MUST NOT reject), kmsRequestId is opaque,
    and Appendix B says KMS will add requestMetadata fields."""
    metadata = {
        **METADATA,
        "kmsOperation": "BulkEncrypt",
        "kmsRequestId": "not-a-uuid at all",
        "kmsRecipientAttestationImageSha384": "abc",
    }
    request = parse_encrypt(encrypt_body(requestMetadata=metadata))
    assert request.metadata.kms_operation == "BulkEncrypt"
    assert "kmsRecipientAttestationImageSha384" not in request.metadata.log_fields()


def test_arns_of_2048_characters_are_supported() -> None:
    arn = "arn:aws:iam::123456789012:role/" + "r" * (2048 - 31)
    assert len(arn) == 2048
    request = parse_encrypt(encrypt_body(requestMetadata={**METADATA, "awsPrincipalArn": arn}))
    assert request.metadata.aws_principal_arn == arn


@pytest.mark.parametrize(
    "changes",
    [
        {"plaintext": ...},
        {"plaintext": 12},
        {"plaintext": "SGVsbG8gV29ybGQ"},  # missing padding
        {"plaintext": "SGVsbG8-V29ybGQh"},  # URL-safe alphabet
        {"plaintext": "SGVsbG8g V29ybGQh"},
        {"encryptionAlgorithm": ...},
        {"encryptionAlgorithm": "AES_CBC"},
        {"encryptionAlgorithm": "aes_gcm"},
        {"additionalAuthenticatedData": "***"},
        {"additionalAuthenticatedData": ["a"]},
        {"ciphertextDataIntegrityValueAlgorithm": "SHA_512"},
        {"ciphertextMetadata": b64(b"m")},  # not an Encrypt parameter
        {"requestMetadata": "x"},
        {"requestMetadata": {**METADATA, "awsPrincipalArn": 5}},
    ],
)
def test_invalid_encrypt_requests(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationException):
        parse_encrypt(encrypt_body(**changes))


def test_encrypt_sizes() -> None:
    largest = parse_encrypt(
        encrypt_body(plaintext=b64(b"p" * 4300), additionalAuthenticatedData=b64(b"a" * 8192))
    )
    assert (len(largest.plaintext), len(largest.aad or b"")) == (4300, 8192)
    with pytest.raises(UnsupportedOperationException, match="plaintext"):
        parse_encrypt(encrypt_body(plaintext=b64(b"p" * 4301)))
    with pytest.raises(UnsupportedOperationException, match="additionalAuthenticatedData"):
        parse_encrypt(encrypt_body(additionalAuthenticatedData=b64(b"a" * 8193)))


def test_null_optional_members_are_absent() -> None:
    request = parse_encrypt(
        encrypt_body(additionalAuthenticatedData=None, ciphertextDataIntegrityValueAlgorithm=None)
    )
    assert request.aad is None and request.cdiv_algorithm is None
    assert "Hello" not in repr(request)  # no plaintext in a repr


@pytest.mark.parametrize(
    "changes",
    [
        {"ciphertext": ...},
        {"initializationVector": ...},
        {"initializationVector": b64(b"i" * 11)},
        {"initializationVector": b64(b"i" * 13)},
        {"authenticationTag": ...},
        {"authenticationTag": b64(b"t" * 12)},
        {"ciphertextMetadata": b64(b"m" * 21)},
        {"ciphertextMetadata": "!"},
        {"encryptionAlgorithm": "AES_GCM_256"},
        {"plaintext": b64(b"p")},  # not a Decrypt parameter
    ],
)
def test_invalid_decrypt_requests(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationException):
        parse_decrypt(decrypt_body(**changes))


def test_decrypt_accepts_the_spec_sizes() -> None:
    request = parse_decrypt(
        decrypt_body(
            ciphertext=b64(b"c" * 4300),
            initializationVector=b64(b"i" * 16),
            ciphertextMetadata=b64(b"m" * 20),
            additionalAuthenticatedData=b64(b"a" * 8192),
        )
    )
    assert (len(request.ciphertext), len(request.iv)) == (4300, 16)
    with pytest.raises(UnsupportedOperationException):
        parse_decrypt(decrypt_body(ciphertext=b64(b"c" * 4301)))


def test_the_spec_examples_parse() -> None:
    example = json.loads(
        """{"requestMetadata": {"awsPrincipalArn": "arn:aws:iam::123456789012:user/Alice",
        "kmsKeyArn": "arn:aws:kms:us-east-2:123456789012:/key/1234abcd",
        "kmsOperation": "Decrypt", "kmsRequestId": "5112f4d6", "kmsViaService": "ebs"},
        "additionalAuthenticatedData": "cHJvamVjdD1uaWxlLGRlcGFydG1lbnQ9bWFya2V0aW5n",
        "encryptionAlgorithm": "AES_GCM", "ciphertext": "ghxkK1txeDNn3q8Y",
        "ciphertextMetadata": "a2V5X3ZlcnNpb249MQ==", "initializationVector": "HMrlRw85cAJUd5Ax",
        "authenticationTag": "vBxN2ncH1oEkR8WVXpmyYQ=="}"""
    )
    request = parse_decrypt(example)
    assert request.aad == b"project=nile,department=marketing"
    assert request.ciphertext_metadata == b"key_version=1"


# --------------------------------------------------------------------------- cryptography


def test_gcm_aad_carries_both_lengths() -> None:
    assert gcm_aad(None, None) == b"\x00\x00\x00"
    assert gcm_aad(b"ab", None) == b"\x00\x02ab\x00"
    assert gcm_aad(None, b"m") == b"\x00\x00\x01m"
    assert gcm_aad(b"a" * 8192, b"m" * 20)[:2] == b"\x20\x00"
    # The spec's warning case: an AAD cannot pass for ciphertextMetadata or the reverse.
    assert gcm_aad(b"m", None) != gcm_aad(None, b"m")


def test_cdiv_of_appendix_c() -> None:
    """The spec's own example: 33 bytes of AAD, 13 of metadata, IV, ciphertext and tag."""
    value = cdiv(
        b"project=nile,department=marketing",
        b"key_version=1",
        base64.b64decode("HMrlRw85cAJUd5Ax"),
        base64.b64decode("ghxkK1txeDNn3q8Y"),
        base64.b64decode("vBxN2ncH1oEkR8WVXpmyYQ=="),
    )
    assert value == "qHA/ImC9h5HsLRXqCyPmWgYx7tzyoTplzILbP0fPXsc="
    assert base64.b64decode(value).hex() == (
        "a8703f2260bd8791ec2d15ea0b23e65a0631eedcf2a13a65cc82db3f47cf5ec7"
    )


def test_cdiv_absent_fields_are_empty() -> None:
    iv, ct, tag = b"i" * 12, b"c" * 5, b"t" * 16
    assert cdiv(None, None, iv, ct, tag) == cdiv(b"", b"", iv, ct, tag)
    assert cdiv(b"ab", None, iv, ct, tag) != cdiv(None, None, iv, ct, tag)
