"""PostObject: an upload from an HTML form, signed by a policy document (decision 0079).

A browser sends ``POST /bucket`` as ``multipart/form-data``: the form's fields, then the file.
The request itself carries no signature. The form does: its ``policy`` field (base64 JSON) says
until when and under what conditions an upload is allowed, and ``x-amz-signature`` is the SigV4
signature of that policy under the signer's key (``x-amz-credential``, ``x-amz-date``,
``x-amz-algorithm``, ``x-amz-security-token`` for temporary keys). A form without policy and
signature is anonymous, as on AWS, and is let in only by a bucket policy or ACL.

As on AWS:
- fields come before ``file``; the ones after it are ignored. The fields, file excepted, are
  bounded by ``max_post_form_fields_size``;
- every field needs a condition in the policy, but for ``x-amz-signature``, ``file``,
  ``policy`` and ``x-ignore-*``. A condition is an exact match (``{"acl": "private"}`` or
  ``["eq", "$acl", "private"]``), a prefix (``["starts-with", "$key", "user/"]``, ``""`` for
  any), or the file's size range (``["content-length-range", 1, 1048576]``). ``bucket`` is
  the bucket posted to;
- ``${filename}`` in ``key`` becomes the file's name;
- the signer, or the anonymous caller, needs ``s3:PutObject`` on the key, and
  ``s3:PutObjectTagging`` for a ``tagging`` field (an XML tag set);
- the answer is a 303 to ``success_action_redirect`` (``bucket``, ``key`` and ``etag`` added to
  its query); or ``success_action_status`` 200 or 201 (with a ``PostResponse`` document); or
  204 by default. ``Location`` and ``ETag`` headers come with each.

The file is streamed into storage as it is parsed, never held whole. Its length is known only
at its end: the request's length bounds it for the store (``exact_size=False``), and the
``content-length-range`` is checked as the bytes come, so a file out of range is refused and
nothing is kept. Content-Type, Cache-Control, Content-Disposition, Content-Encoding, Expires,
``x-amz-meta-*``, ``acl``, the ``x-amz-server-side-encryption*`` and the
``x-amz-object-lock-*`` fields are taken as the matching headers of a PutObject are (the lock
fields without the Content-MD5 a PutObject needs with them: decision 0104).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hmac
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit, urlunsplit

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from andromede.http.response import Response
from andromede.http.sigv4 import derive_signing_key, sign
from andromede.iam.model import Principal
from andromede.s3.errors import S3Error
from andromede.s3.handlers.access import acl_from_request
from andromede.s3.handlers.common import (
    S3Services,
    addressed_bucket,
    authorise_object,
    checksum_headers,
    content_headers_from_request,
    event_source,
    object_owner_id,
    reject_unsupported_headers,
)
from andromede.s3.handlers.encryption import write_encryption, write_encryption_headers
from andromede.s3.handlers.object_lock import lock_for_write
from andromede.s3.handlers.tagging import parse_tag_set
from andromede.s3.operations import S3Operation
from andromede.s3.request import S3Context
from andromede.s3.request_payment import check_request_payer
from andromede.s3.router import Route
from andromede.s3.xml import XmlWriter
from andromede.storage.integrity import BodyIntegrity
from andromede.storage.model import ChecksumAlgorithm

__all__ = ["post_object"]

_ALGORITHM = "AWS4-HMAC-SHA256"
# Fields no policy condition needs to name.
_UNCONDITIONED = frozenset({"x-amz-signature", "file", "policy"})
# Fields taken as the headers of a PutObject, under these names.
_AS_HEADERS = {
    "content-type": "content-type",
    "cache-control": "cache-control",
    "content-disposition": "content-disposition",
    "content-encoding": "content-encoding",
    "content-language": "content-language",
    "expires": "expires",
    "acl": "x-amz-acl",
    "x-amz-storage-class": "x-amz-storage-class",
    "x-amz-website-redirect-location": "x-amz-website-redirect-location",
}
_HEADER_PREFIXES = ("x-amz-meta-", "x-amz-server-side-encryption", "x-amz-object-lock-")
_AMZ_DATE = re.compile(r"^\d{8}T\d{6}Z$")


class _Form:
    """The multipart parser's callbacks: the fields before ``file``, then the file's bytes."""

    def __init__(self, boundary: bytes, fields_limit: int) -> None:
        self.fields: dict[str, str] = {}  # by lower-case name
        self.filename = ""
        self.in_file = False  # the file part's headers are read: its bytes come next
        self.file_done = False
        self.ended = False
        self.pending: list[bytes] = []  # file bytes parsed and not yet handed on
        self._fields_limit = fields_limit
        self._fields_size = 0
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._name: str | None = None
        self._value = bytearray()
        self._part_is_file = False
        self.parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_data,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
                "on_end": self._end,
            },
        )

    def feed(self, chunk: bytes) -> None:
        try:
            self.parser.write(chunk)
        except MultipartParseError:
            raise S3Error("MalformedPOSTRequest") from None

    def finish(self) -> None:
        try:
            self.parser.finalize()
        except MultipartParseError:
            raise S3Error("MalformedPOSTRequest") from None
        if not self.ended:
            raise S3Error("IncompleteBody", "The form ended before its closing boundary.")

    def _part_begin(self) -> None:
        self._headers = {}
        self._name = None
        self._value = bytearray()
        self._part_is_file = False

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        if not self.file_done:
            # Part headers count toward the fields' bound too: parts with empty names and
            # values would otherwise come without end before the file.
            self._count(len(self._header_name) + len(self._header_value))
        self._headers[bytes(self._header_name).lower()] = bytes(self._header_value)
        self._header_name = bytearray()
        self._header_value = bytearray()

    def _count(self, size: int) -> None:
        self._fields_size += size
        if self._fields_size > self._fields_limit:
            raise S3Error(
                "MaxPostPreDataLengthExceeded",
                "Your POST request fields preceding the upload file were too large.",
            )

    def _headers_finished(self) -> None:
        if self.file_done:
            return  # after the file: ignored, as on AWS
        disposition, options = parse_options_header(self._headers.get(b"content-disposition"))
        if disposition != b"form-data" or b"name" not in options:
            raise S3Error("MalformedPOSTRequest")
        try:
            name = options[b"name"].decode()
            filename = options.get(b"filename", b"").decode()
        except UnicodeDecodeError:
            raise S3Error("MalformedPOSTRequest") from None
        if name.lower() == "file":
            self._part_is_file = True
            self.in_file = True
            # A browser sends a path on some systems: the name is its last segment.
            self.filename = filename.replace("\\", "/").rsplit("/", 1)[-1]
        else:
            self._name = name

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self.file_done:
            return
        if self._part_is_file:
            self.pending.append(data[start:end])
            return
        self._count(end - start)
        self._value += data[start:end]

    def _part_end(self) -> None:
        if self.file_done:
            return
        if self._part_is_file:
            self.file_done = True
            return
        name = self._name or ""
        try:
            value = self._value.decode()
        except UnicodeDecodeError:
            raise S3Error("MalformedPOSTRequest") from None
        lower = name.lower()
        if lower in self.fields:
            raise S3Error("InvalidArgument", f"Bucket POST has the field {name[:64]!r} twice.")
        self.fields[lower] = value

    def _end(self) -> None:
        self.ended = True


def _boundary(ctx: S3Context) -> bytes:
    kind, options = parse_options_header(ctx.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise S3Error(
            "PreconditionFailed",
            "Bucket POST must be of the enclosure-type multipart/form-data",
            Condition="Bucket POST must be of the enclosure-type multipart/form-data",
        )
    return boundary


async def _read_fields(form: _Form, body: AsyncIterator[bytes]) -> None:
    """Feed the form until the file's bytes begin (or the body ends)."""
    async for chunk in body:
        form.feed(chunk)
        if form.in_file:
            return
    form.finish()
    raise S3Error(
        "InvalidArgument", "POST requires exactly one file upload per request.", ArgumentName="file"
    )


