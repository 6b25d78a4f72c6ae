"""S3 Select (decision 0234) from the console's object page (decision 0244): the request
SelectObjectContent takes, built from the page's form, sent through the S3 wire as the
signed-in principal (``POST /bucket/key?select&select-type=2``), and its answer read as S3
sends it — AWS's event stream, whose framing ``andromede.s3select.eventstream`` writes (to
move to ``andromede.awswire.eventstream``): each message its total and headers' lengths, the
prelude's CRC32, the headers, the payload and the message's CRC32. ``Records`` events' payloads
are kept up to the page's bound (``console_select_max_output``), the rest counted as cut;
``Stats`` gives the bytes scanned, processed and returned; an ``error`` message (a Select
error met while the scan ran, after S3's status line) is S3's refusal as any other.

The scan runs to its end even past the bound: S3 would log a cut connection as a failure, and
an expression's ``LIMIT`` is how a user bounds the scan itself.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from html import escape
from typing import Final

import defusedxml.ElementTree as SafeET

from andromede.console.wire import S3Wire, WireError
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = [
    "COMPRESSIONS",
    "CSV_HEADERS",
    "INPUTS",
    "OUTPUTS",
    "EventStreamReader",
    "SelectForm",
    "SelectResult",
    "select",
]

# The input formats the form offers, and how each is written in InputSerialization.
INPUTS: Final = ("CSV", "JSON_LINES", "JSON_DOCUMENT", "PARQUET")
CSV_HEADERS: Final = ("USE", "IGNORE", "NONE")  # FileHeaderInfo
COMPRESSIONS: Final = ("NONE", "GZIP", "BZIP2")
OUTPUTS: Final = ("CSV", "JSON")
_PRELUDE: Final = 12  # total length, headers' length, the prelude's CRC32
# A header's value length by its type (AWS's event stream): 0 and 1 are booleans with none;
# 6 (bytes) and 7 (string) carry a 16-bit length first.
_FIXED: Final = {0: 0, 1: 0, 2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16}
_MAX_MESSAGE: Final = 16 * 1024 * 1024  # AWS's bound on one event-stream message


@dataclass(frozen=True, slots=True)
class SelectForm:
    """What the page's form asks: the expression and the formats, as chosen."""

    expression: str
    input: str = "CSV"
    csv_header: str = "USE"
    compression: str = "NONE"
    output: str = "JSON"
    # CSV input's delimiters and quote, as typed ("" for S3's defaults); ``\t``, ``\n`` and
    # ``\r`` stand for the characters a text field cannot hold.
    field_delimiter: str = ""
    quote: str = ""
    record_delimiter: str = ""
    scan_start: str = ""  # ScanRange, bytes: "" for none
    scan_end: str = ""

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> SelectForm:
        """The form as posted (S3 refuses what it does not take, in its own words)."""
        return cls(
            expression=fields.get("expression", ""),
            input=fields.get("input", "CSV"),
            csv_header=fields.get("csv_header", "USE"),
            compression=fields.get("compression", "NONE"),
            output=fields.get("output", "JSON"),
            field_delimiter=fields.get("field_delimiter", ""),
            quote=fields.get("quote", ""),
            record_delimiter=fields.get("record_delimiter", ""),
            scan_start=fields.get("scan_start", "").strip(),
            scan_end=fields.get("scan_end", "").strip(),
        )

    def request_xml(self) -> bytes:
        """SelectObjectContent's body (a format the form does not offer is S3's to refuse)."""
        if self.input == "CSV":
            options = "".join(
                f"<{name}>{escape(_control(value), quote=False)}</{name}>"
                for name, value in (
                    ("FieldDelimiter", self.field_delimiter),
                    ("QuoteCharacter", self.quote),
                    ("RecordDelimiter", self.record_delimiter),
                )
                if value
            )
            source = (
                f"<CSV><FileHeaderInfo>{escape(self.csv_header)}</FileHeaderInfo>{options}</CSV>"
            )
        elif self.input == "PARQUET":
            source = "<Parquet/>"
        else:
            kind = "LINES" if self.input == "JSON_LINES" else "DOCUMENT"
            source = f"<JSON><Type>{kind}</Type></JSON>"
        output = "<CSV/>" if self.output == "CSV" else "<JSON/>"
        return (
            '<SelectObjectContentRequest xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"<Expression>{escape(self.expression)}</Expression>"
            "<ExpressionType>SQL</ExpressionType>"
            f"<InputSerialization><CompressionType>{escape(self.compression)}</CompressionType>"
            f"{source}</InputSerialization>"
            f"<OutputSerialization>{output}</OutputSerialization>"
            f"{self._scan_range()}"
            "</SelectObjectContentRequest>"
        ).encode()

    def _scan_range(self) -> str:
        if not self.scan_start and not self.scan_end:
            return ""
        bounds = "".join(
            f"<{name}>{escape(value)}</{name}>"
            for name, value in (("Start", self.scan_start), ("End", self.scan_end))
            if value
        )
        return f"<ScanRange>{bounds}</ScanRange>"


