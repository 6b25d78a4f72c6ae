"""Buckets and their objects: list, create and delete buckets; browse a bucket by folder with
pagination; upload (streamed), download (streamed, as an attachment) and delete objects.
Every call is S3's, as the logged-in principal (``wire.S3Wire``)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, urlencode

from starlette.requests import ClientDisconnect, Request
from starlette.responses import RedirectResponse, Response

from andromede.console.handlers import Form, posted, signed_in
from andromede.console.session import CONSOLE_PATH, tokens_match
from andromede.console.upload import FormError, PartedUpload, StreamedForm
from andromede.console.wire import ObjectPage, WireError

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES"]


def _buckets_url() -> str:
    return f"{CONSOLE_PATH}/buckets"


def _objects_url(bucket: str, prefix: str = "") -> str:
    query = f"?{urlencode({'prefix': prefix})}" if prefix else ""
    return f"{CONSOLE_PATH}/buckets/{quote(bucket, safe='')}{query}"


async def _buckets_page(
    console: Console, request: Request, session: Session, *, error: str | None, status: int
) -> Response:
    _ = console.catalogue(request).gettext
    buckets = []
    try:
        buckets = await console.s3.list_buckets(request.scope, session.principal)
    except WireError as exc:
        error, status = console.error_text(request, exc), exc.status
    regions = sorted(r.name for r in console.settings.declared_regions)
    return console.render(
        request,
        "buckets.html",
        session=session,
        status=status,
        title=_("Buckets"),
        buckets=buckets,
        regions=regions,
        default_region=console.settings.region,
        error=error,
    )


@signed_in
async def buckets(console: Console, request: Request, session: Session) -> Response:
    return await _buckets_page(console, request, session, error=None, status=200)


@posted()
async def create_bucket(
    console: Console, request: Request, session: Session, fields: Form
) -> Response:
    name = fields.get("name", "").strip()
    region = fields.get("region", console.settings.region)
    try:
        await console.s3.create_bucket(request.scope, session.principal, name, region)
    except WireError as exc:
        text = console.error_text(request, exc)
        return await _buckets_page(console, request, session, error=text, status=exc.status)
    return RedirectResponse(_buckets_url(), status_code=303)


@posted()
async def delete_bucket(
    console: Console, request: Request, session: Session, fields: Form
) -> Response:
    bucket = request.path_params["bucket"]
    try:
        await console.s3.delete_bucket(request.scope, session.principal, bucket)
    except WireError as exc:
        text = console.error_text(request, exc)
        return await _buckets_page(console, request, session, error=text, status=exc.status)
    return RedirectResponse(_buckets_url(), status_code=303)


async def _objects_page(
    console: Console,
    request: Request,
    session: Session,
    bucket: str,
    *,
    prefix: str,
    token: str | None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    page = ObjectPage([], [], None)
    try:
        page = await console.s3.list_objects(
            request.scope,
            session.principal,
            bucket,
            prefix=prefix,
            token=token,
            page_size=console.settings.console_page_size,
        )
    except WireError as exc:
        error, status = console.error_text(request, exc), exc.status
    encryptions = await asyncio.gather(
        *(
            console.s3.encryption_of(request.scope, session.principal, bucket, row.key)
            for row in page.objects
        )
    )
    rows = [
        {"key": row.key, "name": row.key[len(prefix) :], "size": row.size,
         "modified": row.modified, "encryption": encryption}
        for row, encryption in zip(page.objects, encryptions, strict=True)
    ]  # fmt: skip
    crumbs = _breadcrumbs(prefix)
    next_url = None
    if page.next_token:
        next_url = (
            f"{_objects_url(bucket)}?{urlencode({'prefix': prefix, 'token': page.next_token})}"
        )
    return console.render(
        request,
        "objects.html",
        session=session,
        status=status,
        title=bucket,
        bucket=bucket,
        bucket_url=_objects_url(bucket),
        prefix=prefix,
        crumbs=[(label, _objects_url(bucket, p)) for label, p in crumbs],
        folders=[(f[len(prefix) :], _objects_url(bucket, f)) for f in page.folders],
        objects=rows,
        next_url=next_url,
        error=error,
        quote=quote,
    )


def _breadcrumbs(prefix: str) -> list[tuple[str, str]]:
    crumbs: list[tuple[str, str]] = []
    walked = ""
    for part in prefix.split("/")[:-1]:
        walked += part + "/"
        crumbs.append((part, walked))
    return crumbs


@signed_in
async def objects(console: Console, request: Request, session: Session) -> Response:
    return await _objects_page(
        console,
        request,
        session,
        request.path_params["bucket"],
        prefix=request.query_params.get("prefix", ""),
        token=request.query_params.get("token"),
    )


@signed_in
async def upload(console: Console, request: Request, session: Session) -> Response:
    """The browser's multipart form, parsed as it arrives (``console.upload``): the CSRF
    token and the folder first, then the file, whose bytes go to S3 a part at a time and are
    never written to the server's disk."""
    bucket = request.path_params["bucket"]
    _ = console.catalogue(request).gettext
    writer: PartedUpload | None = None
    try:
        form = StreamedForm(request.headers.get("content-type", ""))
        async for chunk in request.stream():
            for event in form.feed(chunk):
                if isinstance(event, bytes):
                    if writer is not None:  # always: the parser gives FileStart first
                        await writer.write(event)
                    continue
                csrf = form.fields.get("csrf")
                if csrf is None:  # the file came first: refused rather than held
                    return _closing(console.refused_form(request, session, status=400))
                if not tokens_match(session.csrf, csrf):
                    return _closing(console.refused_form(request, session))
                # The browser's file name, without any folder it may carry.
                name = event.filename.replace("\\", "/").rsplit("/", 1)[-1]
                if not name:
                    page = await _objects_page(
                        console, request, session, bucket, prefix=form.fields.get("prefix", ""),
                        token=None, error=_("Choose a file to upload."), status=400,
                    )  # fmt: skip
                    return _closing(page)
                writer = PartedUpload(
                    console.s3, request.scope, session.principal, bucket,
                    form.fields.get("prefix", "") + name, content_type=event.content_type,
                    part_size=console.settings.console_upload_part_size,
                )  # fmt: skip
        form.finish()
        prefix = form.fields.get("prefix", "")
        if writer is None:
            if not tokens_match(session.csrf, form.fields.get("csrf")):
                return console.refused_form(request, session)
            return await _objects_page(
                console, request, session, bucket, prefix=prefix, token=None,
                error=_("Choose a file to upload."), status=400,
            )  # fmt: skip
        await writer.finish()
    except BaseException as exc:
        if writer is not None:  # nothing is left half-written, whatever went wrong
            await writer.abort()
        if isinstance(exc, WireError):
            return await _objects_page(
                console, request, session, bucket, prefix=form.fields.get("prefix", ""),
                token=None, error=console.error_text(request, exc), status=exc.status,
            )  # fmt: skip
        if isinstance(exc, FormError):
            return _closing(console.refused_form(request, session, status=400))
        if isinstance(exc, ClientDisconnect):
            return Response(status_code=400)  # nobody is left to read it
        raise
    return RedirectResponse(_objects_url(bucket, prefix), status_code=303)