async def _file_bytes(
    form: _Form, body: AsyncIterator[bytes], size_range: tuple[int, int] | None
) -> AsyncIterator[bytes]:
    """The file's bytes as the form's parser finds them, checked against its size range; the
    rest of the body (fields after the file) read and ignored."""
    received = 0

    def drain() -> list[bytes]:
        nonlocal received
        pieces, form.pending = form.pending, []
        for piece in pieces:
            received += len(piece)
        if size_range is not None and received > size_range[1]:
            raise S3Error("EntityTooLarge", MaxSizeAllowed=str(size_range[1]))
        return pieces

    for piece in drain():
        yield piece
    async for chunk in body:
        form.feed(chunk)
        for piece in drain():
            yield piece
    form.finish()
    for piece in drain():
        yield piece
    if size_range is not None and received < size_range[0]:
        raise S3Error("EntityTooSmall", MinSizeAllowed=str(size_range[0]))


def _policy_refused(detail: str) -> S3Error:
    return S3Error("AccessDenied", f"Invalid according to Policy: {detail}")


def _condition_failed(operator: str, target: str, expected: object) -> S3Error:
    return _policy_refused(f'Policy Condition failed: ["{operator}", "{target}", "{expected}"]')


def _invalid_policy(detail: str) -> S3Error:
    return S3Error("InvalidPolicyDocument", f"Invalid Policy: {detail}")


