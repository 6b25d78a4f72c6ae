"""A browser's upload, from its ``multipart/form-data`` body to S3, with no byte of the file
on the server's disk.

The form is parsed as it arrives (python-multipart's streaming ``MultipartParser``, not
Starlette's ``request.form()``, which spools a file past 1 MiB to a temporary file). Its small
fields (the CSRF token, the folder) come first, as the console's template renders them; the
file's bytes are then held in memory one S3 part at a time (``console_upload_part_size``): a
file that fits in one part is one PutObject, a larger one a multipart upload whose parts are
sent as they fill. Any failure — S3's refusal, a malformed form, the client going away —
aborts the multipart upload, so nothing is left half-written.
"""

from __future__ import annotations

import codecs
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from andromede.console.wire import S3Wire, WireError
from andromede.errors import AndromedeError
from andromede.http.response import Scope
from andromede.iam.model import Principal

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

__all__ = [
    "FileStart",
    "FormError",
    "PartedUpload",
    "StreamedForm",
]

# S3 is fed in pieces of this size, as a client's socket would.
_FEED_CHUNK: Final = 256 * 1024
_MAX_FIELDS: Final = 8
_MAX_FIELD_SIZE: Final = 8 * 1024  # a CSRF token or a folder (S3 keys are at most 1 KiB)


class FormError(AndromedeError):
    """The form cannot be read, or is not in the order the console renders it (400)."""


@dataclass(frozen=True, slots=True)
class FileStart:
    """The file part's headers: the fields before it are all known by now."""

    filename: str
    content_type: str


class StreamedForm:
    """Feed the body's chunks in; get back what the parser found in them: ``FileStart``
    once, then the file's bytes. The fields are in ``fields`` as soon as they end; a field
    after the file, a second file, too many or too large fields are ``FormError``."""

    def __init__(self, content_type: str, *, max_fields: int = _MAX_FIELDS) -> None:
        kind, options = parse_options_header(content_type)
        boundary = options.get(b"boundary")
        if kind != b"multipart/form-data" or not boundary:
            raise FormError("not a multipart form")
        charset = options.get(b"charset", b"utf-8").decode("latin-1")
        try:
            self._charset = codecs.lookup(charset).name
        except LookupError:
            self._charset = "latin-1"
        self.fields: dict[str, str] = {}
        self._field_count = 0
        self._max_fields = max_fields
        self._events: list[FileStart | bytes] = []
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._part_type = b""
        self._field: str | None = None
        self._field_data = bytearray()
        self._in_file = False
        self._file_seen = False
        self._ended = False
        callbacks: MultipartCallbacks = {
            "on_part_begin": self._part_begin,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value_part,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_end": self._end,
        }
        try:
            self._parser = MultipartParser(boundary, callbacks)
        except FormParserError as exc:
            raise FormError("the form's boundary is invalid") from exc

    def feed(self, chunk: bytes) -> list[FileStart | bytes]:
        try:
            self._parser.write(chunk)
        except FormParserError as exc:
            raise FormError("the form could not be read") from exc
        events, self._events = self._events, []
        return events

    def finish(self) -> None:
        try:
            self._parser.finalize()
        except FormParserError as exc:
            raise FormError("the form could not be read") from exc
        if not self._ended:
            raise FormError("the form ended early")

    # -- the parser's callbacks ----------------------------------------------------------------
    def _part_begin(self) -> None:
        self._disposition = self._part_type = b""
        self._field = None
        self._field_data = bytearray()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_part(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        name = self._header_name.strip().lower()
        if name == b"content-disposition":
            self._disposition = self._header_value
        elif name == b"content-type":
            self._part_type = self._header_value.strip()
        self._header_name = self._header_value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        if b"name" not in options:
            raise FormError("a part without a name")
        if self._file_seen:
            raise FormError("a part after the file")
        if b"filename" in options:
            self._file_seen = self._in_file = True
            filename = options[b"filename"].decode(self._charset, "replace")
            content_type = self._part_type.decode("latin-1") or "application/octet-stream"
            self._events.append(FileStart(filename, content_type))
            return
        self._field_count += 1
        if self._field_count > self._max_fields:
            raise FormError("too many fields")
        self._field = options[b"name"].decode(self._charset, "replace")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._events.append(data[start:end])
            return
        if len(self._field_data) + end - start > _MAX_FIELD_SIZE:
            raise FormError("a field too large")
        self._field_data += data[start:end]

    def _part_end(self) -> None:
        if self._in_file:
            self._in_file = False
        elif self._field is not None:
            self.fields[self._field] = self._field_data.decode(self._charset, "replace")

    def _end(self) -> None:
        self._ended = True


class PartedUpload:
    """One object written from bytes that arrive in pieces, holding at most one part in
    memory: a PutObject when the whole object fits in a part, else a multipart upload."""

    def __init__(
        self,
        s3: S3Wire,
        origin: Scope,
        principal: Principal,
        bucket: str,
        key: str,
        *,
        content_type: str,
        part_size: int,
    ) -> None:
        self._s3 = s3
        self._origin = origin
        self._principal = principal
        self._bucket = bucket
        self._key = key
        self._content_type = content_type
        self._part_size = part_size
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._etags: list[str] = []

    async def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if len(self._buffer) == self._part_size:
                # Full, and more is coming: this part is not the last one.
                await self._send_part()
            room = self._part_size - len(self._buffer)
            self._buffer += view[:room]
            view = view[room:]

    async def finish(self) -> None:
        if self._upload_id is None:
            await self._s3.put_object(
                self._origin,
                self._principal,
                self._bucket,
                self._key,
                size=len(self._buffer),
                content_type=self._content_type,
                chunks=_pieces(self._buffer),
            )
            self._buffer = bytearray()
            return
        await self._send_part()
        await self._s3.complete_multipart_upload(
            self._origin,
            self._principal,
            self._bucket,
            self._key,
            upload_id=self._upload_id,
            etags=self._etags,
        )
        self._upload_id = None

    async def abort(self) -> None:
        """Drop what was sent; S3's own refusal to abort is left for its lifecycle rules."""
        self._buffer = bytearray()
        upload_id, self._upload_id = self._upload_id, None
        if upload_id is None:
            return
        try:
            await self._s3.abort_multipart_upload(
                self._origin, self._principal, self._bucket, self._key, upload_id=upload_id
            )
        except WireError:
            pass

    async def _send_part(self) -> None:
        if self._upload_id is None:
            self._upload_id = await self._s3.create_multipart_upload(
                self._origin,
                self._principal,
                self._bucket,
                self._key,
                content_type=self._content_type,
            )
        part, self._buffer = self._buffer, bytearray()
        etag = await self._s3.upload_part(
            self._origin,
            self._principal,
            self._bucket,
            self._key,
            upload_id=self._upload_id,
            number=len(self._etags) + 1,
            size=len(part),
            chunks=_pieces(part),
        )
        self._etags.append(etag)


async def _pieces(buffer: bytearray) -> AsyncIterator[bytes]:
    view = memoryview(buffer)
    for offset in range(0, len(view), _FEED_CHUNK):
        yield bytes(view[offset : offset + _FEED_CHUNK])
