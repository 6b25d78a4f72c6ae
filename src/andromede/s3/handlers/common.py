"""What several handlers share: the services they use, request→ContentHeaders, record→headers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote_plus

from andromede.http.dates import http_date
from andromede.http.response import Response
from andromede.iam.model import Principal, canonical_id
from andromede.iam.policy import ContextValue
from andromede.s3.authorise import S3Authoriser, request_condition_keys, version_action
from andromede.s3.errors import S3Error
from andromede.s3.handlers.encryption import KmsKeyResolver
from andromede.s3.operations import S3Operation
from andromede.s3.request import S3Context
from andromede.s3.request_metrics import RequestMetricsHook
from andromede.s3.xml import XmlWriter, escape
from andromede.settings import Settings
from andromede.storage.access_log_delivery import AccessLogDelivery
from andromede.storage.access_points import AccessPointStore
from andromede.storage.errors import DeleteMarkerFound, NoSuchKey, NoSuchVersion
from andromede.storage.expiration_view import ExpirationView
from andromede.storage.model import (
    Bucket,
    Checksum,
    ContentHeaders,
    ObjectOwnership,
    ObjectRecord,
)
from andromede.storage.multi_region_access_points import (
    MultiRegionAccessPointStore,
    NearestRegion,
)
from andromede.storage.notification import EventSource
from andromede.storage.replication import ReplicationGrants, ReplicationStatus
from andromede.storage.replicator import Replicator
from andromede.storage.service import ObjectService

__all__ = [
    "NO_OBJECT_LOCK",
    "Handler",
    "S3Services",
    "checksum_headers",
    "content_headers_from_request",
    "encode_if",
    "encoding_type",
    "event_source",
    "object_response_headers",
    "owner_element",
    "parse_max",
    "reject_unsupported_headers",
    "tenant_owner_id",
    "website_redirect_from_request",
    "write_checksum_elements",
    "write_owner",
    "write_replication_status",
    "xml_response",
]


class AccessKeys(Protocol):
    """The identity service's access keys, as PostObject's signature check needs them."""

    async def resolve_access_key(
        self, access_key_id: str, session_token: str | None = None, *, allow_operator: bool = False
    ) -> tuple[str, Principal]: ...

    def note_access_key_use(self, access_key_id: str, service: str, region: str) -> None: ...


class NotificationTopics(Protocol):
    """The tenants' notification topics, as PutBucketNotificationConfiguration checks them
    (decision 0132)."""

    async def owns_topic(self, tenant_id: str, arn: str) -> bool: ...

    async def accepts_bucket_events(self, tenant_id: str, arn: str, bucket: str) -> bool:
        """Whether ``arn`` is a topic of ``tenant_id`` that lets S3 publish ``bucket``'s
        events: any without a ``Policy`` (as RGW), else one whose policy allows it (as AWS,
        decision 0163)."""

    async def send_test_events(
        self, tenant_id: str, bucket: str, topic_arns: Iterable[str], request_id: str
    ) -> int:
        """S3's ``s3:TestEvent`` to each topic of a configuration just accepted."""


class NotificationQueues(Protocol):
    """The tenants' SQS-style queues, as PutBucketNotificationConfiguration checks a
    ``QueueConfiguration`` (decision 0158)."""

    async def accepts_bucket_events(self, tenant_id: str, queue_arn: str, bucket: str) -> bool:
        """Whether ``queue_arn`` is a queue of ``tenant_id`` whose policy lets S3 send it the
        events of ``bucket``."""


class NotificationFunctions(Protocol):
    """The Lambda functions a ``CloudFunctionConfiguration`` may name (decision 0293)."""

    async def accepts(
        self, service: str, function_arn: str, *, source_arn: str, source_account: str
    ) -> bool:
        """Whether the function exists and its policy lets ``service`` invoke it for
        ``source_arn`` of ``source_account``."""
        ...


def event_source(ctx: S3Context, event_name: str) -> EventSource:
    """The request as its event notifications tell of it (decision 0132), with its trace
    header: a function writing to the bucket that triggers it is a loop (decision 0336)."""
    principal = ctx.principal
    return EventSource(
        event_name,
        "anonymous" if principal.is_anonymous else principal.arn,
        ctx.source_ip or "",
        ctx.request_id,
        ctx.headers.get("x-amzn-trace-id") or None,
    )