def _field_value(fields: dict[str, str], name: str, bucket: str) -> str:
    return bucket if name == "bucket" else fields.get(name, "")


def _check_policy(
    policy_b64: str, fields: dict[str, str], bucket: str, now: datetime
) -> tuple[int, int] | None:
    """Check the form against its policy; the file's size range if the policy has one."""
    try:
        policy = json.loads(base64.b64decode(policy_b64, validate=True))
    except (binascii.Error, ValueError):
        raise _invalid_policy("Invalid JSON.") from None
    if not isinstance(policy, dict):
        raise _invalid_policy("Invalid JSON.")
    expiration = policy.get("expiration")
    try:
        expires = datetime.fromisoformat(str(expiration).replace("Z", "+00:00"))
    except ValueError:
        raise _invalid_policy("Invalid 'expiration' value.") from None
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    if now > expires:
        raise _policy_refused("Policy expired.")
    conditions = policy.get("conditions")
    if not isinstance(conditions, list):
        raise _invalid_policy("Invalid 'conditions' value.")
    covered: set[str] = set()
    size_range: tuple[int, int] | None = None
    for condition in conditions:
        if isinstance(condition, dict):
            if len(condition) != 1:
                raise _invalid_policy("a condition names one field.")
            ((raw_name, expected),) = condition.items()
            name = str(raw_name).lower()
            covered.add(name)
            if _field_value(fields, name, bucket) != str(expected):
                raise _condition_failed("eq", f"${raw_name}", expected)
            continue
        if not isinstance(condition, list) or len(condition) != 3:
            raise _invalid_policy("Invalid Condition.")
        operator = str(condition[0]).lower()
        if operator == "content-length-range":
            try:
                size_range = (int(condition[1]), int(condition[2]))
            except (TypeError, ValueError):
                raise _invalid_policy("Invalid content-length-range.") from None
            continue
        target, expected = str(condition[1]), str(condition[2])
        if not target.startswith("$") or operator not in ("eq", "starts-with"):
            raise _invalid_policy("Invalid Condition.")
        name = target[1:].lower()
        covered.add(name)
        value = _field_value(fields, name, bucket)
        values = [v.strip() for v in value.split(",")] if name == "content-type" else [value]
        holds = (
            value == expected if operator == "eq" else all(v.startswith(expected) for v in values)
        )
        if not holds:
            raise _condition_failed(operator, target, expected)
    extra = sorted(
        name
        for name in fields
        if name not in covered and name not in _UNCONDITIONED and not name.startswith("x-ignore-")
    )
    if extra:
        raise _policy_refused(f"Extra input fields: {extra[0][:64]}")
    return size_range


