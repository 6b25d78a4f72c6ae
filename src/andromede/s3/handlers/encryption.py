"""Server-side encryption on the wire: request headers, response headers, bucket defaults.

Every object is encrypted at rest (SSE-S3, ``AES256``) whatever the request says; a request may
ask for it explicitly, or send its own key (SSE-C, ``x-amz-server-side-encryption-customer-*``),
which needs TLS as on AWS, except from a loopback client or with ``allow_insecure_sse`` (tests).

SSE-KMS (``aws:kms``) needs customer-managed KMS keys. The hook is :class:`KmsKeyResolver`:
when the KMS API provides one (``S3Services.kms_keys``), key ids are checked through it; until
then ``aws:kms`` is answered 501 NotImplemented, never accepted silently.
Put/Get/DeleteBucketEncryption handle the bucket default (one rule; AES256 when none is set,
as AWS answers since every bucket has SSE-S3).
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Protocol

from andromede.http.response import Response
from andromede.s3.errors import S3Error
from andromede.s3.request import S3Context
from andromede.s3.xml import XmlWriter, child_text, children, parse_xml
from andromede.storage.encryption import CustomerKey, ObjectEncryption
from andromede.storage.model import Bucket, BucketEncryption, EncryptionMode, ObjectRecord

if TYPE_CHECKING:  # common.py imports this module for KmsKeyResolver
    from andromede.s3.handlers.common import S3Services

__all__ = [
    "KmsKeyResolver",
    "copy_source_customer_key",
    "delete_bucket_encryption",
    "encryption_response_headers",
    "get_bucket_encryption",
    "put_bucket_encryption",
    "read_customer_key",
    "record_encryption_headers",
    "write_encryption",
]

_SSE = "x-amz-server-side-encryption"
_CUSTOMER = "x-amz-server-side-encryption-customer-"
_COPY_CUSTOMER = "x-amz-copy-source-server-side-encryption-customer-"
_KMS_HEADERS = (
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-context",
)
_AES256 = EncryptionMode.SSE_S3.value
_KMS = "aws:kms"
_KMS_NOT_YET = "SSE-KMS needs customer-managed KMS keys, which this server does not have yet."


class KmsKeyResolver(Protocol):
    """The KMS API's view of a key id (ARN, key id or alias) for SSE-KMS: its ARN, or None
    when the tenant has no such usable key."""

    async def resolve(self, tenant_id: str, key_id: str) -> str | None: ...


def _kms_not_implemented(header: str = _SSE) -> S3Error:
    return S3Error("NotImplemented", _KMS_NOT_YET, Header=header)


def _require_secure(ctx: S3Context) -> None:
    if ctx.secure or ctx.settings.allow_insecure_sse:
        return
    try:
        loopback = ctx.source_ip is not None and ipaddress.ip_address(ctx.source_ip).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise S3Error(
            "InvalidRequest",
            "Requests specifying Server Side Encryption with Customer provided keys must be "
            "made over a secure connection.",
        )


def _customer_key(ctx: S3Context, prefix: str) -> CustomerKey | None:
    h = ctx.headers
    algorithm = h.get(prefix + "algorithm")
    key = h.get(prefix + "key")
    md5 = h.get(prefix + "key-md5")
    if algorithm is None and key is None and md5 is None:
        return None
    _require_secure(ctx)
    if algorithm is None or key is None:
        raise S3Error(
            "InvalidArgument",
            "Requests specifying Server Side Encryption with Customer provided keys must provide "
            "an appropriate secret key and algorithm.",
            ArgumentName=prefix + ("algorithm" if algorithm is None else "key"),
        )
    try:
        return CustomerKey.parse(algorithm.strip(), key.strip(), md5)
    except ValueError as exc:
        raise S3Error("InvalidArgument", str(exc), ArgumentName=prefix + "key") from exc


def read_customer_key(ctx: S3Context) -> CustomerKey | None:
    """The SSE-C key a GET/HEAD sent (checked against the object by the service)."""
    return _customer_key(ctx, _CUSTOMER)


def copy_source_customer_key(ctx: S3Context) -> CustomerKey | None:
    return _customer_key(ctx, _COPY_CUSTOMER)


def write_encryption(ctx: S3Context, bucket: Bucket) -> ObjectEncryption:
    """How a write (PUT, copy, CreateMultipartUpload, UploadPart) is encrypted."""
    for header in _KMS_HEADERS:
        if header in ctx.headers:
            raise _kms_not_implemented(header)
    customer = _customer_key(ctx, _CUSTOMER)
    requested = ctx.headers.get(_SSE)
    if requested is not None:
        requested = requested.strip()
        if customer is not None:
            raise S3Error(
                "InvalidArgument",
                "Server Side Encryption with Customer provided key is incompatible with the "
                "encryption method specified",
                ArgumentName=_SSE,
            )
        if requested == _KMS:
            raise _kms_not_implemented()
        if requested != _AES256:
            raise S3Error(
                "InvalidArgument",
                "The encryption method specified is not supported",
                ArgumentName=_SSE,
                ArgumentValue=requested[:64],
            )
    elif customer is None and bucket.encryption is not None:
        if bucket.encryption.algorithm == _KMS:  # never stored while the hook is empty
            raise _kms_not_implemented()
    return ObjectEncryption(tenant_id=bucket.tenant_id, customer_key=customer)


def encryption_response_headers(
    response: Response, mode: EncryptionMode, customer: CustomerKey | None
) -> None:
    """What AWS answers about an object's encryption: the algorithm, or SSE-C's key MD5."""
    if mode is EncryptionMode.SSE_C and customer is not None:
        response.header(_CUSTOMER + "algorithm", _AES256)
        response.header(_CUSTOMER + "key-md5", customer.md5)
    elif mode is EncryptionMode.SSE_S3:
        response.header(_SSE, _AES256)


def record_encryption_headers(
    response: Response, record: ObjectRecord, customer: CustomerKey | None
) -> None:
    encryption_response_headers(response, record.encryption, customer)


# -- bucket default encryption ---------------------------------------------------------------


async def get_bucket_encryption(ctx: S3Context, svc: S3Services) -> Response:
    bucket = await svc.objects.get_bucket(ctx.bucket)
    config = bucket.encryption or BucketEncryption()
    xml = XmlWriter("ServerSideEncryptionConfiguration")
    xml.open("Rule")
    xml.open("ApplyServerSideEncryptionByDefault")
    xml.element("SSEAlgorithm", config.algorithm)
    if config.kms_key_id is not None:
        xml.element("KMSMasterKeyID", config.kms_key_id)
    xml.close("ApplyServerSideEncryptionByDefault")
    xml.element("BucketKeyEnabled", config.bucket_key_enabled)
    xml.close("Rule")
    return Response(headers=[("Content-Type", "application/xml")], body=xml.document())


async def put_bucket_encryption(ctx: S3Context, svc: S3Services) -> Response:
    root = parse_xml(
        await ctx.read_xml_body(integrity_required=True), "ServerSideEncryptionConfiguration"
    )
    rules = children(root, "Rule")
    if len(rules) != 1:
        raise S3Error("MalformedXML")
    defaults = children(rules[0], "ApplyServerSideEncryptionByDefault")
    if len(defaults) != 1:
        raise S3Error("MalformedXML")
    algorithm = (child_text(defaults[0], "SSEAlgorithm") or "").strip()
    key_id = child_text(defaults[0], "KMSMasterKeyID")
    raw_bucket_key = (child_text(rules[0], "BucketKeyEnabled") or "false").strip().lower()
    if raw_bucket_key not in ("true", "false"):
        raise S3Error("MalformedXML")
    bucket = await svc.objects.get_bucket(ctx.bucket)
    if algorithm == _AES256:
        if key_id is not None:
            raise S3Error(
                "InvalidArgument",
                "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms",
            )
        config = BucketEncryption(_AES256, None, raw_bucket_key == "true")
    elif algorithm in (_KMS, "aws:kms:dsse"):
        resolver = svc.kms_keys
        if resolver is None:
            raise _kms_not_implemented()
        arn = None if key_id is None else await resolver.resolve(bucket.tenant_id, key_id.strip())
        if key_id is not None and arn is None:
            raise S3Error("KMS.NotFoundException", f"Invalid keyId {key_id.strip()[:256]}")
        config = BucketEncryption(algorithm, arn, raw_bucket_key == "true")
    else:
        raise S3Error("MalformedXML")
    await svc.objects.set_bucket_encryption(ctx.bucket, config)
    return Response()


async def delete_bucket_encryption(ctx: S3Context, svc: S3Services) -> Response:
    await svc.objects.set_bucket_encryption(ctx.bucket, None)
    return Response(status=204)
