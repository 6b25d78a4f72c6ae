"""Integrity checksums of object bodies: the MD5 behind the ETag and S3's additional checksums.

Pure computation, no I/O. This module owns how each :class:`ChecksumAlgorithm` is computed and
encoded the way AWS encodes it (base64 of the big-endian digest), how a multipart object's
checksum is derived from its parts (``FULL_OBJECT`` by CRC combination, ``COMPOSITE`` by hashing
the part digests), and :class:`BodyHasher`, the one-pass hasher that every PUT streams through.

CRC32 comes from :mod:`zlib` (faster than awscrt's on this platform); CRC32C and CRC64NVME from
``awscrt.checksums``, the same C library the AWS SDKs use, which also provides the CRC combination
functions; SHA1, SHA256, SHA512 and MD5 from :mod:`hashlib`; XXHASH64 (XXH64), XXHASH3 (XXH3,
64 bits) and XXHASH128 (XXH3, 128 bits) from awscrt's ``XXHash``, as botocore computes them.
Only the CRCs combine, so only they give a ``FULL_OBJECT`` multipart checksum.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import zlib
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from awscrt import checksums as _crt_module

from andromede.storage.model import ChecksumAlgorithm, ChecksumType

__all__ = [
    "BodyHasher",
    "Hasher",
    "InvalidChecksumValue",
    "algorithm_of_header",
    "combine_full_object",
    "composite_checksum",
    "decode_checksum",
    "default_checksum_type",
    "digest_size",
    "encode_digest",
    "new_hasher",
    "validate_checksum_type",
]

_ALGORITHMS_BY_HEADER: dict[str, ChecksumAlgorithm] = {alg.header: alg for alg in ChecksumAlgorithm}


class Hasher(Protocol):
    """A running hash: feed bytes with :meth:`update`, read the digest with :meth:`digest`."""

    def update(self, data: bytes | memoryview, /) -> None: ...

    def digest(self) -> bytes: ...


class InvalidChecksumValue(ValueError):
    """A client-supplied checksum is not base64 of a digest of the algorithm's size.

    The S3 layer answers ``InvalidRequest`` ("Value for x-amz-checksum-crc32 header is invalid.").
    """

    def __init__(self, algorithm: ChecksumAlgorithm, value: str) -> None:
        super().__init__(f"Value for {algorithm.header} header is invalid.")
        self.algorithm = algorithm
        self.value = value


_CrcFunction = Callable[[bytes | memoryview, int], int]
_CrcCombine = Callable[[int, int, int], int]

# Digest width in bytes, per algorithm.
_DIGEST_SIZES: dict[ChecksumAlgorithm, int] = {
    ChecksumAlgorithm.CRC32: 4,
    ChecksumAlgorithm.CRC32C: 4,
    ChecksumAlgorithm.CRC64NVME: 8,
    ChecksumAlgorithm.SHA1: 20,
    ChecksumAlgorithm.SHA256: 32,
    ChecksumAlgorithm.SHA512: 64,
    ChecksumAlgorithm.MD5: 16,
    ChecksumAlgorithm.XXHASH64: 8,
    ChecksumAlgorithm.XXHASH3: 8,
    ChecksumAlgorithm.XXHASH128: 16,
}


@functools.cache
def _crt() -> ModuleType:
    """awscrt's checksums, imported on first use: its native library took 0.1 to 0.2 s of every
    start of the server (decision 0115), and only the algorithms a client names need it."""
    from awscrt import checksums

    return checksums  # type: ignore[no-any-return]  # awscrt has no type hints: Any to mypy


def _xxhash(algorithm: ChecksumAlgorithm) -> _crt_module.XXHash | None:
    """A new xxHash of ``algorithm`` from awscrt (seed 0, digests big-endian as the SDKs send
    them); None for an algorithm of another family."""
    name = _XXHASH_CONSTRUCTORS.get(algorithm)
    return None if name is None else getattr(_crt().XXHash, name)()


_XXHASH_CONSTRUCTORS = {
    ChecksumAlgorithm.XXHASH64: "new_xxhash64",
    ChecksumAlgorithm.XXHASH3: "new_xxhash3_64",
    ChecksumAlgorithm.XXHASH128: "new_xxhash3_128",
}


def _crc_function(algorithm: ChecksumAlgorithm) -> _CrcFunction:
    if algorithm is ChecksumAlgorithm.CRC32:
        return zlib.crc32
    return {  # type: ignore[no-any-return]
        ChecksumAlgorithm.CRC32C: _crt().crc32c,
        ChecksumAlgorithm.CRC64NVME: _crt().crc64nvme,
    }[algorithm]


def _crc_combine(algorithm: ChecksumAlgorithm) -> _CrcCombine | None:
    """awscrt's CRC32 is the same polynomial (ISO-HDLC) as zlib's, so its combine applies to
    both; None for the hashes that cannot be combined."""
    name = _CRC_COMBINE_NAMES.get(algorithm)
    return None if name is None else getattr(_crt(), name)


_CRC_COMBINE_NAMES = {
    ChecksumAlgorithm.CRC32: "combine_crc32",
    ChecksumAlgorithm.CRC32C: "combine_crc32c",
    ChecksumAlgorithm.CRC64NVME: "combine_crc64nvme",
}


class _CrcHasher:
    """A running CRC kept as an int; the digest is its big-endian bytes, as AWS sends them."""

    __slots__ = ("_crc", "_function", "_size")

    def __init__(self, function: _CrcFunction, size: int) -> None:
        self._function = function
        self._size = size
        self._crc = 0

    def update(self, data: bytes | memoryview, /) -> None:
        self._crc = self._function(data, self._crc)

    def digest(self) -> bytes:
        return self._crc.to_bytes(self._size, "big")


class _XxHasher:
    """awscrt's xxHash behind :class:`Hasher` (its digest is ``finalize``)."""

    __slots__ = ("_state",)

    def __init__(self, state: _crt_module.XXHash) -> None:
        self._state = state

    def update(self, data: bytes | memoryview, /) -> None:
        # awscrt takes bytes only (not a memoryview): a copy, on the path of a client that
        # chose xxHash only.
        self._state.update(data if isinstance(data, bytes) else bytes(data))

    def digest(self) -> bytes:
        return bytes(self._state.finalize())


