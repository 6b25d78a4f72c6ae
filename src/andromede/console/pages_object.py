"""An object's page in the console (decision 0244): what HEAD tells of it (size, type, last
modification, ETag, encryption), its download, and "Query with S3 Select" — an SQL expression
over the object (CSV with its header used, ignored or absent, JSON lines or a document,
Parquet; no compression, GZIP or BZIP2; records out as CSV or JSON) run by SelectObjectContent
through the S3 wire as the signed-in principal (``wire_select``), so S3's authorisation (the
``s3:GetObject`` a Select needs), its key handling, audit and metering answer it. The records
are shown as text, escaped, at most ``console_select_max_output`` bytes of them (the page
says how many more were cut), with the Stats event's counts; S3's Select errors (before the
stream or inside it) are shown in its words with the form as typed.

The object's key travels in the query of the page's URL, as a download's does; the
expression travels in the form's body only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import Response

from andromede.console.handlers import Form, posted, refusal, signed_in
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_select import (
    COMPRESSIONS,
    CSV_HEADERS,
    INPUTS,
    OUTPUTS,
    SelectForm,
    SelectResult,
    select,
)

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES", "object_url"]

_DEFAULT_EXPRESSION: Final = "SELECT * FROM s3object s LIMIT 10"
_HEAD_REFUSALS: Final = {
    403: ("AccessDenied", "Access Denied"),
    404: ("NoSuchKey", "The specified key does not exist."),
}


def object_url(bucket: str, key: str) -> str:
    return f"{CONSOLE_PATH}/buckets/{quote(bucket, safe='')}/object?{urlencode({'key': key})}"


async def _head(
    console: Console, request: Request, session: Session, bucket: str, key: str
) -> dict[str, str]:
    """HEAD's answer as the page shows it; S3's refusal raised."""
    if not key:
        raise WireError("NoSuchKey", "The specified key does not exist.", 404)
    try:
        answer = await console.s3.request(
            request.scope, session.principal, "HEAD", f"/{bucket}/{key}"
        )
    except WireError as exc:
        # HEAD's refusal has no body to name its code: its status does, as for boto3.
        if exc.status not in _HEAD_REFUSALS:
            raise
        code, message = _HEAD_REFUSALS[exc.status]
        raise WireError(code, message, exc.status) from exc
    return {
        "size": answer.headers.get("content-length", ""),
        "type": answer.headers.get("content-type", ""),
        "modified": answer.headers.get("last-modified", ""),
        "etag": answer.headers.get("etag", ""),
    }


async def _object_page(
    console: Console,
    request: Request,
    session: Session,
    bucket: str,
    key: str,
    *,
    typed: Form | None = None,
    result: SelectResult | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    facts: dict[str, str] | None = None
    encryption = "-"
    try:
        facts = await _head(console, request, session, bucket, key)
    except WireError as exc:
        if error is None:
            error, status = refusal(console, request, exc)
    else:
        encryption = await console.s3.encryption_of(request.scope, session.principal, bucket, key)
    parent = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
    bucket_url = f"{CONSOLE_PATH}/buckets/{quote(bucket, safe='')}"
    return console.render(
        request,
        "object.html",
        session=session,
        status=status,
        title=f"{_('Object')} {key}",
        bucket=bucket,
        key=key,
        bucket_url=bucket_url,
        folder_url=f"{bucket_url}?{urlencode({'prefix': parent})}" if parent else bucket_url,
        facts=facts,
        encryption=encryption,
        download_url=f"{bucket_url}/download?{urlencode({'key': key})}",
        inputs=INPUTS,
        csv_headers=CSV_HEADERS,
        compressions=COMPRESSIONS,
        outputs=OUTPUTS,
        form={"expression": _DEFAULT_EXPRESSION, **(typed or {})},
        result=result,
        max_output=console.settings.console_select_max_output,
        error=error,
    )


@signed_in
async def object_page(console: Console, request: Request, session: Session) -> Response:
    bucket = request.path_params.get("bucket", "")
    return await _object_page(
        console, request, session, bucket, request.query_params.get("key", "")
    )


@posted()
async def query(console: Console, request: Request, session: Session, fields: Form) -> Response:
    """The Select form: the records on the object's page, or S3's refusal there, the form
    as typed either way."""
    bucket, key = request.path_params.get("bucket", ""), fields.get("key", "")
    form = SelectForm.from_fields(fields)
    try:
        result = await select(
            console.s3, request.scope, session.principal, bucket, key, form,
            max_output=console.settings.console_select_max_output,
        )  # fmt: skip
    except WireError as exc:
        error, status = refusal(console, request, exc)
        return await _object_page(
            console, request, session, bucket, key, typed=fields, error=error, status=status
        )
    return await _object_page(console, request, session, bucket, key, typed=fields, result=result)


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/buckets/{bucket}/object", object_page, ["GET"]),
    ("/buckets/{bucket}/select", query, ["POST"]),
]