@dataclass(frozen=True, slots=True)
class S3Services:
    objects: ObjectService
    settings: Settings
    authoriser: S3Authoriser
    # SSE-KMS's hook: set once customer-managed KMS keys exist; None answers aws:kms with 501.
    kms_keys: KmsKeyResolver | None = None
    # The regions a tenant (by account id) may create buckets in; empty: every region.
    # None: no allow-lists (tests that build the app without identity).
    allowed_regions: Callable[[str], Awaitable[frozenset[str]]] | None = None
    # PostObject's signature check: the identity service's access keys (None: anonymous
    # forms only, for apps built without identity).
    access_keys: AccessKeys | None = None
    # Server access logging's delivery, told at once of PutBucketLogging (None: apps built
    # without it, whose logging configurations take effect at no delivery).
    access_logs: AccessLogDelivery | None = None
    # Which buckets' lifecycle rules expire objects, for x-amz-expiration, told at once of
    # Put/DeleteBucketLifecycleConfiguration and DeleteBucket (None: apps built without it,
    # which answer no x-amz-expiration).
    expirations: ExpirationView | None = None
    # Bucket replication's queue and statuses (decision 0112), told of each new version and
    # delete marker (None: apps built without it, which queue nothing).
    replicator: Replicator | None = None
    # Whether a configuration's role may copy into another tenant's bucket (decision 0112,
    # increment 4; None: replication stays within a tenant).
    replication_grants: ReplicationGrants | None = None
    # The notification topics a configuration may name (decision 0132; None: apps built
    # without them, which refuse any notification target as before).
    topics: NotificationTopics | None = None
    # S3 access points (decision 0157), whose aliases address their buckets (None: apps built
    # without them, where an alias is an unknown bucket name).
    access_points: AccessPointStore | None = None
    # S3 Multi-Region Access Points (decision 0385), whose global hosts reach one of their
    # buckets (None: apps built without them, where such a host answers NoSuchAccessPoint).
    multi_region_access_points: MultiRegionAccessPointStore | None = None
    # The Region nearest a client by the operator's client places (decision 0413; None: the
    # gateway's own Region stands for every client's nearest, decision 0385).
    nearest_region: NearestRegion | None = None
    # The queues a QueueConfiguration may name (decision 0158; None: refused as before).
    queues: NotificationQueues | None = None
    # CloudWatch request metrics (decision 0187), told at once of each configuration change
    # (None: apps built without them, whose configurations are kept but count nothing).
    request_metrics: RequestMetricsHook | None = None
    # The functions a CloudFunctionConfiguration may name (decision 0293; None: refused).
    functions: NotificationFunctions | None = None


Handler = Callable[[S3Context, S3Services], Awaitable[Response]]

_META_PREFIX = "x-amz-meta-"


def content_headers_from_request(
    ctx: S3Context, tags: tuple[tuple[str, str], ...] = ()
) -> ContentHeaders:
    h = ctx.headers
    metadata = {
        name[len(_META_PREFIX) :]: value
        for name, value in h.items()
        if name.startswith(_META_PREFIX)
    }
    encoding = h.get("content-encoding")
    if encoding is not None:
        # aws-chunked is transport framing, not a property of the object (AWS drops it too).
        kept = [e.strip() for e in encoding.split(",") if e.strip() and e.strip() != "aws-chunked"]
        encoding = ",".join(kept) or None
    return ContentHeaders(
        content_type=h.get("content-type") or "binary/octet-stream",
        content_encoding=encoding,
        content_disposition=h.get("content-disposition"),
        content_language=h.get("content-language"),
        cache_control=h.get("cache-control"),
        expires=h.get("expires"),
        user_metadata=metadata,
        tags=tags,
        website_redirect_location=website_redirect_from_request(ctx),
    )


# S3's bound on x-amz-website-redirect-location, and the forms it takes.
_REDIRECT_MAX_BYTES = 2048
_REDIRECT_PREFIXES = ("/", "http://", "https://")


