"""The static-website endpoint: ``BUCKET.<website_domain>`` on the S3 port serves the bucket's
website as S3's website endpoints do (decision 0081).

What differs from the S3 API on the same port:
- every request is anonymous (no signature is read) and only GET and HEAD are answered, so a
  website shows exactly what its bucket lets anyone read: a public bucket policy or a public
  ACL, within the bucket's Block Public Access settings;
- an empty key or one ending in ``/`` serves the index document under it; a key that is
  missing while ``KEY/<index>`` exists is redirected there (302);
- routing rules and ``RedirectAllRequestsTo`` redirect, and so does an object's own
  ``x-amz-website-redirect-location`` (301);
- errors are HTML pages, and a 4XX error serves the bucket's error document (with the
  error's status) when it has one that the reader may read.

How one object is read (authorised as the anonymous caller, then GetObject's or HeadObject's
handler, with the headers a browser or cache sends: ranges and conditions) is the S3
application's, handed in as a :data:`ReadObject`, so that a website read is authorised and
served exactly as the same anonymous read on the S3 API is.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from html import escape
from typing import Final
from urllib.parse import quote, unquote_to_bytes

from andromede.errors import AndromedeError
from andromede.http.response import Response
from andromede.s3.errors import S3Error, to_s3_error
from andromede.s3.handlers.common import S3Services
from andromede.s3.router import bucket_under
from andromede.settings import Settings
from andromede.storage.errors import NoSuchBucket
from andromede.storage.model import Bucket
from andromede.storage.service import ObjectService
from andromede.storage.website import RoutingRule, WebsiteConfiguration

__all__ = ["ReadFailed", "ReadObject", "WebsiteEndpoint", "error_page"]

log = logging.getLogger(__name__)

# The request headers a website read passes on to the object's read: ranges and the
# conditions caches send. Nothing else (no SSE-C key, no response-* override) applies.
_PASSED_HEADERS: Final = frozenset(
    {"range", "if-match", "if-none-match", "if-modified-since", "if-unmodified-since"}
)
_REDIRECT_HEADER: Final = "x-amz-website-redirect-location"
_HTML: Final = "text/html; charset=utf-8"
_REASONS: Final = {
    301: "Moved Permanently",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    412: "Precondition Failed",
    416: "Requested Range Not Satisfiable",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class ReadFailed(Exception):
    """A website read's failure: the error its reader is told, and whether the key is in fact
    missing (the reader may be told AccessDenied for a missing key it may not list)."""

    def __init__(self, error: S3Error, *, missing: bool) -> None:
        super().__init__(error.code)
        self.error = error
        self.missing = missing


# (bucket, key, method, passed headers) -> the object's response (primed for GET), or
# ReadFailed.
ReadObject = Callable[[Bucket, str, str, Mapping[str, str]], Awaitable[Response]]


class WebsiteEndpoint:
    def __init__(self, services: S3Services, domain: str) -> None:
        self._objects = services.objects
        self._settings = services.settings
        self._suffix = "." + domain.lower().strip(".")

    def bucket_from_host(self, host: str) -> str | None:
        """``BUCKET.<website_domain>`` names a website; any other host is the S3 API's."""
        return bucket_under(host, self._suffix)

    async def answer(
        self,
        bucket_name: str,
        method: str,
        raw_path: str,
        headers: Mapping[str, str],
        scheme: str,
        request_id: str,
        read: ReadObject,
    ) -> Response:
        """The website's answer to one request, its objects read by ``read``; raises only
        for unexpected errors."""
        try:
            return await _Request(self._objects, self._settings, read, scheme, request_id).answer(
                bucket_name, method, raw_path, headers
            )
        except AndromedeError as exc:
            wire = to_s3_error(exc)
            if wire is None:
                raise
            return error_page(wire, request_id, bucket=bucket_name, method=method)