def _control(typed: str) -> str:
    """A delimiter as typed, ``\\t``, ``\\n`` and ``\\r`` made the characters (S3's
    handler keeps a carriage return that XML would otherwise fold)."""
    return typed.replace("\\t", "\t").replace("\\n", "\n").replace("\\r", "\r")


@dataclass(slots=True)
class SelectResult:
    """What an answer said: the records' text (up to the bound), whether more were cut, the
    Stats event's counts, and whether the End event came."""

    records: bytearray = field(default_factory=bytearray)
    cut_bytes: int = 0
    scanned: int = -1
    processed: int = -1
    returned: int = -1
    ended: bool = False

    @property
    def text(self) -> str:
        return self.records.decode("utf-8", "replace")


class EventStreamReader:
    """Messages out of an event stream fed in chunks: ``(headers, payload)`` each whole
    message, CRCs checked; a stream that breaks the framing is S3's internal error."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> list[tuple[dict[str, str], bytes]]:
        self._buffer += chunk
        messages = []
        while len(self._buffer) >= _PRELUDE:
            total, headers_length, prelude_crc = struct.unpack_from(">III", self._buffer)
            if zlib.crc32(self._buffer[:8]) != prelude_crc or not (
                _PRELUDE + 4 <= total <= _MAX_MESSAGE and headers_length <= total - _PRELUDE - 4
            ):
                raise _broken("a message's prelude is not an event stream's")
            if len(self._buffer) < total:
                break
            message = bytes(self._buffer[:total])
            del self._buffer[:total]
            if zlib.crc32(message[:-4]) != struct.unpack(">I", message[-4:])[0]:
                raise _broken("a message's CRC does not match")
            end = _PRELUDE + headers_length
            messages.append((_headers(message[_PRELUDE:end]), message[end:-4]))
        return messages

    @property
    def pending(self) -> bool:
        """Bytes of a message not yet whole (at the stream's end: a stream cut short)."""
        return bool(self._buffer)


def _broken(why: str) -> WireError:
    return WireError("InternalError", f"The Select answer could not be read: {why}.", 500)


def _headers(raw: bytes) -> dict[str, str]:
    """A message's headers; the string ones by name (the others are none Select sends)."""
    headers: dict[str, str] = {}
    at = 0
    try:
        while at < len(raw):
            name_length = raw[at]
            name = raw[at + 1 : at + 1 + name_length].decode()
            kind = raw[at + 1 + name_length]
            at += 2 + name_length
            if kind in _FIXED:
                at += _FIXED[kind]
                continue
            if kind not in (6, 7):
                raise _broken(f"a header of unknown type {kind}")
            (length,) = struct.unpack_from(">H", raw, at)
            value = raw[at + 2 : at + 2 + length]
            at += 2 + length
            if kind == 7:
                headers[name] = value.decode()
    except (IndexError, struct.error, UnicodeDecodeError) as exc:
        raise _broken("a header is cut short") from exc
    return headers


def _count(payload: bytes, name: str) -> int:
    try:
        root = SafeET.fromstring(payload)
    except SafeET.ParseError:
        return -1
    found = root.findtext(name)
    return int(found) if found and found.isdigit() else -1


async def select(
    s3: S3Wire,
    origin: Scope,
    principal: Principal,
    bucket: str,
    key: str,
    form: SelectForm,
    *,
    max_output: int,
) -> SelectResult:
    """SelectObjectContent of ``key`` as ``principal``: the records up to ``max_output``
    bytes; S3's refusal, before the stream or inside it, raised as a :class:`WireError`."""
    if not key:
        raise WireError("NoSuchKey", "The specified key does not exist.", 404)
    result = SelectResult()
    reader = EventStreamReader()
    failure: list[WireError] = []

    def take(chunk: bytes) -> None:
        if failure:
            return
        try:
            messages = reader.feed(chunk)
        except WireError as exc:
            failure.append(exc)
            return
        for headers, payload in messages:
            if headers.get(":message-type") == "error":
                code = headers.get(":error-code", "InternalError")
                failure.append(WireError(code, headers.get(":error-message", ""), 400))
                return
            event = headers.get(":event-type")
            if event == "Records":
                room = max(0, max_output - len(result.records))
                result.records += payload[:room]
                result.cut_bytes += len(payload) - min(room, len(payload))
            elif event == "Stats":
                result.scanned = _count(payload, "BytesScanned")
                result.processed = _count(payload, "BytesProcessed")
                result.returned = _count(payload, "BytesReturned")
            elif event == "End":
                result.ended = True

    await s3.stream(
        origin, principal, f"/{bucket}/{key}", {"select": "", "select-type": "2"},
        body=form.request_xml(), sink=take,
    )  # fmt: skip
    if failure:
        raise failure[0]
    if reader.pending or not result.ended:
        raise _broken("the stream ended before its End event")
    return result