def website_redirect_from_request(ctx: S3Context) -> str | None:
    """The object's website redirect (``x-amz-website-redirect-location``): a path in the
    bucket's website or an http(s) URL, at most 2 KiB (``InvalidRedirectLocation``)."""
    location = ctx.headers.get("x-amz-website-redirect-location")
    if location is None:
        return None
    if not location.startswith(_REDIRECT_PREFIXES) or len(location.encode()) > _REDIRECT_MAX_BYTES:
        raise S3Error("InvalidRedirectLocation")
    return location


def object_response_headers(
    response: Response, record: ObjectRecord, *, with_checksum: bool
) -> None:
    """The headers GET and HEAD return for an object (before any response-* override)."""
    headers = record.headers
    response.header("ETag", f'"{record.etag}"')
    response.header("Last-Modified", http_date(record.last_modified))
    response.header("Accept-Ranges", "bytes")
    response.header("Content-Type", headers.content_type)
    response.header("Content-Encoding", headers.content_encoding)
    response.header("Content-Disposition", headers.content_disposition)
    response.header("Content-Language", headers.content_language)
    response.header("Cache-Control", headers.cache_control)
    response.header("Expires", headers.expires)
    for name, value in headers.user_metadata.items():
        response.header(_META_PREFIX + name, value)
    if headers.tags:
        response.header("x-amz-tagging-count", str(len(headers.tags)))
    response.header("x-amz-website-redirect-location", headers.website_redirect_location)
    if record.parts_count is not None:
        response.header("x-amz-mp-parts-count", str(record.parts_count))
    if with_checksum and record.checksum is not None:
        checksum_headers(response, record.checksum)


def checksum_headers(response: Response, checksum: Checksum) -> None:
    response.header(checksum.algorithm.header, checksum.value)
    response.header("x-amz-checksum-type", checksum.type.value)


def write_checksum_elements(xml: XmlWriter, checksum: Checksum | None, *, with_type: bool) -> None:
    if checksum is None:
        return
    xml.element(f"Checksum{checksum.algorithm.value}", checksum.value)
    if with_type:
        xml.element("ChecksumType", checksum.type.value)


def owner_element(owner_id: str, tag: str = "Owner") -> str:
    name = escape(owner_id[:12])
    return f"<{tag}><ID>{escape(owner_id)}</ID><DisplayName>{name}</DisplayName></{tag}>"


def write_owner(xml: XmlWriter, owner_id: str, tag: str = "Owner") -> None:
    xml.raw(owner_element(owner_id, tag))


def xml_response(xml: XmlWriter, status: int = 200) -> Response:
    return Response(
        status=status, headers=[("Content-Type", "application/xml")], body=xml.document()
    )


def parse_max(ctx: S3Context, name: str, *, default: int, cap: int) -> int:
    raw = ctx.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise S3Error(
            "InvalidArgument", f"Provided {name} not an integer or within integer range"
        ) from exc
    if value < 0:
        raise S3Error(
            "InvalidArgument", f"Argument {name} must be an integer between 0 and 2147483647"
        )
    return min(value, cap)


def encoding_type(ctx: S3Context) -> bool:
    value = ctx.query.get("encoding-type")
    if value is None:
        return False
    if value.lower() != "url":
        raise S3Error("InvalidArgument", "Invalid Encoding Method specified in Request")
    return True


def encode_if(url: bool, value: str | None) -> str | None:
    """S3's ``encoding-type=url``: form-style encoding, '/' kept (what botocore decodes)."""
    if value is None or not url:
        return value
    return quote_plus(value, safe="/")


def tenant_owner_id(ctx: S3Context) -> str:
    tenant = ctx.principal.tenant_id
    if tenant is None:
        raise S3Error("AccessDenied")
    return canonical_id(tenant)


# Request headers that ask for something this server does not do yet. Accepting them silently
# would claim appends that do not exist; S3's answer is NotImplemented ("A header you provided
# implies functionality that is not implemented").
_UNSUPPORTED_HEADER_PREFIXES = (
    "x-amz-write-offset-bytes",  # appending to an object (S3 Express directory buckets)
)
# Object Lock's headers: S3's answer to them in a bucket without Object Lock is this (decision
# 0083); the writes that take them (PutObject, CopyObject, CreateMultipartUpload, PostObject:
# handlers/object_lock.py) say so.
_OBJECT_LOCK_PREFIX = "x-amz-object-lock-"
NO_OBJECT_LOCK = "Bucket is missing Object Lock Configuration"
_ACCEPTED_STORAGE_CLASSES = frozenset({"STANDARD"})


