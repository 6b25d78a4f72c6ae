"""S3 Select's formats: records cut from a stream of bytes (CSV and JSON LINES by their
record delimiter, JSON DOCUMENT by its values), CSV fields, and the CSV and JSON output.

Each reader is fed chunks and gives back the records they complete, holding at most one
unfinished record (``max_record_size`` bytes, else ``OverMaxRecordSize``): an object of any
size is read in constant memory. A record's offset is its first byte's place in the object,
which a ``ScanRange`` needs (AWS's rule: a record belongs to the range its first byte is in).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Final

from andromede.s3select.errors import SelectError
from andromede.s3select.values import MISSING, CsvRow, Header, show, show_timestamp

__all__ = [
    "CsvInput",
    "CsvOutput",
    "DocumentReader",
    "JsonOutput",
    "LineSplitter",
    "csv_fields",
]

DOCUMENT_PARSE_STEP: Final = 64 * 1024  # a JSON document is parsed again each time it grew so


@dataclass(frozen=True, slots=True)
class CsvInput:
    """``InputSerialization/CSV``, AWS's defaults."""

    header_info: str = "NONE"  # USE, IGNORE, NONE
    record_delimiter: str = "\n"
    field_delimiter: str = ","
    quote: str = '"'
    quote_escape: str = '"'
    comments: str | None = "#"
    allow_quoted_record_delimiter: bool = False


@dataclass(frozen=True, slots=True)
class CsvOutput:
    """``OutputSerialization/CSV``."""

    quote_fields: str = "ASNEEDED"  # ALWAYS, ASNEEDED
    record_delimiter: str = "\n"
    field_delimiter: str = ","
    quote: str = '"'
    quote_escape: str = '"'

    def write(self, values: list[object]) -> str:
        fields = []
        quote, delimiter = self.quote, self.field_delimiter
        for value in values:
            text = _output_text(value)
            special = (
                quote in text
                or delimiter in text
                or self.record_delimiter in text
                or "\n" in text
                or "\r" in text
            )
            if self.quote_fields == "ALWAYS" or special:
                text = quote + text.replace(quote, self.quote_escape + quote) + quote
            fields.append(text)
        return delimiter.join(fields) + self.record_delimiter


@dataclass(frozen=True, slots=True)
class JsonOutput:
    """``OutputSerialization/JSON``: one object a record, MISSING fields left out."""

    record_delimiter: str = "\n"

    def write(self, pairs: list[tuple[str, object]]) -> str:
        made = {name: value for name, value in pairs if value is not MISSING}
        return (
            json.dumps(made, separators=(",", ":"), default=_json_default) + self.record_delimiter
        )


def _output_text(value: object) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), default=_json_default)
    return show(value)


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        return show_timestamp(value)
    raise TypeError(type(value).__name__)


