"""S3 and KMS calls made in process, as the console's logged-in principal.

The console does not re-implement what S3 and KMS decide: it builds an ASGI request for the
running S3 (or KMS) app, with the principal its session resolved to under
``TRUSTED_PRINCIPAL_SCOPE_KEY`` in place of a signature, and reads the answer. The call is
then authorised as a signed one of that principal would be — IAM policies, bucket policies,
ownership, another tenant's bucket answering as S3 answers — and is audited, metered and
logged by the app that serves it. A refusal comes back as the ``WireError`` the protocol sent.
Bodies stream both ways: an upload is fed chunk by chunk, a download is forwarded as S3 sends
it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import Any, ClassVar, Final
from urllib.parse import quote, urlencode
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET

from andromede.errors import AndromedeError
from andromede.http.asgi import TRUSTED_PRINCIPAL_SCOPE_KEY, TRUSTED_REGION_SCOPE_KEY
from andromede.http.response import Message, Receive, Scope, Send
from andromede.iam.model import Principal

__all__ = [
    "Answer",
    "AsgiApp",
    "BucketRow",
    "JsonWire",
    "KeyRow",
    "KmsWire",
    "ObjectPage",
    "ObjectRow",
    "QueryWire",
    "S3Wire",
    "WireError",
]

AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]
_S3_NS: Final = "{http://s3.amazonaws.com/doc/2006-03-01/}"
# A host that names no bucket, whatever the S3 domain: every call is path-style.
_HOST: Final = b"127.0.0.1"
_MAX_ANSWER: Final = 8 * 1024 * 1024  # list answers; object bodies are forwarded, not read


class WireError(AndromedeError):
    """What S3 or KMS answered instead of success: its code, message and status."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class BucketRow:
    name: str
    created: str
    region: str


@dataclass(frozen=True, slots=True)
class ObjectRow:
    key: str
    size: int
    modified: str
    encryption: str = "-"


@dataclass(frozen=True, slots=True)
class ObjectPage:
    folders: list[str]
    objects: list[ObjectRow]
    next_token: str | None


@dataclass(frozen=True, slots=True)
class KeyRow:
    key_id: str
    description: str
    state: str
    created: str
    deletion_date: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


def _scope(
    origin: Scope,
    principal: Principal | None,
    method: str,
    path: str,
    query: str,
    headers: list[tuple[bytes, bytes]],
) -> Scope:
    region = origin.get(TRUSTED_REGION_SCOPE_KEY)
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": origin.get("scheme", "http"),
        "path": path,
        "raw_path": quote(path, safe="/").encode(),
        "query_string": query.encode(),
        "headers": [(b"host", _HOST), *headers],
        "client": origin.get("client"),
        "server": origin.get("server"),
        # None: an unsigned call, as from a client without credentials (STS's SAML sign-in).
        **({} if principal is None else {TRUSTED_PRINCIPAL_SCOPE_KEY: principal}),
        # The Region a regional page chose for its calls (``console.regions``, decision 0406).
        **({} if region is None or principal is None else {TRUSTED_REGION_SCOPE_KEY: region}),
    }


def _receiver(body: bytes | AsyncIterator[bytes]) -> Receive:
    """The request's body as ASGI messages; then, as from a client that stays, nothing."""
    finished = False

    async def receive() -> Message:
        nonlocal finished
        if finished:
            await asyncio.Event().wait()  # a connected client sends nothing more
        if isinstance(body, bytes):
            finished = True
            return {"type": "http.request", "body": body, "more_body": False}
        try:
            chunk = await anext(body)
        except StopAsyncIteration:
            finished = True
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": chunk, "more_body": True}

    return receive


async def _call(app: AsgiApp, scope: Scope, body: bytes | AsyncIterator[bytes]) -> Answer:
    status = 0
    headers: dict[str, str] = {}
    parts: list[bytes] = []
    size = 0

    async def send(message: Message) -> None:
        nonlocal status, size
        if message["type"] == "http.response.start":
            status = message["status"]
            for name, value in message.get("headers", []):
                headers[name.decode("latin-1").lower()] = value.decode("latin-1")
        elif message["type"] == "http.response.body":
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size <= _MAX_ANSWER:
                parts.append(chunk)

    await app(scope, _receiver(body), send)
    return Answer(status, headers, b"".join(parts))


