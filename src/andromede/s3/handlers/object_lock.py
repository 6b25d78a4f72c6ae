"""S3 Object Lock on the wire (decision 0102): the bucket's configuration calls, a version's
retention and legal hold calls, the lock headers of writes and reads, and the bypass of a
GOVERNANCE retention.

The rules themselves are ``storage/object_lock.py``; the stores enforce them when a version
would be removed or its lock changed. Here: parsing, AWS's errors, and the permissions AWS
asks for beyond the operation's own (``s3:PutObjectRetention`` / ``s3:PutObjectLegalHold`` for
lock headers on a write, ``s3:BypassGovernanceRetention`` for the bypass header,
``s3:GetObjectRetention`` / ``s3:GetObjectLegalHold`` to see the lock headers on a read).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from xml.etree.ElementTree import Element

from andromede.http.dates import iso8601_ms
from andromede.http.response import Response
from andromede.iam.policy import ContextValue
from andromede.s3.errors import S3Error
from andromede.s3.handlers.common import (
    NO_OBJECT_LOCK,
    S3Services,
    addressed_bucket,
    authorise_object,
    xml_response,
)
from andromede.s3.handlers.version_reads import named_version_id, read_version
from andromede.s3.lock_keys import HOLD_KEYS, RETENTION_KEYS, lock_condition_keys, parse_lock_date
from andromede.s3.operations import S3Operation
from andromede.s3.request import S3Context
from andromede.s3.xml import XmlWriter, child_text, only_child, parse_xml
from andromede.storage.model import Bucket, ObjectRecord
from andromede.storage.object_lock import (
    DefaultRetention,
    LockChange,
    LockMode,
    ObjectLock,
    ObjectLockConfiguration,
)
from andromede.storage.versioning import shown_version_id

__all__ = [
    "bypass_governance",
    "default_lock",
    "get_object_legal_hold",
    "get_object_lock_configuration",
    "get_object_retention",
    "lock_for_write",
    "lock_response_headers",
    "put_object_legal_hold",
    "put_object_lock_configuration",
    "put_object_retention",
    "requested_lock",
]

_MODE = "x-amz-object-lock-mode"
_UNTIL = "x-amz-object-lock-retain-until-date"
_HOLD = "x-amz-object-lock-legal-hold"
_BYPASS = "x-amz-bypass-governance-retention"
_NOT_FOUND = "The specified object does not have a ObjectLock configuration"


# -- the bucket's configuration ----------------------------------------------------------------
async def get_object_lock_configuration(ctx: S3Context, svc: S3Services) -> Response:
    bucket = await addressed_bucket(ctx, svc)
    config = bucket.object_lock
    if config is None:
        raise S3Error("ObjectLockConfigurationNotFoundError", BucketName=ctx.bucket)
    xml = XmlWriter("ObjectLockConfiguration")
    xml.element("ObjectLockEnabled", "Enabled")
    rule = config.default
    if rule is not None:
        xml.open("Rule")
        xml.open("DefaultRetention")
        xml.element("Mode", rule.mode.value)
        if rule.days is not None:
            xml.element("Days", str(rule.days))
        else:
            xml.element("Years", str(rule.years))
        xml.close("DefaultRetention")
        xml.close("Rule")
    return xml_response(xml)


async def put_object_lock_configuration(ctx: S3Context, svc: S3Services) -> Response:
    """Turn Object Lock on in a versioned (Enabled) bucket, as AWS allows since 2023, or
    change the default retention of one that has it. Never off again."""
    root = parse_xml(await ctx.read_xml_body(integrity_required=True), "ObjectLockConfiguration")
    if "x-amz-bucket-object-lock-token" in ctx.headers:
        raise S3Error("NotImplemented", Header="x-amz-bucket-object-lock-token")
    bucket = await addressed_bucket(ctx, svc)
    if (child_text(root, "ObjectLockEnabled") or "").strip() != "Enabled":
        raise S3Error("MalformedXML")
    default: DefaultRetention | None = None
    rule = only_child(root, "Rule")
    if rule is not None:
        retention = only_child(rule, "DefaultRetention")
        if retention is None:
            raise S3Error("MalformedXML")
        default = _default_retention(
            child_text(retention, "Mode"),
            child_text(retention, "Days"),
            child_text(retention, "Years"),
        )
    # On a bucket versioned Enabled (or locked already) only: the store checks it in its
    # write, where a concurrent PutBucketVersioning cannot slip past (decision 0104).
    await svc.objects.set_bucket_object_lock(bucket.name, ObjectLockConfiguration(default))
    return Response()


def _default_retention(mode: str | None, days: str | None, years: str | None) -> DefaultRetention:
    if mode is None or mode.strip() not in LockMode.__members__:
        raise S3Error("MalformedXML")
    if (days is None) == (years is None):
        raise S3Error("MalformedXML")
    figure = (days if days is not None else years or "").strip()
    if not figure.isdigit() or int(figure) <= 0:
        raise S3Error(
            "InvalidArgument", "Default retention period must be a positive integer value"
        )
    try:
        if days is not None:
            return DefaultRetention(LockMode(mode.strip()), days=int(figure))
        return DefaultRetention(LockMode(mode.strip()), years=int(figure))
    except ValueError:
        raise S3Error("InvalidArgument", "Default retention period is too large") from None


# -- writes --------------------------------------------------------------------------------
def default_lock(bucket: Bucket, now: datetime) -> ObjectLock | None:
    """The lock the bucket's default retention gives a version written at ``now``."""
    config = bucket.object_lock
    if config is None or config.default is None:
        return None
    return ObjectLock(config.default.mode, config.default.retain_until(now))