async def _signer(svc: S3Services, fields: dict[str, str], region: str) -> Principal | None:
    """Who signed the form's policy, None for an anonymous form."""
    if "awsaccesskeyid" in fields or "signature" in fields:
        raise S3Error(
            "InvalidArgument", "Signature Version 2 form fields are not supported; sign with SigV4."
        )
    if "policy" not in fields and "x-amz-signature" not in fields:
        return None
    for required in (
        "policy",
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-date",
        "x-amz-algorithm",
    ):
        if not fields.get(required):
            raise S3Error(
                "InvalidArgument",
                f"Bucket POST must contain a field named '{required}'.",
                ArgumentName=required,
            )
    if fields["x-amz-algorithm"] != _ALGORITHM:
        raise S3Error(
            "InvalidArgument", "Only AWS4-HMAC-SHA256 is supported", ArgumentName="x-amz-algorithm"
        )
    parts = fields["x-amz-credential"].split("/")
    if len(parts) != 5 or parts[3] != "s3" or parts[4] != "aws4_request" or not parts[0]:
        raise S3Error("InvalidArgument", "Invalid credential", ArgumentName="x-amz-credential")
    access_key_id, date, credential_region = parts[0], parts[1], parts[2]
    amz_date = fields["x-amz-date"]
    if not _AMZ_DATE.match(amz_date) or amz_date[:8] != date:
        raise S3Error("InvalidArgument", "Invalid x-amz-date", ArgumentName="x-amz-date")
    if credential_region != region:
        raise S3Error(
            "AuthorizationHeaderMalformed",
            f"the region '{credential_region[:64]}' is wrong; expecting '{region}'",
            Region=region,
        )
    if svc.access_keys is None:
        raise S3Error("NotImplemented", "Signed POST uploads need the identity service.")
    secret, principal = await svc.access_keys.resolve_access_key(
        access_key_id, fields.get("x-amz-security-token")
    )
    key = derive_signing_key(secret, date, credential_region, "s3")
    expected = sign(key, fields["policy"]).encode()
    if not hmac.compare_digest(expected, fields["x-amz-signature"].encode("utf-8", "replace")):
        raise S3Error(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
        )
    svc.access_keys.note_access_key_use(access_key_id, "s3", credential_region)
    return principal


def _as_headers(ctx: S3Context, fields: dict[str, str]) -> dict[str, str]:
    headers = {"host": ctx.headers.get("host", "")}
    for name, value in fields.items():
        if name in _AS_HEADERS:
            headers[_AS_HEADERS[name]] = value
        elif name.startswith(_HEADER_PREFIXES):
            headers[name] = value
    return headers


def _object_url(ctx: S3Context, bucket: str, key: str) -> str:
    scheme = "https" if ctx.secure else "http"
    host = ctx.headers.get("host", "")
    path = quote(key, safe="/~")
    if ctx.route.virtual_host:
        return f"{scheme}://{host}/{path}"
    return f"{scheme}://{host}/{quote(bucket)}/{path}"


def _redirect(target: str, bucket: str, key: str, etag: str) -> str | None:
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    added = f"bucket={quote(bucket, safe='')}&key={quote(key, safe='')}&etag={quote(etag, safe='')}"
    query = f"{parts.query}&{added}" if parts.query else added
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


