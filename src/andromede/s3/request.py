"""The context a handler receives: the verified request, its decoded body, the services.

Only a :class:`S3Context` built after signature verification reaches a handler (the
``VerifiedRequest`` of the design). Its body is a stream of decoded payload bytes: aws-chunked
framing removed and each chunk signature checked, or the whole payload checked against
``x-amz-content-sha256``; a mismatch surfaces as an S3Error when the stream ends, before the
service commits anything.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

from andromede.http.chunked import AwsChunkedDecoder
from andromede.http.response import Receive
from andromede.http.sigv4 import SigningContext, SigV4Error
from andromede.iam.model import Principal
from andromede.s3.errors import S3Error
from andromede.s3.router import Route
from andromede.s3select.scan import Counters
from andromede.settings import Settings
from andromede.storage.checksums import (
    BodyHasher,
    InvalidChecksumValue,
    algorithm_of_header,
    decode_checksum,
)
from andromede.storage.integrity import BodyIntegrity, verify_body
from andromede.storage.model import Bucket, ChecksumAlgorithm, ObjectLookup

__all__ = ["ClientDisconnected", "S3Context"]

_STREAMING_MODES = frozenset(
    {
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",  # SigV4a (decision 0380)
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER",
    }
)
_ALGORITHMS_BY_HEADER = {alg.header: alg for alg in ChecksumAlgorithm}
# x-amz-checksum-* headers that name no checksum value.
_CHECKSUM_CONTROL_HEADERS = frozenset(
    {"x-amz-checksum-algorithm", "x-amz-checksum-type", "x-amz-checksum-mode"}
)


def reject_unknown_checksums(headers: Mapping[str, str]) -> None:
    """InvalidRequest for an ``x-amz-checksum-<algorithm>`` value of an algorithm S3 does not
    have: it would otherwise go unchecked, and the client would believe its bytes were
    verified."""
    for name in headers:
        if (
            name.startswith("x-amz-checksum-")
            and name not in _ALGORITHMS_BY_HEADER
            and name not in _CHECKSUM_CONTROL_HEADERS
        ):
            raise S3Error(
                "InvalidRequest",
                f"The checksum algorithm of {name[:64]} is not supported: use one of "
                + ", ".join(ChecksumAlgorithm),
            )


class ClientDisconnected(Exception):
    """The client went away before sending the whole body."""


@dataclass(slots=True)
class S3Context:
    request_id: str
    query: dict[str, str]
    headers: dict[str, str]
    route: Route
    principal: Principal
    payload_hash: str | None
    signing: SigningContext | None
    receive: Receive
    settings: Settings
    secure: bool
    # The addressed bucket as the authoriser read it (None: ListBuckets, CreateBucket).
    bucket_record: Bucket | None = None
    # GetObject and HeadObject: the object, read with the bucket in one query.
    object_lookup: ObjectLookup | None = None
    source_ip: str | None = None
    bytes_received: int = 0
    # Whether the caller, not the bucket owner, pays for this request (decision 0133): set by
    # the authorisation, and by the handlers that read a second bucket (a copy's source).
    requester_charged: bool = False
    # What the handler adds to the request's audit event (PutBucketReplication's regions).
    audit_details: dict[str, str] = field(default_factory=dict)
    # SelectObjectContent's byte counts, as its scan goes (request metrics and billing).
    select_counts: Counters | None = None

    @property
    def bucket(self) -> str:
        # The router gives every bucket- and object-scoped operation a bucket; "" never matches.
        return self.route.bucket or ""

    @property
    def key(self) -> str:
        return self.route.key or ""  # object-scoped operations always have a key

    # -- sizes ----------------------------------------------------------------------------------
    def declared_size(self) -> int:
        """The decoded payload length the client announced (411 MissingContentLength if none)."""
        streaming = self.payload_hash in _STREAMING_MODES
        name = "x-amz-decoded-content-length" if streaming else "content-length"
        value = self.headers.get(name)
        if value is None:
            if not streaming and "transfer-encoding" not in self.headers:
                return 0  # no body at all (HTTP/1.1: no length and not chunked)
            raise S3Error("MissingContentLength")
        if not value.isdigit():
            raise S3Error("InvalidArgument", f"Invalid {name}: {value[:64]}")
        return int(value)

    # -- body -----------------------------------------------------------------------------------
    async def _raw_body(self) -> AsyncIterator[bytes]:
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnected
            chunk = message.get("body", b"")
            if chunk:
                self.bytes_received += len(chunk)
                yield chunk
            if not message.get("more_body", False):
                return

    def body(self, integrity: BodyIntegrity | None = None) -> AsyncIterator[bytes]:
        """The decoded body. Trailing checksums land in ``integrity.checksum_value``."""
        mode = self.payload_hash or "UNSIGNED-PAYLOAD"
        if mode in _STREAMING_MODES:
            return self._decoded_chunked(mode, integrity)
        if mode == "UNSIGNED-PAYLOAD":
            return self._raw_body()
        return self._sha256_checked(mode)

    async def _decoded_chunked(
        self, mode: str, integrity: BodyIntegrity | None
    ) -> AsyncIterator[bytes]:
        signing = None if mode == "STREAMING-UNSIGNED-PAYLOAD-TRAILER" else self.signing
        declared = self.headers.get("x-amz-decoded-content-length", "")
        decoder = AwsChunkedDecoder(
            mode, signing, decoded_length=int(declared) if declared.isdigit() else None
        )
        try:
            async for chunk in decoder.decode(self._raw_body()):
                yield chunk
        except SigV4Error as exc:
            raise S3Error(exc.code, exc.message) from exc
        if integrity is not None and integrity.checksum_algorithm is not None:
            value = decoder.trailers.get(integrity.checksum_algorithm.header)
            if value is not None:
                _check_checksum_syntax(integrity.checksum_algorithm, value)
                integrity.checksum_value = value

    async def _sha256_checked(self, expected: str) -> AsyncIterator[bytes]:
        hasher = hashlib.sha256()
        async for chunk in self._raw_body():
            hasher.update(chunk)
            yield chunk
        if not hmac.compare_digest(hasher.hexdigest(), expected.lower()):
            raise S3Error("XAmzContentSHA256Mismatch")

    async def read_xml_body(self, *, integrity_required: bool = False) -> bytes:
        """A small request body (XML documents), bounded by ``max_xml_body_size``, checked
        against its Content-MD5 or ``x-amz-checksum-*`` when the client sent one.

        ``integrity_required``: the operation needs one of them, as DeleteObjects does on AWS.
        """
        limit = self.settings.max_xml_body_size
        declared = self.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise S3Error("MalformedXML", "Your request body is too large.")
        integrity = self.integrity()
        if (
            integrity_required
            and integrity.content_md5 is None
            and (integrity.checksum_algorithm is None)
        ):
            raise S3Error(
                "InvalidRequest",
                "Missing required header for this request: Content-MD5 or x-amz-checksum-*",
            )
        hasher = BodyHasher(integrity.checksum_algorithm)
        parts: list[bytes] = []
        total = 0
        async for chunk in self.body(integrity):
            total += len(chunk)
            if total > limit:
                raise S3Error("MalformedXML", "Your request body is too large.")
            hasher.update(chunk)
            parts.append(chunk)
        verify_body(hasher, integrity)
        return b"".join(parts)

    # -- integrity headers ------------------------------------------------------------------------
    def integrity(self, *, default_algorithm: ChecksumAlgorithm | None = None) -> BodyIntegrity:
        """Content-MD5 and the additional checksum the client sent or announced."""
        result = BodyIntegrity()
        md5 = self.headers.get("content-md5")
        if md5 is not None:
            try:
                digest = base64.b64decode(md5, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise S3Error("InvalidDigest") from exc
            if len(digest) != 16:
                raise S3Error("InvalidDigest")
            result.content_md5 = digest
        reject_unknown_checksums(self.headers)
        present = [alg for header, alg in _ALGORITHMS_BY_HEADER.items() if header in self.headers]
        if len(present) > 1:
            raise S3Error("InvalidRequest", "Expecting a single x-amz-checksum- header")
        trailer = self.headers.get("x-amz-trailer", "").strip().lower()
        if present:
            algorithm = present[0]
            value = self.headers[algorithm.header]
            _check_checksum_syntax(algorithm, value)
            result.checksum_algorithm, result.checksum_value = algorithm, value
        elif trailer:
            algorithm_for_trailer = algorithm_of_header(trailer)
            if algorithm_for_trailer is None:
                raise S3Error("InvalidRequest", f"Unsupported trailer {trailer[:64]}")
            result.checksum_algorithm = algorithm_for_trailer
        else:
            announced = self.headers.get("x-amz-sdk-checksum-algorithm")
            if announced is not None:
                result.checksum_algorithm = parse_checksum_algorithm(announced)
            else:
                result.checksum_algorithm = default_algorithm
        return result


def parse_checksum_algorithm(value: str) -> ChecksumAlgorithm:
    try:
        return ChecksumAlgorithm(value.strip().upper())
    except ValueError as exc:
        raise S3Error("InvalidRequest", "Checksum algorithm provided is unsupported.") from exc


def _check_checksum_syntax(algorithm: ChecksumAlgorithm, value: str) -> None:
    try:
        decode_checksum(algorithm, value)
    except InvalidChecksumValue as exc:
        raise S3Error("InvalidRequest", f"Value for {algorithm.header} header is invalid.") from exc