async def lock_for_write(
    ctx: S3Context, svc: S3Services, bucket: Bucket, now: datetime, *, integrity: bool = True
) -> ObjectLock | None:
    """The lock a new version written at ``now`` gets: the request's lock headers, completed
    by the bucket's default retention (explicit settings win); None without either. The
    checks of :func:`requested_lock`."""
    asked = await requested_lock(ctx, svc, bucket, now, integrity=integrity)
    default = default_lock(bucket, now)
    return default if asked is None else asked.with_default(default)


async def requested_lock(
    ctx: S3Context, svc: S3Services, bucket: Bucket, now: datetime, *, integrity: bool = True
) -> ObjectLock | None:
    """What the request's lock headers ask for, as they are (no default merged: a multipart
    upload keeps this and merges the default at its completion); None without lock headers.
    InvalidRequest for lock headers in a bucket without Object Lock, or (``integrity``: a
    write with a body) without Content-MD5 or a checksum, which AWS requires with them;
    InvalidArgument for a mode without a date or the reverse, a date not in the future, an
    unknown mode or status; AccessDenied without ``s3:PutObjectRetention`` /
    ``s3:PutObjectLegalHold``."""
    mode = ctx.headers.get(_MODE)
    until = ctx.headers.get(_UNTIL)
    hold = ctx.headers.get(_HOLD)
    if mode is None and until is None and hold is None:
        return None
    if bucket.object_lock is None:
        raise S3Error("InvalidRequest", NO_OBJECT_LOCK)
    checked = ctx.integrity()
    if integrity and checked.content_md5 is None and checked.checksum_algorithm is None:
        raise S3Error(
            "InvalidRequest",
            "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests "
            "with Object Lock parameters",
        )
    if (mode is None) != (until is None):
        raise S3Error(
            "InvalidArgument",
            "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied",
        )
    legal_hold: bool | None = None
    if hold is not None:
        legal_hold = _hold_status(hold.strip(), "InvalidArgument")
        await authorise_object(
            ctx,
            svc,
            S3Operation.PutObjectLegalHold,
            bucket,
            ctx.key,
            action="s3:PutObjectLegalHold",
        )
    lock_mode: LockMode | None = None
    retain_until: datetime | None = None
    if mode is not None and until is not None:
        lock_mode = _mode(mode.strip(), "InvalidArgument")
        retain_until = _future_date(until.strip(), now, "InvalidArgument")
        await authorise_object(
            ctx,
            svc,
            S3Operation.PutObjectRetention,
            bucket,
            ctx.key,
            action="s3:PutObjectRetention",
        )
    return ObjectLock(lock_mode, retain_until, legal_hold)