class LineSplitter:
    """Records cut at a delimiter (CSV and JSON LINES). ``quote``: the CSV quote character
    when quoted delimiters are allowed (a delimiter between quotes is then data).
    ``skip_first``: a scan range starting inside the object drops the bytes up to the
    first delimiter, which belong to the record before the range."""

    def __init__(
        self,
        delimiter: bytes,
        max_record_size: int,
        *,
        offset: int = 0,
        quote: bytes | None = None,
        escape: bytes | None = None,
        comment: bytes | None = None,
        field_delimiter: bytes | None = None,
        skip_first: bool = False,
    ) -> None:
        self._delimiter = delimiter
        self._max = max_record_size
        self._quote = quote
        self._escape = escape if escape != quote else None
        self._comment = comment  # a record starting with it is a comment: no quotes in it
        self._in_comment = False
        self._field_delimiter = field_delimiter
        self._buffer = bytearray()
        self._start = offset  # the buffer's first byte's offset in the object
        self._searched = 0  # how far the buffer holds no delimiter (outside quotes)
        self._quoted = False
        self._skipping = skip_first

    def feed(self, data: bytes) -> Iterator[tuple[int, bytes]]:
        if self._quote is None:
            yield from self._split(data)
            return
        self._buffer += data
        buffer, delimiter = self._buffer, self._delimiter
        taken = 0
        while True:
            at = self._find(buffer, taken)
            if at < 0:
                break
            record = bytes(buffer[taken:at])
            offset = self._start + taken
            taken = at + len(delimiter)
            self._searched = taken
            if self._skipping:
                self._skipping = False
                continue
            yield offset, record
        if taken:
            del buffer[:taken]
            self._start += taken
            self._searched -= taken
        if len(buffer) > self._max and not self._skipping:
            raise SelectError("OverMaxRecordSize")

    def _split(self, data: bytes) -> Iterator[tuple[int, bytes]]:
        """Without quotes to follow: one ``bytes.split`` a chunk (the common case, several
        times faster than a search per record)."""
        parts = (bytes(self._buffer) + data if self._buffer else data).split(self._delimiter)
        rest = parts.pop()
        offset, step = self._start, len(self._delimiter)
        for record in parts:
            if self._skipping:
                self._skipping = False
            else:
                yield offset, record
            offset += len(record) + step
        self._buffer = bytearray(rest)
        self._start = offset
        if len(rest) > self._max and not self._skipping:
            raise SelectError("OverMaxRecordSize")

    def finish(self) -> Iterator[tuple[int, bytes]]:
        if self._buffer and not self._skipping:
            yield self._start, bytes(self._buffer)
        self._buffer.clear()

    def _find(self, buffer: bytearray, taken: int) -> int:
        start = max(self._searched, taken)
        if self._quote is None:
            found = buffer.find(self._delimiter, start)
            if found < 0:
                # A delimiter of two bytes may straddle this chunk and the next.
                self._searched = max(len(buffer) - len(self._delimiter) + 1, taken)
            return found
        quote = self._quote
        position = start
        comment = self._comment
        if (
            comment is not None
            and not self._quoted
            and position == taken
            and buffer[position : position + 1] == comment
        ):
            self._in_comment = True
        if self._in_comment:
            found = buffer.find(self._delimiter, position)
            if found < 0:
                self._searched = max(len(buffer) - len(self._delimiter) + 1, position)
                return -1
            self._in_comment = False
            return found
        while True:
            if self._quoted:
                closing = buffer.find(quote, position)
                escape = self._escape
                escaped = buffer.find(escape, position) if escape is not None else -1
                if escaped >= 0 and (closing < 0 or escaped < closing):
                    if escaped + 1 >= len(buffer):
                        self._searched = escaped  # what follows it is in the next chunk
                        return -1
                    position = escaped + 2  # an escaped quote (or data) stays quoted
                    continue
                if closing < 0:
                    self._searched = len(buffer)
                    return -1
                self._quoted = False
                position = closing + 1
                continue
            found = buffer.find(self._delimiter, position)
            opening = buffer.find(quote, position)
            if opening >= 0 and (found < 0 or opening < found):
                position = opening + 1
                # A quote opens a quoted field only at the field's start, as the field
                # reader has it (inside an unquoted field it is data).
                separator = self._field_delimiter
                if (
                    separator is None
                    or opening == taken
                    or (
                        opening - len(separator) >= taken
                        and buffer[opening - len(separator) : opening] == separator
                    )
                ):
                    self._quoted = True
                continue
            if found < 0:
                self._searched = max(len(buffer) - len(self._delimiter) + 1, position)
            return found


