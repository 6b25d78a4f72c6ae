"""Checksums against published check values, independent implementations and botocore."""

from __future__ import annotations

import base64
import hashlib
import itertools
import zlib

import crc32c as icrar_crc32c
import pytest
from botocore import httpchecksum
from hypothesis import given, settings
from hypothesis import strategies as st

from andromede.storage.checksums import (
    BodyHasher,
    InvalidChecksumValue,
    combine_full_object,
    composite_checksum,
    decode_checksum,
    default_checksum_type,
    digest_size,
    encode_digest,
    new_hasher,
    validate_checksum_type,
)
from andromede.storage.model import ChecksumAlgorithm, ChecksumType

ALL = list(ChecksumAlgorithm)
CRCS = [a for a in ChecksumAlgorithm if a.is_crc]


def _reference_crc(data: bytes, poly: int, width: int) -> int:
    """Bit-by-bit reflected CRC with all-ones init and xorout: the textbook definition, slow."""
    mask = (1 << width) - 1
    crc = mask
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
    return crc ^ mask


# Reflected polynomials (CRC-32/ISO-HDLC, CRC-32/ISCSI, CRC-64/NVME).
_REFERENCE = {
    ChecksumAlgorithm.CRC32: (0xEDB88320, 32),
    ChecksumAlgorithm.CRC32C: (0x82F63B78, 32),
    ChecksumAlgorithm.CRC64NVME: (0x9A6C9329AC4BC9B5, 64),
}


def _digest(algorithm: ChecksumAlgorithm, data: bytes) -> bytes:
    hasher = new_hasher(algorithm)
    hasher.update(data)
    return hasher.digest()


def _botocore(algorithm: ChecksumAlgorithm) -> httpchecksum.BaseChecksum:
    return {
        ChecksumAlgorithm.CRC32: httpchecksum.Crc32Checksum,
        ChecksumAlgorithm.CRC32C: httpchecksum.CrtCrc32cChecksum,
        ChecksumAlgorithm.CRC64NVME: httpchecksum.CrtCrc64NvmeChecksum,
        ChecksumAlgorithm.SHA1: httpchecksum.Sha1Checksum,
        ChecksumAlgorithm.SHA256: httpchecksum.Sha256Checksum,
        ChecksumAlgorithm.SHA512: httpchecksum.Sha512Checksum,
        ChecksumAlgorithm.MD5: _Md5Checksum,
        ChecksumAlgorithm.XXHASH64: httpchecksum.CrtXxhash64Checksum,
        ChecksumAlgorithm.XXHASH3: httpchecksum.CrtXxhash3Checksum,
        ChecksumAlgorithm.XXHASH128: httpchecksum.CrtXxhash128Checksum,
    }[algorithm]()


class _Md5Checksum(httpchecksum.BaseChecksum):
    """botocore sends MD5 checksums only as Content-MD5: the same digest, from hashlib."""

    def __init__(self) -> None:
        self._md5 = hashlib.md5(usedforsecurity=False)

    def update(self, chunk: bytes) -> None:
        self._md5.update(chunk)

    def digest(self) -> bytes:
        return self._md5.digest()


# The "check" values of the CRC catalogue (CRC of b"123456789") and FIPS 180 test vectors.
@pytest.mark.parametrize(
    ("algorithm", "expected_hex"),
    [
        (ChecksumAlgorithm.CRC32, "cbf43926"),
        (ChecksumAlgorithm.CRC32C, "e3069283"),
        (ChecksumAlgorithm.CRC64NVME, "ae8b14860a799888"),
        (ChecksumAlgorithm.SHA1, "f7c3bc1d808e04732adf679965ccc34ca7ae3441"),
        (
            ChecksumAlgorithm.SHA256,
            "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225",
        ),
    ],
)
def test_check_value_of_123456789(algorithm: ChecksumAlgorithm, expected_hex: str) -> None:
    assert _digest(algorithm, b"123456789").hex() == expected_hex