def _hold_status(text: str, code: str) -> bool:
    if text not in ("ON", "OFF"):
        raise S3Error(code, "Legal Hold must be either of 'ON' or 'OFF'")
    return text == "ON"


def _mode(text: str, code: str) -> LockMode:
    if text not in LockMode.__members__:
        raise S3Error(code, "Unknown wormMode directive.")
    return LockMode(text)


def _future_date(text: str, now: datetime, code: str) -> datetime:
    moment = parse_lock_date(text)
    if moment is None:
        raise S3Error(code, "The retain until date is not a valid date")
    if moment <= now:
        raise S3Error(code, "The retain until date must be in the future!")
    return moment


async def bypass_governance(
    ctx: S3Context,
    svc: S3Services,
    bucket: Bucket,
    key: str,
    *,
    extra_keys: Mapping[str, ContextValue] | None = None,
) -> bool:
    """Whether the request bypasses GOVERNANCE retentions: it says so and the caller is
    allowed ``s3:BypassGovernanceRetention`` on the object (AccessDenied otherwise, as AWS).
    ``extra_keys``: the condition keys of a PutObjectRetention's body."""
    if ctx.headers.get(_BYPASS, "").strip().lower() != "true":
        return False
    await authorise_object(
        ctx,
        svc,
        S3Operation.PutObjectRetention,
        bucket,
        key,
        action="s3:BypassGovernanceRetention",
        extra_keys=extra_keys,
    )
    return True


# -- reads -----------------------------------------------------------------------------------
async def lock_response_headers(
    ctx: S3Context, svc: S3Services, response: Response, record: ObjectRecord
) -> None:
    """The lock headers of a GET or HEAD, for a caller who may read them (AWS shows each
    only with ``s3:GetObjectRetention`` / ``s3:GetObjectLegalHold``), and the hold's only if
    one was ever set. Only a locked version costs the checks."""
    lock = record.lock
    if lock is None:
        return
    bucket = await addressed_bucket(ctx, svc)
    if lock.mode is not None and lock.retain_until is not None:
        if await _allowed(ctx, svc, bucket, S3Operation.GetObjectRetention):
            response.header(_MODE, lock.mode.value)
            response.header(_UNTIL, iso8601_ms(lock.retain_until))
    if lock.legal_hold is not None:
        if await _allowed(ctx, svc, bucket, S3Operation.GetObjectLegalHold):
            response.header(_HOLD, "ON" if lock.legal_hold else "OFF")


async def _allowed(ctx: S3Context, svc: S3Services, bucket: Bucket, op: S3Operation) -> bool:
    try:
        await authorise_object(ctx, svc, op, bucket, ctx.key)
    except S3Error:
        return False
    return True


# -- a version's retention and legal hold ------------------------------------------------------
def _require_lock(bucket: Bucket) -> None:
    if bucket.object_lock is None:
        raise S3Error("InvalidRequest", NO_OBJECT_LOCK)


async def get_object_retention(ctx: S3Context, svc: S3Services) -> Response:
    _require_lock(await addressed_bucket(ctx, svc))
    record = await read_version(ctx, svc)
    lock = record.lock
    if lock is None or lock.mode is None or lock.retain_until is None:
        raise S3Error("NoSuchObjectLockConfiguration", _NOT_FOUND)
    xml = XmlWriter("Retention")
    xml.element("Mode", lock.mode.value)
    xml.element("RetainUntilDate", iso8601_ms(lock.retain_until))
    return xml_response(xml)


async def get_object_legal_hold(ctx: S3Context, svc: S3Services) -> Response:
    """The version's hold, ON or OFF once one was set (lifted: OFF); a version that never
    had one answers NoSuchObjectLockConfiguration, whatever its retention, as AWS does."""
    _require_lock(await addressed_bucket(ctx, svc))
    record = await read_version(ctx, svc)
    if record.lock is None or record.lock.legal_hold is None:
        raise S3Error("NoSuchObjectLockConfiguration", _NOT_FOUND)
    xml = XmlWriter("LegalHold")
    xml.element("Status", "ON" if record.lock.legal_hold else "OFF")
    return xml_response(xml)