class DocumentReader:
    """JSON DOCUMENT input: top-level values one after another (whitespace between), each
    at most ``max_record_size`` bytes. ``spread``: a top-level array is read element by
    element (``FROM S3Object[*]``, which spreads it), each element at most
    ``max_record_size``, so an array of any size streams in bounded memory; its elements
    come as ``(element, True)``, other values as ``(value, False)``."""

    def __init__(self, max_record_size: int, *, spread: bool = False) -> None:
        self._max = max_record_size
        self._spread = spread
        self._decoder = json.JSONDecoder()
        self._text = ""
        self._tried_at = -1
        self._pending = bytearray()  # bytes of a character cut by the chunk's end
        self._in_array = False  # inside a spread top-level array
        self._after_element = False  # an element was read: a comma or the end comes next
        self._elements = 0  # the open array's elements so far

    @property
    def held(self) -> int:
        """The characters held for values not yet complete."""
        return len(self._text) + len(self._pending)

    def feed(self, data: bytes, *, final: bool = False) -> Iterator[tuple[object, bool]]:
        self._pending += data
        text = self._text + _decode_prefix(self._pending, final=final)
        at = 0  # values are read in place: no copy of the rest after each one
        try:
            while True:
                at = _SPACE.match(text, at).end()  # type: ignore[union-attr]
                left = len(text) - at
                if not left:
                    if final and self._in_array:
                        raise SelectError("JSONParsingError", "The array does not end.")
                    return
                if self._in_array:
                    moved = self._punctuation(text, at)
                    if moved is not None:
                        at, closed = moved
                        if closed is not None:
                            yield closed, False  # an empty array: one value, as it is
                        continue
                elif self._spread and text[at] == "[":
                    self._in_array, self._after_element, self._elements = True, False, 0
                    at += 1
                    continue
                worth_a_parse = (
                    final
                    or _may_close(text, at)
                    or left - self._tried_at >= DOCUMENT_PARSE_STEP
                    or left > self._max
                )
                if not worth_a_parse:
                    return
                try:
                    value, end = self._decoder.raw_decode(text, at)
                except json.JSONDecodeError as exc:
                    if left > self._max:
                        raise SelectError("OverMaxRecordSize") from exc
                    if final:
                        raise SelectError("JSONParsingError") from exc
                    self._tried_at = left
                    return
                if end - at > self._max:
                    raise SelectError("OverMaxRecordSize")
                if self._in_array and not final and _SPACE.match(text, end).end() == len(text):  # type: ignore[union-attr]
                    # ``12`` may be the start of ``123``: an element is whole once what
                    # follows it is seen.
                    self._tried_at = left
                    return
                self._tried_at = -1
                at = end
                if self._in_array:
                    self._after_element = True
                    self._elements += 1
                yield value, self._in_array
        finally:
            self._text = text[at:]

    def _punctuation(self, text: str, at: int) -> tuple[int, list[object] | None] | None:
        """Inside a spread array: past a comma or the closing bracket (and the empty array
        it closed, if so), or None where an element starts."""
        char = text[at]
        if char == "]" and (self._after_element or not self._elements):
            self._in_array = False
            return at + 1, ([] if not self._elements else None)
        if self._after_element:
            if char != ",":
                raise SelectError("JSONParsingError", "Expected a comma between elements.")
            self._after_element = False
            return at + 1, None
        if char in ",]":
            raise SelectError("JSONParsingError", "Expected an array element.")
        return None


_SPACE: Final = re.compile(r"\s*")


def _may_close(text: str, at: int) -> bool:
    """Whether a value that starts at ``at`` may end in ``text``: worth a parse (else wait
    for more bytes)."""
    if text[at] not in "{[":
        return True
    tail = len(text) - 1
    while tail > at and text[tail].isspace():
        tail -= 1
    return text[tail] in '}]"'


def _decode_prefix(pending: bytearray, *, final: bool) -> str:
    """The text of ``pending``'s whole characters (taken out of it)."""
    cut = len(pending)
    if not final:
        # Leave a multi-byte character that the chunk's end cut for the next chunk.
        for back in range(1, min(4, cut) + 1):
            byte = pending[cut - back]
            if byte & 0xC0 != 0x80:
                if byte >= 0xC0 and back < (2 if byte < 0xE0 else 3 if byte < 0xF0 else 4):
                    cut -= back
                break
    try:
        text = bytes(pending[:cut]).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SelectError("InvalidTextEncoding") from exc
    del pending[:cut]
    return text


