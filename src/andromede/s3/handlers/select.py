"""SelectObjectContent (``POST /key?select&select-type=2``, decision 0234): an SQL expression
run over one object, answered as an event stream.

The object is read as GetObject reads it — the same version, SSE-C key, KMS permission, and
the same decrypting stream — and its plaintext goes through ``andromede.s3select`` chunk by
chunk: nothing holds the object. A request the service cannot run (bad XML, SQL that does not
parse, a format it does not read) is refused with HTTP 400 before anything is sent; an error
met while the scan runs ends the stream with an error event, as on AWS.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Final
from xml.etree.ElementTree import Element

from andromede.errors import AndromedeError
from andromede.http.response import Response
from andromede.s3.errors import S3Error, to_s3_error
from andromede.s3.handlers.common import S3Services
from andromede.s3.handlers.encryption import check_kms_read, read_customer_key
from andromede.s3.handlers.version_reads import read_version
from andromede.s3.request import S3Context
from andromede.s3.xml import child_text, only_child, parse_xml, stripped_child_text
from andromede.s3select import eventstream
from andromede.s3select.errors import SelectError
from andromede.s3select.records import CsvInput, CsvOutput, JsonOutput
from andromede.s3select.scan import Counters, SelectRequest, run
from andromede.s3select.sql import parse

__all__ = ["select_object_content", "select_request"]

_DELIMITER_ELEMENT: Final = re.compile(
    rb"(<(RecordDelimiter|FieldDelimiter|QuoteCharacter|QuoteEscapeCharacter|Comments)>)"
    rb"([^<]*)(</\2>)"
)


async def select_object_content(ctx: S3Context, svc: S3Services) -> Response:
    body = await ctx.read_xml_body()
    try:
        request = select_request(
            parse_xml(_keep_carriage_returns(body), "SelectObjectContentRequest"),
            max_expression_size=svc.settings.select_max_expression_size,
            max_record_size=svc.settings.select_max_record_size,
            parquet_max_read=svc.settings.select_parquet_max_read,
        )
    except SelectError as exc:
        raise S3Error(exc.code, exc.message) from exc
    customer = read_customer_key(ctx)
    record = await read_version(ctx, svc)
    await svc.objects.check_customer_key(record, customer)
    await check_kms_read(ctx, svc, record)
    counters = Counters()
    ctx.select_counts = counters

    def read(start: int, end: int) -> AsyncIterator[bytes]:
        return svc.objects.read_object(record, start, end, customer_key=customer)

    stream = run(request, record.size, read, counters)
    return Response(
        headers=[("Content-Type", "application/octet-stream")],
        stream=_refused_before_output(stream),
    )


async def _refused_before_output(stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The stream, its Select errors before the first message made S3 errors (HTTP 400: the
    app reads the first message before it sends the status line)."""
    try:
        first = await anext(stream, None)
    except SelectError as exc:
        raise S3Error(exc.code, exc.message) from exc
    if first is None:
        return
    yield first
    try:
        async for message in stream:
            yield message
    except AndromedeError as exc:
        # The store failed mid-scan (a blob unreadable, the key service away): the status line
        # is gone, so the error travels as the stream's last message, in S3's words.
        wire = to_s3_error(exc) or S3Error("InternalError")
        yield eventstream.error(wire.code, wire.message)
    finally:
        closing = getattr(stream, "aclose", None)
        if closing is not None:
            await closing()


def _keep_carriage_returns(body: bytes) -> bytes:
    """An XML parser reads a carriage return as a newline (line-end normalisation), which
    would make the ``\r\n`` delimiter botocore sends a ``\n``: within the delimiter and
    quote elements, it is written as the character reference that keeps it."""
    return _DELIMITER_ELEMENT.sub(
        lambda found: found[1] + found[3].replace(b"\r", b"&#13;") + found[4], body
    )


def select_request(
    root: Element, *, max_expression_size: int, max_record_size: int, parquet_max_read: int
) -> SelectRequest:
    """The request the XML says, checked as AWS checks it."""
    expression = child_text(root, "Expression")
    if expression is None or not expression.strip():
        raise SelectError("MissingRequiredParameter", "Expression is missing.")
    if len(expression.encode()) > max_expression_size:
        raise SelectError("ExpressionTooLong")
    expression_type = stripped_child_text(root, "ExpressionType")
    if expression_type is None:
        raise SelectError("MissingRequiredParameter", "ExpressionType is missing.")
    if expression_type.upper() != "SQL":
        raise SelectError("InvalidExpressionType")
    inputs = only_child(root, "InputSerialization")
    outputs = only_child(root, "OutputSerialization")
    if inputs is None:
        raise SelectError("MissingRequiredParameter", "InputSerialization is missing.")
    if outputs is None:
        raise SelectError("MissingRequiredParameter", "OutputSerialization is missing.")
    csv_input, json_type = _input_format(inputs)
    parquet = json_type == "PARQUET"
    compression = (stripped_child_text(inputs, "CompressionType") or "NONE").upper()
    if compression not in ("NONE", "GZIP", "BZIP2"):
        raise SelectError("InvalidCompressionFormat")
    if parquet and compression != "NONE":
        # Parquet compresses its own column chunks: AWS takes CompressionType NONE only.
        raise SelectError("InvalidCompressionFormat", "Parquet takes CompressionType NONE.")
    progress = only_child(root, "RequestProgress")
    scan_start, scan_end = _scan_range(root)
    if scan_start is not None or scan_end is not None:
        if compression != "NONE" or json_type == "DOCUMENT":
            raise SelectError("UnsupportedScanRangeInput")
        if csv_input is not None and csv_input.allow_quoted_record_delimiter:
            raise SelectError("UnsupportedScanRangeInput")
    query = parse(expression)
    if csv_input is not None and query.source:
        raise SelectError("ParseInvalidPathComponent", "A CSV object has no paths in FROM.")
    if csv_input is not None and query.wildcards:
        raise SelectError("ParseInvalidPathComponent", "Wildcards are for JSON objects only.")
    return SelectRequest(
        query=query,
        csv_input=csv_input,
        json_type=json_type,
        compression=compression,
        output=_output_format(outputs),
        progress=progress is not None and _flag(progress, "Enabled"),
        scan_start=scan_start,
        scan_end=scan_end,
        max_record_size=max_record_size,
        parquet=parquet,
        parquet_max_read=parquet_max_read,
    )