async def put_object_retention(ctx: S3Context, svc: S3Services) -> Response:
    """Authorised here, once the body is read: a policy may test the retention asked for
    (``s3:object-lock-mode``, ``-retain-until-date``, ``-remaining-retention-days``)."""
    bucket = await addressed_bucket(ctx, svc)
    now = datetime.now(UTC)

    def keys_of(root: Element | None) -> dict[str, ContextValue]:
        if root is None:
            return {}
        return lock_condition_keys(
            mode=child_text(root, "Mode"),
            retain_until=child_text(root, "RetainUntilDate"),
            legal_hold=None,
            now=now,
            wanted=RETENTION_KEYS,
        )

    root, keys = await _authorised_body(
        ctx, svc, S3Operation.PutObjectRetention, bucket, "Retention", keys_of
    )
    mode_text = child_text(root, "Mode")
    until_text = child_text(root, "RetainUntilDate")
    mode: LockMode | None = None
    until: datetime | None = None
    if mode_text is not None or until_text is not None:
        if mode_text is None or until_text is None:
            raise S3Error("MalformedXML")
        mode = _mode(mode_text.strip(), "MalformedXML")
        until = _future_date(until_text.strip(), now, "InvalidArgument")
    bypass = await bypass_governance(ctx, svc, bucket, ctx.key, extra_keys=keys)
    change = LockChange.retention(mode, until, bypass_governance=bypass)
    return await _change(ctx, svc, change)


async def put_object_legal_hold(ctx: S3Context, svc: S3Services) -> Response:
    """Authorised here, once the body is read (``s3:object-lock-legal-hold``)."""
    bucket = await addressed_bucket(ctx, svc)
    now = datetime.now(UTC)

    def keys_of(root: Element | None) -> dict[str, ContextValue]:
        if root is None:
            return {}
        return lock_condition_keys(
            mode=None,
            retain_until=None,
            legal_hold=child_text(root, "Status"),
            now=now,
            wanted=HOLD_KEYS,
        )

    root, _ = await _authorised_body(
        ctx, svc, S3Operation.PutObjectLegalHold, bucket, "LegalHold", keys_of
    )
    status = child_text(root, "Status")
    if status is None:
        raise S3Error("MalformedXML")
    return await _change(ctx, svc, LockChange.hold(_hold_status(status.strip(), "MalformedXML")))


async def _authorised_body(
    ctx: S3Context,
    svc: S3Services,
    operation: S3Operation,
    bucket: Bucket,
    root_name: str,
    keys_of: Callable[[Element | None], dict[str, ContextValue]],
) -> tuple[Element, dict[str, ContextValue]]:
    """The call's XML body and its condition keys, once the caller is allowed the call with
    them. Only the body's size (and its Content-MD5 or checksum, when sent) is checked
    before: a caller without the right learns AccessDenied, nothing of the bucket or of what
    the body lacks. Then the bucket must have Object Lock (InvalidRequest), the request a
    digest of its body (InvalidRequest, AWS's rule) and the body its form (MalformedXML)."""
    body = await ctx.read_xml_body()
    try:
        parsed: Element | None = parse_xml(body, root_name)
    except S3Error:
        parsed = None
    keys = keys_of(parsed)
    await authorise_object(
        ctx,
        svc,
        operation,
        bucket,
        ctx.key,
        extra_keys=keys,
        version_id=named_version_id(ctx, bucket),
    )
    _require_lock(bucket)
    integrity = ctx.integrity()
    if integrity.content_md5 is None and integrity.checksum_algorithm is None:
        raise S3Error(
            "InvalidRequest",
            "Missing required header for this request: Content-MD5 or x-amz-checksum-*",
        )
    return (parsed if parsed is not None else parse_xml(body, root_name)), keys


async def _change(ctx: S3Context, svc: S3Services, change: LockChange) -> Response:
    """Apply ``change`` to the version named, or the current one (read first: the change
    goes to that version, whatever is written meanwhile)."""
    record = await read_version(ctx, svc)
    version_id = shown_version_id(record.version_id)
    await svc.objects.set_version_lock(ctx.bucket, ctx.key, version_id, change, read=record)
    return Response()