class JsonWire:
    """The calls of an AWS JSON-protocol API (KMS, SQS) the console makes, as ``principal``:
    a subclass names the API's target prefix, content type and internal error."""

    target_prefix: ClassVar[str]
    content_type: ClassVar[str]
    internal_error: ClassVar[str]

    def __init__(self, app: AsgiApp) -> None:
        self._app = app

    async def _json(
        self, origin: Scope, principal: Principal, action: str, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The answer's document, or the refusal as a :class:`WireError` (the ``__type``
        after any namespace's ``#``; the internal error when the answer names none)."""
        body = json.dumps(payload).encode()
        headers = [
            (b"x-amz-target", f"{self.target_prefix}{action}".encode()),
            (b"content-type", self.content_type.encode()),
            (b"content-length", str(len(body)).encode()),
        ]
        scope = _scope(origin, principal, "POST", "/", "", headers)
        answer = await _call(self._app, scope, body)
        try:
            document = json.loads(answer.body or b"{}")
        except ValueError:
            document = {}
        if not isinstance(document, dict):
            document = {}
        if answer.status >= 300:
            raise self._refusal(answer, document)
        return document

    def _refusal(self, answer: Answer, document: Mapping[str, Any]) -> WireError:
        """The error an answer that is no success carries: the ``__type`` after any
        namespace's ``#`` (an API whose clients read the code elsewhere says so here)."""
        code = str(document.get("__type", self.internal_error)).rsplit("#", 1)[-1]
        message = str(document.get("message") or document.get("Message") or "")
        return WireError(code, message, answer.status)


def _s3_error(answer: Answer) -> WireError:
    code, message = "InternalError", ""
    try:
        root = SafeET.fromstring(answer.body) if answer.body else None
    except SafeET.ParseError:
        root = None
    if root is not None:
        code = root.findtext("Code") or code
        message = root.findtext("Message") or ""
    return WireError(code, message, answer.status)


def _text(element: Any, name: str) -> str:
    found = element.find(f"{_S3_NS}{name}")
    if found is None:
        found = element.find(name)
    return str(found.text or "") if found is not None else ""


def _children(element: Any, name: str) -> list[Any]:
    return list(element.findall(f"{_S3_NS}{name}")) or list(element.findall(name))


def _object_path(bucket: str, key: str) -> str:
    """An object's path-style path. An empty key would name the bucket itself (a DELETE of
    ``/bucket/`` is DeleteBucket): refused here as S3 refuses an object call without a key."""
    if not key:
        raise WireError("NoSuchKey", "The specified key does not exist.", 404)
    return f"/{bucket}/{key}"


class S3Wire:
    """The S3 calls the console makes, as ``principal``, for the request ``origin``."""

    def __init__(self, app: AsgiApp) -> None:
        self._app = app

    async def request(
        self,
        origin: Scope,
        principal: Principal,
        method: str,
        path: str,
        query: Mapping[str, str] | None = None,
        *,
        headers: list[tuple[bytes, bytes]] | None = None,
        body: bytes | AsyncIterator[bytes] = b"",
    ) -> Answer:
        """One S3 call; its answer when it succeeded, else S3's refusal raised."""
        scope = _scope(origin, principal, method, path, urlencode(query or {}), list(headers or []))
        answer = await _call(self._app, scope, body)
        if answer.status >= 300:
            raise _s3_error(answer)
        return answer

    async def stream(
        self,
        origin: Scope,
        principal: Principal,
        path: str,
        query: Mapping[str, str],
        *,
        body: bytes,
        sink: Callable[[bytes], None],
    ) -> None:
        """One S3 POST whose answer goes to ``sink`` chunk by chunk as S3 sends it (an event
        stream); S3's refusal raised, its error document read instead of sunk."""
        length = [(b"content-length", str(len(body)).encode())]
        scope = _scope(origin, principal, "POST", path, urlencode(query), length)
        status = 0
        refusal = bytearray()

        async def send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunk: bytes = message.get("body", b"")
                if status >= 300:
                    refusal.extend(chunk[: max(0, _MAX_ANSWER - len(refusal))])
                elif chunk:
                    sink(chunk)

        await self._app(scope, _receiver(body), send)
        if status >= 300:
            raise _s3_error(Answer(status, {}, bytes(refusal)))

    async def list_buckets(self, origin: Scope, principal: Principal) -> list[BucketRow]:
        answer = await self.request(origin, principal, "GET", "/")
        root = SafeET.fromstring(answer.body)
        buckets = root.find(f"{_S3_NS}Buckets")
        rows = _children(buckets, "Bucket") if buckets is not None else []
        return [
            BucketRow(_text(b, "Name"), _text(b, "CreationDate")[:19], _text(b, "BucketRegion"))
            for b in rows
        ]

    async def create_bucket(
        self, origin: Scope, principal: Principal, name: str, region: str
    ) -> None:
        body = (
            '<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"<LocationConstraint>{region}</LocationConstraint></CreateBucketConfiguration>"
        ).encode()
        length = [(b"content-length", str(len(body)).encode())]
        await self.request(origin, principal, "PUT", f"/{name}", headers=length, body=body)

    async def delete_bucket(self, origin: Scope, principal: Principal, name: str) -> None:
        await self.request(origin, principal, "DELETE", f"/{name}")

    async def list_objects(
        self,
        origin: Scope,
        principal: Principal,
        bucket: str,
        *,
        prefix: str,
        token: str | None,
        page_size: int,
    ) -> ObjectPage:
        query = {"list-type": "2", "delimiter": "/", "prefix": prefix, "max-keys": str(page_size)}
        if token:
            query["continuation-token"] = token
        answer = await self.request(origin, principal, "GET", f"/{bucket}", query)
        root = SafeET.fromstring(answer.body)
        folders = [_text(p, "Prefix") for p in _children(root, "CommonPrefixes")]
        objects = [
            ObjectRow(_text(c, "Key"), int(_text(c, "Size") or 0), _text(c, "LastModified")[:19])
            for c in _children(root, "Contents")
        ]
        truncated = _text(root, "IsTruncated") == "true"
        next_token = _text(root, "NextContinuationToken") if truncated else None
        return ObjectPage(folders, objects, next_token or None)

    async def encryption_of(
        self, origin: Scope, principal: Principal, bucket: str, key: str
    ) -> str:
        """How the object is encrypted at rest, as HEAD tells it; "-" when HEAD is refused."""
        try:
            answer = await self.request(origin, principal, "HEAD", _object_path(bucket, key))
        except WireError:
            return "-"
        kind = answer.headers.get("x-amz-server-side-encryption", "")
        if kind == "aws:kms":
            key_id = answer.headers.get("x-amz-server-side-encryption-aws-kms-key-id", "")
            return f"SSE-KMS {key_id.rsplit('/', 1)[-1]}".strip()
        if answer.headers.get("x-amz-server-side-encryption-customer-algorithm"):
            return "SSE-C"
        return "SSE-S3" if kind == "AES256" else kind or "-"

    async def put_object(
        self,
        origin: Scope,
        principal: Principal,
        bucket: str,
        key: str,
        *,
        size: int,
        content_type: str,
        chunks: AsyncIterator[bytes],
    ) -> None:
        headers = [
            (b"content-length", str(size).encode()),
            (b"content-type", content_type.encode("latin-1", "replace")),
        ]
        await self.request(
            origin, principal, "PUT", _object_path(bucket, key), headers=headers, body=chunks
        )

    async def create_multipart_upload(
        self, origin: Scope, principal: Principal, bucket: str, key: str, *, content_type: str
    ) -> str:
        """A new multipart upload's id."""
        headers = [(b"content-type", content_type.encode("latin-1", "replace"))]
        answer = await self.request(
            origin, principal, "POST", _object_path(bucket, key), {"uploads": ""}, headers=headers
        )
        return _text(SafeET.fromstring(answer.body), "UploadId")

    async def upload_part(
        self,
        origin: Scope,
        principal: Principal,
        bucket: str,
        key: str,
        *,
        upload_id: str,
        number: int,
        size: int,
        chunks: AsyncIterator[bytes],
    ) -> str:
        """The part's ETag, for CompleteMultipartUpload."""
        query = {"partNumber": str(number), "uploadId": upload_id}
        headers = [(b"content-length", str(size).encode())]
        answer = await self.request(
            origin, principal, "PUT", _object_path(bucket, key), query, headers=headers, body=chunks
        )
        return answer.headers.get("etag", "")

    async def complete_multipart_upload(
        self,
        origin: Scope,
        principal: Principal,
        bucket: str,
        key: str,
        *,
        upload_id: str,
        etags: list[str],
    ) -> None:
        parts = "".join(
            f"<Part><PartNumber>{number}</PartNumber><ETag>{escape(etag)}</ETag></Part>"
            for number, etag in enumerate(etags, start=1)
        )
        body = f"<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>".encode()
        headers = [(b"content-length", str(len(body)).encode())]
        answer = await self.request(
            origin,
            principal,
            "POST",
            _object_path(bucket, key),
            {"uploadId": upload_id},
            headers=headers,
            body=body,
        )
        # S3 may answer 200 and then an error document, once the parts are being joined.
        if b"<Error>" in answer.body[:512]:
            raise _s3_error(Answer(500, answer.headers, answer.body))

    async def abort_multipart_upload(
        self, origin: Scope, principal: Principal, bucket: str, key: str, *, upload_id: str
    ) -> None:
        await self.request(
            origin, principal, "DELETE", _object_path(bucket, key), {"uploadId": upload_id}
        )

    async def delete_object(
        self, origin: Scope, principal: Principal, bucket: str, key: str
    ) -> None:
        await self.request(origin, principal, "DELETE", _object_path(bucket, key))

    async def forward_object(
        self,
        origin: Scope,
        principal: Principal,
        bucket: str,
        key: str,
        receive: Receive,
        send: Send,
        *,
        extra_headers: list[tuple[bytes, bytes]],
    ) -> WireError | None:
        """Stream the object to the console's client as S3 sends it, with ``extra_headers``
        (the download's Content-Disposition); S3's refusal is returned, not sent, for the
        console to show as a page."""
        try:
            path = _object_path(bucket, key)
        except WireError as exc:
            return exc
        scope = _scope(origin, principal, "GET", path, "", [])
        refused: Answer | None = None
        status = 0
        error_headers: dict[str, str] = {}
        error_body: list[bytes] = []

        async def relay(message: Message) -> None:
            nonlocal status, refused
            if message["type"] == "http.response.start":
                status = message["status"]
                if status >= 300:
                    for name, value in message.get("headers", []):
                        error_headers[name.decode("latin-1").lower()] = value.decode("latin-1")
                    return
                kept = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() in _FORWARDED
                ]
                await send({**message, "headers": [*kept, *extra_headers]})
            elif status >= 300:
                error_body.append(message.get("body", b""))
                if not message.get("more_body", False):
                    refused = Answer(status, error_headers, b"".join(error_body))
            else:
                await send(message)

        await self._app(scope, receive, relay)
        return _s3_error(refused) if refused is not None else None