async def post_object(ctx: S3Context, svc: S3Services) -> Response:
    boundary = _boundary(ctx)
    size_bound = ctx.declared_size()
    if size_bound > svc.settings.max_object_size + svc.settings.max_post_form_fields_size:
        raise S3Error("EntityTooLarge", MaxSizeAllowed=str(svc.settings.max_object_size))
    bucket = await addressed_bucket(ctx, svc)
    body = ctx.body()
    form = _Form(boundary, svc.settings.max_post_form_fields_size)
    await _read_fields(form, body)
    fields = form.fields
    now = datetime.now(UTC)
    signed = await _signer(svc, fields, bucket.region)
    size_range = _check_policy(fields["policy"], fields, bucket.name, now) if signed else None
    key = fields.get("key")
    if key is None:
        raise S3Error(
            "InvalidArgument",
            "Bucket POST must contain a field named 'key'.  If it is specified, please check "
            "the order of the fields.",
            ArgumentName="key",
        )
    key = key.replace("${filename}", form.filename)
    if not key:
        raise S3Error("InvalidArgument", "User key must have a length greater than zero.")
    if len(key.encode()) > svc.settings.max_key_length:
        raise S3Error("KeyTooLongError", MaxSizeAllowed=str(svc.settings.max_key_length))
    # The form's signer acts from here on: the authorisation, the object's owner, the audit,
    # and who pays for it on a Requester Pays bucket (decision 0133: its header, as for PUT).
    if signed is not None:
        ctx.principal = signed
    ctx.requester_charged = check_request_payer(
        bucket, ctx.principal, S3Operation.PostObject, ctx.headers, ctx.query
    )
    upload = dataclasses.replace(
        ctx,
        headers=_as_headers(ctx, fields),
        route=Route(S3Operation.PutObject, bucket.name, key, ctx.route.virtual_host),
    )
    reject_unsupported_headers(upload, object_lock=True)
    await authorise_object(upload, svc, S3Operation.PutObject, bucket, key)
    # The lock fields, checked as PutObject's headers are, without Content-MD5 (a form has
    # no field for it; the policy's signature covers the fields): decision 0104.
    lock = await lock_for_write(upload, svc, bucket, now, integrity=False)
    tags: tuple[tuple[str, str], ...] = ()
    if "tagging" in fields:
        tags = parse_tag_set(fields["tagging"].encode(), svc.settings.max_object_tags, objects=True)
        if tags:
            await authorise_object(upload, svc, S3Operation.PutObjectTagging, bucket, key)
    owner_id = object_owner_id(upload, bucket)
    acl = acl_from_request(upload, bucket, owner_id=owner_id)
    encryption = await write_encryption(upload, svc, bucket)
    integrity = BodyIntegrity(checksum_algorithm=ChecksumAlgorithm.CRC64NVME)
    record = await svc.objects.put_object(
        bucket,
        key,
        _file_bytes(form, body, size_range),
        size=min(size_bound, svc.settings.max_object_size),
        headers=content_headers_from_request(upload, tags),
        owner_id=owner_id,
        integrity=integrity,
        encryption=encryption,
        acl=acl,
        exact_size=False,
        lock=lock,
        notify=event_source(upload, "ObjectCreated:Post"),
    )
    etag = f'"{record.etag}"'
    location = _object_url(ctx, bucket.name, key)
    redirect = fields.get("success_action_redirect") or fields.get("redirect")
    target = _redirect(redirect, bucket.name, key, etag) if redirect else None
    if target is not None:
        response = Response(status=303, headers=[("Location", target)])
    else:
        status = fields.get("success_action_status", "204").strip()
        if status == "201":
            xml = XmlWriter("PostResponse", namespace=None)  # as AWS writes it
            xml.element("Location", location)
            xml.element("Bucket", bucket.name)
            xml.element("Key", key)
            xml.element("ETag", etag)
            response = Response(
                status=201,
                headers=[("Content-Type", "application/xml"), ("Location", location)],
                body=xml.document(),
            )
        else:
            response = Response(
                status=200 if status == "200" else 204, headers=[("Location", location)]
            )
    response.header("ETag", etag)
    if record.checksum is not None:
        checksum_headers(response, record.checksum)
    write_encryption_headers(upload, response, encryption, with_context=False)
    return response