def reject_unsupported_headers(ctx: S3Context, *, object_lock: bool = False) -> None:
    """Refuse a write whose headers ask for a feature not implemented here (ACL headers are
    the handlers' business: ``access.acl_from_request``). ``object_lock``: the handler
    takes Object Lock's headers itself (decisions 0102, 0104); the others refuse them, with
    NotImplemented in a bucket with Object Lock, never taking a write without the lock
    asked for."""
    bucket = ctx.bucket_record
    for name in ctx.headers:
        if name.startswith(_UNSUPPORTED_HEADER_PREFIXES):
            raise S3Error("NotImplemented", Header=name)
        if name.startswith(_OBJECT_LOCK_PREFIX) and not object_lock:
            if bucket is not None and bucket.object_lock is not None:
                raise S3Error("NotImplemented", Header=name)
            raise S3Error("InvalidRequest", NO_OBJECT_LOCK)
    storage_class = ctx.headers.get("x-amz-storage-class")
    if storage_class is not None and storage_class.strip() not in _ACCEPTED_STORAGE_CLASSES:
        raise S3Error("InvalidStorageClass")


async def addressed_bucket(ctx: S3Context, svc: S3Services) -> Bucket:
    """The bucket of the request, as the authoriser read it (or read now)."""
    if ctx.bucket_record is not None:
        return ctx.bucket_record
    return await svc.objects.get_bucket(ctx.bucket)


async def authorise_object(
    ctx: S3Context,
    svc: S3Services,
    operation: S3Operation,
    bucket: Bucket,
    key: str,
    *,
    extra_keys: Mapping[str, ContextValue] | None = None,
    action: str | None = None,
    version_id: str | None = None,
) -> None:
    """AccessDenied unless ``operation`` on ``bucket/key`` is allowed to the caller: for the
    operations whose objects are not the request's own (DeleteObjects' keys, copy sources), a
    second permission a request needs (tags on a PUT), and those authorised once their body is
    read (``extra_keys``: the condition keys it carries). ``action``: the IAM action when it is
    not the operation's, for a version named in the body (DeleteObjects' ``VersionId``).
    ``version_id``: the version whose ACL grants count (None: the current object's)."""
    objects = svc.objects

    async def load_object() -> ObjectRecord | None:
        try:
            if version_id is not None:
                return await objects.get_version(bucket.name, key, version_id)
            return await objects.head_object(bucket.name, key)
        except (NoSuchKey, NoSuchVersion, DeleteMarkerFound):
            return None  # no grant: a delete marker has no ACL

    await svc.authoriser.authorise(
        ctx.principal,
        operation,
        bucket=bucket,
        bucket_name=bucket.name,
        key=key,
        keys={**request_condition_keys(operation, ctx.query, ctx.headers), **(extra_keys or {})},
        source_ip=ctx.source_ip,
        secure=ctx.secure,
        load_object=load_object,
        action=action or version_action(operation, ctx.query),
    )


def object_owner_id(ctx: S3Context, bucket: Bucket) -> str:
    """Who owns an object this request writes: the bucket owner under BucketOwnerEnforced (and
    under BucketOwnerPreferred when the writer grants it full control), else the writer."""
    ownership = bucket.object_ownership
    if ownership is ObjectOwnership.BUCKET_OWNER_ENFORCED:
        return bucket.owner_id
    if (
        ownership is ObjectOwnership.BUCKET_OWNER_PREFERRED
        and ctx.headers.get("x-amz-acl", "").strip() == "bucket-owner-full-control"
    ):
        return bucket.owner_id
    return tenant_owner_id(ctx)


def write_replication_status(response: Response, record: ObjectRecord) -> None:
    """``x-amz-replication-status`` of a version, if it has one: read with the version's
    record (decision 0112), so a GET or HEAD makes no read for it. A replica whose own change
    is on its way back to its source shows PENDING, then REPLICA (or FAILED), as on S3
    (decision 0127)."""
    if record.replication_status is not None:
        shown = ReplicationStatus.shown(record.replication_status)
        response.header("x-amz-replication-status", shown)