def _closing(response: Response) -> Response:
    """An answer given before the body was read whole: the rest must not be taken for a
    next request on the connection."""
    response.headers["connection"] = "close"
    return response


@signed_in
async def download(console: Console, request: Request, session: Session) -> Response:
    bucket = request.path_params["bucket"]
    key = request.query_params.get("key", "")
    filename = key.rsplit("/", 1)[-1] or "download"
    disposition = f"attachment; filename*=UTF-8''{quote(filename, safe='')}"
    return _Forwarded(console, session, bucket, key, disposition)


class _Forwarded(Response):
    """A download: S3's answer forwarded as it streams, or S3's refusal as a page."""

    def __init__(
        self, console: Console, session: Session, bucket: str, key: str, disposition: str
    ) -> None:
        super().__init__()
        self._console = console
        self._session = session
        self._bucket = bucket
        self._key = key
        self._disposition = disposition

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        refused = await self._console.s3.forward_object(
            scope,
            self._session.principal,
            self._bucket,
            self._key,
            receive,
            send,
            extra_headers=[(b"content-disposition", self._disposition.encode())],
        )
        if refused is not None:
            request = Request(scope, receive)
            prefix = self._key.rsplit("/", 1)[0] + "/" if "/" in self._key else ""
            page = await _objects_page(
                self._console, request, self._session, self._bucket, prefix=prefix, token=None,
                error=self._console.error_text(request, refused), status=refused.status,
            )  # fmt: skip
            await page(scope, receive, send)


@posted()
async def delete_object(
    console: Console, request: Request, session: Session, fields: Form
) -> Response:
    bucket = request.path_params["bucket"]
    key = fields.get("key", "")
    prefix = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
    try:
        await console.s3.delete_object(request.scope, session.principal, bucket, key)
    except WireError as exc:
        return await _objects_page(
            console, request, session, bucket, prefix=prefix, token=None,
            error=console.error_text(request, exc), status=exc.status,
        )  # fmt: skip
    return RedirectResponse(_objects_url(bucket, prefix), status_code=303)


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/buckets", buckets, ["GET"]),
    ("/buckets", create_bucket, ["POST"]),
    ("/buckets/{bucket}", objects, ["GET"]),
    ("/buckets/{bucket}/delete", delete_bucket, ["POST"]),
    ("/buckets/{bucket}/upload", upload, ["POST"]),
    ("/buckets/{bucket}/download", download, ["GET"]),
    ("/buckets/{bucket}/delete-object", delete_object, ["POST"]),
]