_FORWARDED: Final = frozenset(
    {b"content-length", b"content-type", b"etag", b"last-modified", b"x-request-id"}
)


class KmsWire(JsonWire):
    """The KMS calls the console makes (``TrentService`` JSON), as ``principal``."""

    target_prefix = "TrentService."
    content_type = "application/x-amz-json-1.1"
    internal_error = "KMSInternalException"

    async def list_keys(
        self, origin: Scope, principal: Principal, *, marker: str | None, page_size: int
    ) -> tuple[list[KeyRow], str | None]:
        payload: dict[str, Any] = {"Limit": page_size}
        if marker:
            payload["Marker"] = marker
        listed = await self._json(origin, principal, "ListKeys", payload)
        rows = await asyncio.gather(
            *(self.describe(origin, principal, str(k["KeyId"])) for k in listed.get("Keys", []))
        )
        next_marker = listed.get("NextMarker") if listed.get("Truncated") else None
        return list(rows), next_marker

    async def describe(self, origin: Scope, principal: Principal, key_id: str) -> KeyRow:
        try:
            described = await self._json(origin, principal, "DescribeKey", {"KeyId": key_id})
        except WireError as exc:
            return KeyRow(key_id, "", exc.code, "")
        meta = described.get("KeyMetadata", {})
        return KeyRow(
            key_id,
            str(meta.get("Description", "")),
            str(meta.get("KeyState", "")),
            _when(meta.get("CreationDate")),
            _when(meta.get("DeletionDate")),
        )

    async def key_choices(
        self, origin: Scope, principal: Principal, *, limit: int
    ) -> list[tuple[str, str]]:
        """The account's aliases (first) and key ids a form offers as a key to use, each as
        (the reference a service takes, what the form shows): the first ``limit`` of each.
        Either list refused (a policy may allow one and not the other) is left out."""
        choices: list[tuple[str, str]] = []
        with suppress(WireError):
            listed = await self._json(origin, principal, "ListAliases", {"Limit": limit})
            for alias in listed.get("Aliases", []):
                name, target = str(alias.get("AliasName", "")), str(alias.get("TargetKeyId", ""))
                if name:
                    choices.append((name, f"{name} ({target})" if target else name))
        with suppress(WireError):
            listed = await self._json(origin, principal, "ListKeys", {"Limit": limit})
            choices.extend((str(k["KeyId"]), str(k["KeyId"])) for k in listed.get("Keys", []))
        return choices

    async def key_arn_choices(
        self, origin: Scope, principal: Principal, *, limit: int
    ) -> list[tuple[str, str]]:
        """As :meth:`key_choices`, by ARN, for a service that takes only ARNs (CloudWatch
        Logs' ``kmsKeyId``); the AWS-managed aliases (``alias/aws/…``) left out."""
        choices: list[tuple[str, str]] = []
        with suppress(WireError):
            listed = await self._json(origin, principal, "ListAliases", {"Limit": limit})
            for alias in listed.get("Aliases", []):
                name, arn = str(alias.get("AliasName", "")), str(alias.get("AliasArn", ""))
                if arn and not name.startswith("alias/aws/"):
                    choices.append((arn, name))
        with suppress(WireError):
            listed = await self._json(origin, principal, "ListKeys", {"Limit": limit})
            keys = [
                (str(k.get("KeyArn", "")), str(k.get("KeyId", ""))) for k in listed.get("Keys", [])
            ]
            choices.extend(key for key in keys if key[0])
        return choices

    async def create_key(self, origin: Scope, principal: Principal, description: str) -> str:
        created = await self._json(origin, principal, "CreateKey", {"Description": description})
        return str(created.get("KeyMetadata", {}).get("KeyId", ""))

    async def set_enabled(
        self, origin: Scope, principal: Principal, key_id: str, *, enabled: bool
    ) -> None:
        action = "EnableKey" if enabled else "DisableKey"
        await self._json(origin, principal, action, {"KeyId": key_id})

    async def schedule_deletion(
        self, origin: Scope, principal: Principal, key_id: str, days: int
    ) -> None:
        payload = {"KeyId": key_id, "PendingWindowInDays": days}
        await self._json(origin, principal, "ScheduleKeyDeletion", payload)