def algorithm_of_header(name: str) -> ChecksumAlgorithm | None:
    """The algorithm an ``x-amz-checksum-<algorithm>`` header (or ``x-amz-trailer``'s value)
    names, None for any other name; case and surrounding blanks ignored."""
    return _ALGORITHMS_BY_HEADER.get(name.strip().lower())


def digest_size(algorithm: ChecksumAlgorithm) -> int:
    """Size in bytes of a digest of ``algorithm`` (4 for CRC32, 32 for SHA256…)."""
    return _DIGEST_SIZES[algorithm]


def new_hasher(algorithm: ChecksumAlgorithm) -> Hasher:
    """A fresh running hash for ``algorithm``."""
    if algorithm is ChecksumAlgorithm.SHA1:
        # Integrity check requested by the client, not a security primitive.
        return hashlib.sha1(usedforsecurity=False)
    if algorithm is ChecksumAlgorithm.SHA256:
        return hashlib.sha256()
    if algorithm is ChecksumAlgorithm.SHA512:
        return hashlib.sha512()
    if algorithm is ChecksumAlgorithm.MD5:
        return hashlib.md5(usedforsecurity=False)  # the client's integrity check
    if (xxhash := _xxhash(algorithm)) is not None:
        return _XxHasher(xxhash)
    return _CrcHasher(_crc_function(algorithm), _DIGEST_SIZES[algorithm])


def encode_digest(digest: bytes) -> str:
    """The wire form of a digest: standard base64 with padding."""
    return base64.b64encode(digest).decode("ascii")


def decode_checksum(algorithm: ChecksumAlgorithm, value: str) -> bytes:
    """Decode a client's ``x-amz-checksum-*`` value into digest bytes, checking its shape.

    Raises :class:`InvalidChecksumValue` if ``value`` is not strict base64 or does not decode to
    exactly the algorithm's digest size.
    """
    try:
        digest = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise InvalidChecksumValue(algorithm, value) from exc
    if len(digest) != _DIGEST_SIZES[algorithm]:
        raise InvalidChecksumValue(algorithm, value)
    return digest