class _Request:
    """One website request's routing, with what it needs at hand."""

    def __init__(
        self,
        objects: ObjectService,
        settings: Settings,
        read: ReadObject,
        scheme: str,
        request_id: str,
    ) -> None:
        self._objects = objects
        self._settings = settings
        self._read = read
        self._scheme = scheme
        self._request_id = request_id

    async def answer(
        self, bucket_name: str, method: str, raw_path: str, headers: Mapping[str, str]
    ) -> Response:
        scheme = self._scheme
        if method not in ("GET", "HEAD"):
            raise S3Error("MethodNotAllowed", Method=method, ResourceType="OBJECT")
        try:
            bucket = await self._objects.get_bucket(bucket_name)
        except NoSuchBucket:
            raise S3Error("NoSuchBucket", BucketName=bucket_name) from None
        if bucket.region not in self._settings.served_region_names:
            raise S3Error("PermanentRedirect", BucketName=bucket_name)
        config = await self._objects.get_bucket_website(bucket_name)
        if config is None:
            raise S3Error("NoSuchWebsiteConfiguration", BucketName=bucket_name)
        if config.redirect_all is not None:
            return _redirect(301, config.redirect_all.location(raw_path, scheme))
        suffix = config.index_suffix
        if suffix is None:  # PutBucketWebsite stores none such
            raise S3Error("NoSuchWebsiteConfiguration", BucketName=bucket_name)
        key = _decode_key(raw_path)
        host = headers.get("host", "")
        rule = config.rule_before_lookup(key)
        if rule is not None:
            return _rule_redirect(rule, key, scheme, host)
        passed = {name: value for name, value in headers.items() if name in _PASSED_HEADERS}
        wanted = key + suffix if key == "" or key.endswith("/") else key
        try:
            return await self._object(bucket, wanted, method, passed)
        except ReadFailed as failed:
            return await self._failed(failed, bucket, config, key, wanted, method, host)

    async def _object(
        self, bucket: Bucket, key: str, method: str, headers: Mapping[str, str]
    ) -> Response:
        if len(key.encode()) > self._settings.max_key_length:
            raise ReadFailed(
                S3Error("KeyTooLongError", MaxSizeAllowed=str(self._settings.max_key_length)),
                missing=False,
            )
        response = await self._read(bucket, key, method, headers)
        location = next((v for n, v in response.headers if n == _REDIRECT_HEADER), None)
        if location is None:
            return response
        await _discard(response)
        return _redirect(301, location)

    async def _failed(
        self,
        failed: ReadFailed,
        bucket: Bucket,
        config: WebsiteConfiguration,
        key: str,
        wanted: str,
        method: str,
        host: str,
    ) -> Response:
        error = failed.error
        scheme, request_id = self._scheme, self._request_id
        if failed.missing and wanted == key and config.index_suffix is not None:
            # A "directory" asked for without its slash: S3 sends the reader to it.
            try:
                found = await self._read(bucket, f"{key}/{config.index_suffix}", "HEAD", {})
            except ReadFailed:
                pass
            else:
                await _discard(found)
                return _redirect(302, "/" + quote(key + "/", safe="/~"))
        rule = config.rule_after_error(key, error.status)
        if rule is not None:
            return _rule_redirect(rule, key, scheme, host)
        if 400 <= error.status < 500 and config.error_key is not None:
            try:
                document = await self._object(bucket, config.error_key, method, {})
            except ReadFailed as second:
                return error_page(
                    error,
                    request_id,
                    bucket=bucket.name,
                    key=wanted,
                    method=method,
                    error_document_error=second.error,
                )
            document.status = error.status
            return document
        return error_page(error, request_id, bucket=bucket.name, key=wanted, method=method)


def _decode_key(raw_path: str) -> str:
    try:
        path = unquote_to_bytes(raw_path).decode("utf-8")
    except UnicodeDecodeError:
        raise S3Error("InvalidURI") from None
    return path[1:] if path.startswith("/") else path


def _rule_redirect(rule: RoutingRule, key: str, scheme: str, host: str) -> Response:
    location = rule.redirect.location(key, rule.key_prefix_equals or "", scheme, host)
    return _redirect(rule.redirect.status, location)


def _redirect(status: int, location: str) -> Response:
    return Response(status=status, headers=[("Location", location)])


async def _discard(response: Response) -> None:
    stream = response.stream
    if stream is not None:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()


def error_page(
    error: S3Error,
    request_id: str,
    *,
    bucket: str,
    method: str,
    key: str | None = None,
    error_document_error: S3Error | None = None,
) -> Response:
    """S3's HTML error page: the error's code, message and details, and, when the error
    document could not be served, why."""
    status = error.status
    title = f"{status} {_REASONS.get(status, 'Error')}"
    items = [("Code", error.code), ("Message", error.message)]
    details = dict(error.details)
    if key is not None and error.code == "NoSuchKey":
        details.setdefault("Key", key)
    if error.code in ("NoSuchBucket", "NoSuchWebsiteConfiguration"):
        details.setdefault("BucketName", bucket)
    items.extend(details.items())
    items.extend((("RequestId", request_id), ("HostId", request_id)))
    lines = [
        "<html>",
        f"<head><title>{escape(title)}</title></head>",
        "<body>",
        f"<h1>{escape(title)}</h1>",
        _list(items),
    ]
    if error_document_error is not None:
        lines.append(
            "<h3>An Error Occurred While Attempting to Retrieve a Custom Error Document</h3>"
        )
        lines.append(
            _list([("Code", error_document_error.code), ("Message", error_document_error.message)])
        )
    lines.extend(("<hr/>", "</body>", "</html>", ""))
    return Response(
        status=status,
        headers=[("Content-Type", _HTML), *error.response_headers],
        body="\n".join(lines).encode(),
        head=method == "HEAD",
    )


def _list(items: list[tuple[str, str]]) -> str:
    rows = "".join(f"<li>{escape(name)}: {escape(value)}</li>\n" for name, value in items)
    return f"<ul>\n{rows}</ul>"