def decode_record(record: bytes) -> str:
    try:
        return record.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SelectError("InvalidTextEncoding") from exc


def csv_fields(text: str, options: CsvInput) -> list[str]:
    """One CSV record's fields, its quotes and escapes undone.

    AWS's rules, not Python's ``csv`` (which refuses a newline in an unquoted field): a
    field that starts with ``QuoteCharacter`` runs to the quote that closes it, delimiters
    and newlines within it data; ``QuoteEscapeCharacter`` before a quote inside it (the
    quote doubled when both are the same character) is a quote; outside quotes every
    character but the field delimiter is data."""
    quote, escape, delimiter = options.quote, options.quote_escape, options.field_delimiter
    if quote not in text:
        return text.split(delimiter)  # the common case, without a parser
    fields: list[str] = []
    at, size = 0, len(text)
    while True:
        if at < size and text[at] == quote:
            value, at = _quoted_field(text, at + 1, quote, escape, options)
            if at < size and text[at] != delimiter:
                raise SelectError("CSVParsingError", "A quoted field goes on after its quote.")
        else:
            end = text.find(delimiter, at)
            end = size if end < 0 else end
            value, at = text[at:end], end
        fields.append(value)
        if at >= size:
            return fields
        at += len(delimiter)  # past the field delimiter
        if at >= size:
            fields.append("")
            return fields


def _quoted_field(
    text: str, at: int, quote: str, escape: str, options: CsvInput
) -> tuple[str, int]:
    """A quoted field's value from just after its opening quote, and where it ended (just
    after its closing quote)."""
    parts: list[str] = []
    size = len(text)
    while True:
        closing = text.find(quote, at)
        escaped = text.find(escape, at) if escape != quote else -1
        if escaped >= 0 and (closing < 0 or escaped < closing):
            if escaped + 1 < size and text[escaped + 1] == quote:
                parts.append(text[at:escaped] + quote)
                at = escaped + 2
                continue
            # An escape before another character is data with it (never a closing quote's
            # escape: the splitter reads the pair so too).
            parts.append(text[at : escaped + 2])
            at = escaped + 2
            continue
        if closing < 0:
            raise SelectError(
                "CSVParsingError"
                if options.allow_quoted_record_delimiter
                else "CSVEscapingRecordDelimiter"
            )
        if escape == quote and closing + 1 < size and text[closing + 1] == quote:
            parts.append(text[at:closing] + quote)  # a doubled quote
            at = closing + 2
            continue
        parts.append(text[at:closing])
        return "".join(parts), closing + 1


class CsvRecords:
    """CSV records as rows: the header taken or skipped, comment lines left out."""

    def __init__(self, options: CsvInput, header: Header | None = None) -> None:
        self._options = options
        self._header = header
        self._first = header is None and options.header_info in ("USE", "IGNORE")
        self._strip_cr = options.record_delimiter == "\n"

    def take_header(self, record: bytes) -> None:
        """The object's first line read apart (a scan range that does not start at 0)."""
        self._first = False
        if self._options.header_info == "USE":
            self._header = Header(csv_fields(self._text(record), self._options))

    def row(self, record: bytes) -> CsvRow | None:
        text = self._text(record)
        comments = self._options.comments
        if comments and text.startswith(comments):
            return None
        if self._first:
            self._first = False
            if self._options.header_info == "USE":
                self._header = Header(csv_fields(text, self._options))
            return None
        if not text:
            return None  # a blank line
        return CsvRow(csv_fields(text, self._options), self._header)

    def _text(self, record: bytes) -> str:
        text = decode_record(record)
        return text[:-1] if self._strip_cr and text.endswith("\r") else text