def combine_full_object(algorithm: ChecksumAlgorithm, parts: Sequence[tuple[bytes, int]]) -> bytes:
    """The CRC of the concatenated parts, from each part's CRC digest and byte length.

    This is how a ``FULL_OBJECT`` multipart checksum is obtained without re-reading the data.
    Raises ``ValueError`` for the hashes (SHA, MD5, xxHash): they cannot be combined, and AWS
    allows ``FULL_OBJECT`` on multipart uploads only for the CRC family.
    """
    combine = _crc_combine(algorithm)
    if combine is None:
        raise ValueError(
            f"The FULL_OBJECT checksum type cannot be used with the "
            f"{algorithm.value.lower()} checksum algorithm."
        )
    size = _DIGEST_SIZES[algorithm]
    crc = 0  # the CRC of no bytes, so that an empty part list gives the empty object's CRC
    for digest, length in parts:
        if len(digest) != size:
            raise ValueError(f"a {algorithm.value} digest has {size} bytes, not {len(digest)}")
        crc = combine(crc, int.from_bytes(digest, "big"), length)
    return crc.to_bytes(size, "big")


def composite_checksum(algorithm: ChecksumAlgorithm, part_digests: Sequence[bytes]) -> str:
    """AWS's ``COMPOSITE`` multipart checksum: ``base64(hash(d1 || d2 || …)) + "-N"``."""
    hasher = new_hasher(algorithm)
    for digest in part_digests:
        hasher.update(digest)
    return f"{encode_digest(hasher.digest())}-{len(part_digests)}"


def default_checksum_type(algorithm: ChecksumAlgorithm) -> ChecksumType:
    """The multipart checksum type AWS uses when a client names only the algorithm."""
    if algorithm is ChecksumAlgorithm.CRC64NVME:
        return ChecksumType.FULL_OBJECT
    return ChecksumType.COMPOSITE


def validate_checksum_type(algorithm: ChecksumAlgorithm, checksum_type: ChecksumType) -> None:
    """Refuse the combinations AWS refuses, with AWS's message (an ``InvalidRequest``).

    Hash digests (SHA, MD5, xxHash) cannot be combined, so no ``FULL_OBJECT``; CRC64NVME is
    ``FULL_OBJECT`` only.
    """
    if (not algorithm.is_crc and checksum_type is ChecksumType.FULL_OBJECT) or (
        algorithm is ChecksumAlgorithm.CRC64NVME and checksum_type is ChecksumType.COMPOSITE
    ):
        raise ValueError(
            f"The {checksum_type.value} checksum type cannot be used with the "
            f"{algorithm.value.lower()} checksum algorithm."
        )


class BodyHasher:
    """One pass over a body computing MD5 (for the ETag) and optionally one additional checksum,
    plus the byte count.

    Used on the hot path of every PUT: :meth:`update` is called once per chunk (64 KiB to 1 MiB),
    so it does only bound-method calls and one addition. ``data`` must be bytes or a byte-format
    memoryview (``len`` is then the byte count).
    """

    __slots__ = ("_extra", "_extra_update", "_md5", "_md5_update", "algorithm", "size")

    def __init__(self, algorithm: ChecksumAlgorithm | None) -> None:
        self.algorithm = algorithm
        self.size = 0
        # MD5 here is S3's ETag, an integrity tag, not a security primitive.
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._md5_update = self._md5.update
        self._extra: Hasher | None = None if algorithm is None else new_hasher(algorithm)
        self._extra_update = None if self._extra is None else self._extra.update

    def update(self, data: bytes | memoryview) -> None:
        self._md5_update(data)
        if self._extra_update is not None:
            self._extra_update(data)
        self.size += len(data)

    def md5_digest(self) -> bytes:
        return self._md5.digest()

    def md5_hex(self) -> str:
        return self._md5.hexdigest()

    def checksum_digest(self) -> bytes | None:
        """The additional checksum's digest, or None when no algorithm was asked for."""
        return None if self._extra is None else self._extra.digest()