# Published vectors of "abc": FIPS 180-4 (SHA-512), RFC 1321 (MD5), and the xxHash
# reference implementation's (XXH64, XXH3 64 and 128 bits, seed 0), big-endian as S3 sends them.
@pytest.mark.parametrize(
    ("algorithm", "expected_hex"),
    [
        (
            ChecksumAlgorithm.SHA512,
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
            "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        ),
        (ChecksumAlgorithm.MD5, "900150983cd24fb0d6963f7d28e17f72"),
        (ChecksumAlgorithm.XXHASH64, "44bc2cf5ad770999"),
        (ChecksumAlgorithm.XXHASH3, "78af5f94892f3950"),
        (ChecksumAlgorithm.XXHASH128, "06b05ab6733a618578af5f94892f3950"),
    ],
)
def test_published_vectors_of_abc(algorithm: ChecksumAlgorithm, expected_hex: str) -> None:
    assert _digest(algorithm, b"abc").hex() == expected_hex


def test_known_crc32_of_hello_world() -> None:
    # zlib.crc32(b"hello world") == 0x0D4A1185; S3 shows it base64 encoded.
    digest = _digest(ChecksumAlgorithm.CRC32, b"hello world")
    assert digest == bytes.fromhex("0d4a1185")
    assert encode_digest(digest) == "DUoRhQ=="


@pytest.mark.parametrize("algorithm", ALL)
def test_empty_input_digests(algorithm: ChecksumAlgorithm) -> None:
    expected = {
        ChecksumAlgorithm.CRC32: bytes(4),
        ChecksumAlgorithm.CRC32C: bytes(4),
        ChecksumAlgorithm.CRC64NVME: bytes(8),
        ChecksumAlgorithm.SHA1: hashlib.sha1(b"", usedforsecurity=False).digest(),
        ChecksumAlgorithm.SHA256: hashlib.sha256(b"").digest(),
        ChecksumAlgorithm.SHA512: hashlib.sha512(b"").digest(),
        ChecksumAlgorithm.MD5: hashlib.md5(b"", usedforsecurity=False).digest(),
        ChecksumAlgorithm.XXHASH64: bytes.fromhex("ef46db3751d8e999"),
        ChecksumAlgorithm.XXHASH3: bytes.fromhex("2d06800538d394c2"),
        ChecksumAlgorithm.XXHASH128: bytes.fromhex("99aa06d3014798d86001c324468d497f"),
    }[algorithm]
    assert _digest(algorithm, b"") == expected
    assert len(expected) == digest_size(algorithm)


@settings(max_examples=60, deadline=None)
@given(algorithm=st.sampled_from(ALL), chunks=st.lists(st.binary(max_size=3000), max_size=6))
def test_matches_botocore_on_random_chunked_data(
    algorithm: ChecksumAlgorithm, chunks: list[bytes]
) -> None:
    ours = new_hasher(algorithm)
    theirs = _botocore(algorithm)
    for chunk in chunks:
        ours.update(memoryview(chunk))
        theirs.update(chunk)
    assert encode_digest(ours.digest()) == theirs.b64digest()


@settings(max_examples=40, deadline=None)
@given(algorithm=st.sampled_from(CRCS), data=st.binary(max_size=300))
def test_crcs_match_the_bitwise_definition(algorithm: ChecksumAlgorithm, data: bytes) -> None:
    # botocore's CRC32C/CRC64NVME come from awscrt like ours: this oracle shares no code.
    poly, width = _REFERENCE[algorithm]
    expected = _reference_crc(data, poly, width).to_bytes(width // 8, "big")
    assert _digest(algorithm, data) == expected


@settings(max_examples=30, deadline=None)
@given(data=st.binary(max_size=5000))
def test_crc32c_matches_the_crc32c_package(data: bytes) -> None:
    assert _digest(ChecksumAlgorithm.CRC32C, data) == icrar_crc32c.crc32c(data).to_bytes(4, "big")


@settings(max_examples=60, deadline=None)
@given(
    algorithm=st.sampled_from(CRCS),
    data=st.binary(max_size=4000),
    cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=5),
)
def test_combine_full_object_equals_checksum_of_concatenation(
    algorithm: ChecksumAlgorithm, data: bytes, cuts: list[int]
) -> None:
    bounds = sorted({0, len(data), *(c for c in cuts if c <= len(data))})
    pieces = [data[a:b] for a, b in itertools.pairwise(bounds)]
    pieces.insert(len(pieces) // 2, b"")  # a zero-length part must not disturb the result
    parts = [(_digest(algorithm, p), len(p)) for p in pieces]
    assert combine_full_object(algorithm, parts) == _digest(algorithm, data)


@pytest.mark.parametrize("algorithm", CRCS)
def test_combine_of_no_parts_is_the_empty_crc(algorithm: ChecksumAlgorithm) -> None:
    assert combine_full_object(algorithm, []) == _digest(algorithm, b"")


@pytest.mark.parametrize("algorithm", [a for a in ChecksumAlgorithm if not a.is_crc])
def test_combine_refuses_hashes(algorithm: ChecksumAlgorithm) -> None:
    with pytest.raises(ValueError, match="FULL_OBJECT checksum type cannot be used"):
        combine_full_object(algorithm, [(_digest(algorithm, b"a"), 1)])


def test_combine_refuses_a_digest_of_the_wrong_size() -> None:
    with pytest.raises(ValueError, match="4 bytes"):
        combine_full_object(ChecksumAlgorithm.CRC32, [(bytes(8), 3)])


def test_composite_checksum_by_hand() -> None:
    parts = [b"part one", b"part two", b"three"]
    digests = [hashlib.sha256(p).digest() for p in parts]
    expected = base64.b64encode(hashlib.sha256(b"".join(digests)).digest()).decode() + "-3"
    assert composite_checksum(ChecksumAlgorithm.SHA256, digests) == expected


def test_composite_crc32_by_hand() -> None:
    digests = [zlib.crc32(p).to_bytes(4, "big") for p in (b"a" * 10, b"b" * 7)]
    expected = base64.b64encode(zlib.crc32(b"".join(digests)).to_bytes(4, "big")).decode()
    assert composite_checksum(ChecksumAlgorithm.CRC32, digests) == f"{expected}-2"


@pytest.mark.parametrize("algorithm", ALL)
def test_decode_round_trips(algorithm: ChecksumAlgorithm) -> None:
    digest = _digest(algorithm, b"payload")
    assert decode_checksum(algorithm, encode_digest(digest)) == digest


@pytest.mark.parametrize(
    ("algorithm", "value"),
    [
        (ChecksumAlgorithm.CRC32, "AAAAAAAAAAA="),  # 8 bytes for a 4-byte digest
        (ChecksumAlgorithm.CRC32, "AAA="),  # 2 bytes
        (ChecksumAlgorithm.CRC64NVME, "AAAAAA=="),  # 4 bytes for an 8-byte digest
        (ChecksumAlgorithm.SHA256, "DUoRhQ=="),
        (ChecksumAlgorithm.CRC32, "DUoR hQ=="),  # not strict base64
        (ChecksumAlgorithm.CRC32, "DUoRhQ"),  # missing padding
        (ChecksumAlgorithm.CRC32, "DUoRhQ==="),
        (ChecksumAlgorithm.CRC32, "!!!!!!=="),
        (ChecksumAlgorithm.CRC32, ""),
        (ChecksumAlgorithm.CRC32, "DUoRhé=="),  # non-ASCII
    ],
)
def test_decode_rejects_bad_values(algorithm: ChecksumAlgorithm, value: str) -> None:
    with pytest.raises(InvalidChecksumValue) as caught:
        decode_checksum(algorithm, value)
    assert str(caught.value) == f"Value for {algorithm.header} header is invalid."


@settings(max_examples=40, deadline=None)
@given(
    algorithm=st.none() | st.sampled_from(ALL),
    chunks=st.lists(st.binary(max_size=5000), max_size=6),
)
def test_body_hasher(algorithm: ChecksumAlgorithm | None, chunks: list[bytes]) -> None:
    hasher = BodyHasher(algorithm)
    for chunk in chunks:
        hasher.update(memoryview(chunk))
    body = b"".join(chunks)
    assert hasher.size == len(body)
    assert hasher.md5_hex() == hashlib.md5(body, usedforsecurity=False).hexdigest()
    assert hasher.md5_digest() == hashlib.md5(body, usedforsecurity=False).digest()
    if algorithm is None:
        assert hasher.checksum_digest() is None
    else:
        assert hasher.checksum_digest() == _digest(algorithm, body)


def test_default_checksum_types() -> None:
    assert default_checksum_type(ChecksumAlgorithm.CRC64NVME) is ChecksumType.FULL_OBJECT
    for algorithm in ChecksumAlgorithm:
        if algorithm is not ChecksumAlgorithm.CRC64NVME:
            assert default_checksum_type(algorithm) is ChecksumType.COMPOSITE


@pytest.mark.parametrize(
    ("algorithm", "checksum_type", "message"),
    [
        (ChecksumAlgorithm.CRC32, ChecksumType.FULL_OBJECT, None),
        (ChecksumAlgorithm.CRC32, ChecksumType.COMPOSITE, None),
        (ChecksumAlgorithm.CRC32C, ChecksumType.FULL_OBJECT, None),
        (ChecksumAlgorithm.CRC32C, ChecksumType.COMPOSITE, None),
        (ChecksumAlgorithm.CRC64NVME, ChecksumType.FULL_OBJECT, None),
        (
            ChecksumAlgorithm.CRC64NVME,
            ChecksumType.COMPOSITE,
            "The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm.",
        ),
        (ChecksumAlgorithm.SHA1, ChecksumType.COMPOSITE, None),
        (
            ChecksumAlgorithm.SHA1,
            ChecksumType.FULL_OBJECT,
            "The FULL_OBJECT checksum type cannot be used with the sha1 checksum algorithm.",
        ),
        (ChecksumAlgorithm.SHA256, ChecksumType.COMPOSITE, None),
        (
            ChecksumAlgorithm.SHA256,
            ChecksumType.FULL_OBJECT,
            "The FULL_OBJECT checksum type cannot be used with the sha256 checksum algorithm.",
        ),
        (ChecksumAlgorithm.XXHASH3, ChecksumType.COMPOSITE, None),
        (
            ChecksumAlgorithm.XXHASH3,
            ChecksumType.FULL_OBJECT,
            "The FULL_OBJECT checksum type cannot be used with the xxhash3 checksum algorithm.",
        ),
        (ChecksumAlgorithm.MD5, ChecksumType.COMPOSITE, None),
        (
            ChecksumAlgorithm.MD5,
            ChecksumType.FULL_OBJECT,
            "The FULL_OBJECT checksum type cannot be used with the md5 checksum algorithm.",
        ),
    ],
)
def test_validate_checksum_type(
    algorithm: ChecksumAlgorithm, checksum_type: ChecksumType, message: str | None
) -> None:
    if message is None:
        validate_checksum_type(algorithm, checksum_type)
    else:
        with pytest.raises(ValueError) as caught:
            validate_checksum_type(algorithm, checksum_type)
        assert str(caught.value) == message