def _when(value: object) -> str:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value).isoformat(timespec="seconds")
    return str(value or "")


class QueryWire:
    """Calls of an AWS Query-protocol API (IAM, EC2) as ``principal``: a form-encoded POST of
    ``Action``, ``Version`` and the parameters; the answer's XML with its namespace taken off
    the tags, so pages read ``Users/member/UserName`` whichever API answered. A refusal, IAM's
    ``ErrorResponse/Error`` or EC2's ``Response/Errors/Error``, is raised as ``WireError``."""

    version: ClassVar[str]

    def __init__(self, app: AsgiApp) -> None:
        self._app = app

    async def call(
        self,
        origin: Scope,
        principal: Principal | None,
        action: str,
        params: Mapping[str, str] | None = None,
    ) -> Element:
        body = urlencode({"Action": action, "Version": self.version, **(params or {})}).encode()
        headers = [
            (b"content-type", b"application/x-www-form-urlencoded; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
        ]
        answer = await _call(self._app, _scope(origin, principal, "POST", "/", "", headers), body)
        try:
            root: Element | None = SafeET.fromstring(answer.body) if answer.body else None
        except SafeET.ParseError:
            root = None
        if root is not None:
            for element in root.iter():
                element.tag = element.tag.rsplit("}", 1)[-1]
        if answer.status >= 300 or root is None:
            code = message = ""
            if root is not None:
                code = next((e.text or "" for e in root.iter("Code")), "")
                message = next((e.text or "" for e in root.iter("Message")), "")
            raise WireError(code or "InternalFailure", message, answer.status)
        return root