def _input_format(inputs: Element) -> tuple[CsvInput | None, str]:
    """CSV's options, or None and the JSON type (DOCUMENT, LINES) or PARQUET."""
    csv, json = only_child(inputs, "CSV"), only_child(inputs, "JSON")
    parquet = only_child(inputs, "Parquet")
    if sum(x is not None for x in (csv, json, parquet)) != 1:
        raise SelectError(
            "ObjectSerializationConflict"
            if any(x is not None for x in (csv, json, parquet))
            else "MissingRequiredParameter"
        )
    if parquet is not None:
        return None, "PARQUET"
    if json is not None:
        kind = (stripped_child_text(json, "Type") or "DOCUMENT").upper()
        if kind not in ("DOCUMENT", "LINES"):
            raise SelectError("InvalidJsonType", "Type must be DOCUMENT or LINES.")
        return None, kind
    if csv is None:  # the one given is CSV: the count above says so
        raise SelectError("MissingRequiredParameter")
    header = (stripped_child_text(csv, "FileHeaderInfo") or "NONE").upper()
    if header not in ("USE", "IGNORE", "NONE"):
        raise SelectError("InvalidFileHeaderInfo", "FileHeaderInfo must be USE, IGNORE or NONE.")
    comments = child_text(csv, "Comments")
    made = CsvInput(
        header_info=header,
        record_delimiter=_delimiter(csv, "RecordDelimiter", "\n", longest=2),
        field_delimiter=_delimiter(csv, "FieldDelimiter", ",", longest=1),
        quote=_delimiter(csv, "QuoteCharacter", '"', longest=1),
        quote_escape=_delimiter(csv, "QuoteEscapeCharacter", '"', longest=1),
        comments="#" if comments is None else (comments or None),
        allow_quoted_record_delimiter=_flag(csv, "AllowQuotedRecordDelimiter"),
    )
    if made.comments is not None and len(made.comments) != 1:
        raise SelectError("InvalidRequestParameter", "Comments must be one character.")
    return made, ""


def _output_format(outputs: Element) -> CsvOutput | JsonOutput:
    csv, json = only_child(outputs, "CSV"), only_child(outputs, "JSON")
    if (csv is None) == (json is None):
        raise SelectError(
            "ObjectSerializationConflict" if csv is not None else "MissingRequiredParameter",
            "OutputSerialization names one format.",
        )
    if json is not None:
        return JsonOutput(_delimiter(json, "RecordDelimiter", "\n", longest=2))
    if csv is None:
        raise SelectError("MissingRequiredParameter")
    quote_fields = (stripped_child_text(csv, "QuoteFields") or "ASNEEDED").upper()
    if quote_fields not in ("ALWAYS", "ASNEEDED"):
        raise SelectError("InvalidQuoteFields", "QuoteFields must be ALWAYS or ASNEEDED.")
    return CsvOutput(
        quote_fields=quote_fields,
        record_delimiter=_delimiter(csv, "RecordDelimiter", "\n", longest=2),
        field_delimiter=_delimiter(csv, "FieldDelimiter", ",", longest=1),
        quote=_delimiter(csv, "QuoteCharacter", '"', longest=1),
        quote_escape=_delimiter(csv, "QuoteEscapeCharacter", '"', longest=1),
    )


def _delimiter(element: Element, name: str, default: str, *, longest: int) -> str:
    """A delimiter or quote character, as given (whitespace is one: never stripped)."""
    value = child_text(element, name)
    if value is None or value == "":
        return default
    if len(value) > longest:
        raise SelectError("InvalidRequestParameter", f"{name} is at most {longest} characters.")
    return value


def _flag(element: Element, name: str) -> bool:
    return (stripped_child_text(element, name) or "").lower() == "true"


def _scan_range(root: Element) -> tuple[int | None, int | None]:
    scan = only_child(root, "ScanRange")
    if scan is None:
        return None, None
    bounds: list[int | None] = []
    for name in ("Start", "End"):
        text = stripped_child_text(scan, name)
        if text is None or text == "":
            bounds.append(None)
        elif not text.isdigit():
            raise S3Error("InvalidArgument", f"ScanRange {name} must be a non-negative integer.")
        else:
            bounds.append(int(text))
    start, end = bounds
    if start is not None and end is not None and end < start:
        raise S3Error("InvalidArgument", "ScanRange End must not be below Start.")
    return start, end
