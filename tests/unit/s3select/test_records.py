"""S3 Select's formats: records cut from chunks, CSV fields, the outputs, the event stream
(decoded by botocore's own parser)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from botocore.eventstream import EventStreamBuffer

from andromede.s3select import eventstream
from andromede.s3select.errors import SelectError
from andromede.s3select.records import (
    CsvInput,
    CsvOutput,
    CsvRecords,
    DocumentReader,
    JsonOutput,
    LineSplitter,
    csv_fields,
)
from andromede.s3select.values import MISSING


def split(data: bytes, size: int, splitter: LineSplitter) -> list[tuple[int, bytes]]:
    found = []
    for at in range(0, len(data), size):
        found.extend(splitter.feed(data[at : at + size]))
    found.extend(splitter.finish())
    return found


@pytest.mark.parametrize("size", [1, 2, 3, 7, 1000])
def test_records_are_cut_whatever_the_chunks(size: int) -> None:
    data = b"ab\r\ncd\r\n\r\nlast"
    assert split(data, size, LineSplitter(b"\r\n", 100)) == [
        (0, b"ab"),
        (4, b"cd"),
        (8, b""),
        (10, b"last"),
    ]


@pytest.mark.parametrize("size", [1, 4, 1000])
def test_quoted_delimiters_stay_in_their_record_when_allowed(size: int) -> None:
    data = b'a,"x\ny"\nb,"z"\n'
    found = split(data, size, LineSplitter(b"\n", 100, quote=b'"'))
    assert found == [(0, b'a,"x\ny"'), (8, b'b,"z"')]


def test_a_record_longer_than_the_limit_is_refused() -> None:
    splitter = LineSplitter(b"\n", 8)
    assert list(splitter.feed(b"short\n")) == [(0, b"short")]
    with pytest.raises(SelectError) as raised:
        list(splitter.feed(b"much too long"))
    assert raised.value.code == "OverMaxRecordSize"


def test_a_range_inside_the_object_skips_the_record_begun_before_it() -> None:
    splitter = LineSplitter(b"\n", 100, offset=9, skip_first=True)
    assert split(b"lice\nBob\nEve", 3, splitter) == [(14, b"Bob"), (18, b"Eve")]


def test_csv_fields_quotes_and_escapes() -> None:
    assert csv_fields('a,"b,c","d""e",', CsvInput()) == ["a", "b,c", 'd"e', ""]
    options = CsvInput(field_delimiter="|", quote="'", quote_escape="\\")
    assert csv_fields("x|'y\\'z'|w", options) == ["x", "y'z", "w"]
    with pytest.raises(SelectError) as raised:
        csv_fields('a,"open', CsvInput())
    assert raised.value.code == "CSVEscapingRecordDelimiter"
    with pytest.raises(SelectError) as raised:
        csv_fields('a,"b"c', CsvInput())
    assert raised.value.code == "CSVParsingError"


def test_csv_records_take_the_header_and_skip_comments() -> None:
    records = CsvRecords(CsvInput(header_info="USE"))
    assert records.row(b"id,Name\r") is None
    assert records.row(b"#a comment") is None
    row = records.row(b"1,x\r")
    assert row is not None and row.values == ["1", "x"]
    assert row.as_mapping() == {"id": "1", "Name": "x"}
    ignored = CsvRecords(CsvInput(header_info="IGNORE", comments=None))
    assert ignored.row(b"id,name") is None
    row = ignored.row(b"#1,x")
    assert row is not None and row.as_mapping() == {"_1": "#1", "_2": "x"}
    with pytest.raises(SelectError) as raised:
        CsvRecords(CsvInput()).row(b"\xff\xfe")
    assert raised.value.code == "InvalidTextEncoding"


@pytest.mark.parametrize("size", [1, 5, 1000])
def test_json_documents_one_after_another(size: int) -> None:
    data = '{"a": [1, {"b": "é"}]}\n  {"c": 2}[3] "s"'.encode()
    reader = DocumentReader(1000)
    found: list[object] = []
    for at in range(0, len(data), size):
        found.extend(value for value, _ in reader.feed(data[at : at + size]))
    found.extend(value for value, _ in reader.feed(b"", final=True))
    assert found == [{"a": [1, {"b": "é"}]}, {"c": 2}, [3], "s"]


def test_a_broken_or_oversized_json_document_is_refused() -> None:
    with pytest.raises(SelectError) as raised:
        list(DocumentReader(1000).feed(b'{"a": tru}', final=True))
    assert raised.value.code == "JSONParsingError"
    reader = DocumentReader(10)
    with pytest.raises(SelectError) as raised:
        list(reader.feed(b'{"a": "' + b"x" * 100))
        list(reader.feed(b'"}', final=True))
    assert raised.value.code == "OverMaxRecordSize"


def test_csv_output_quotes_as_needed_or_always() -> None:
    output = CsvOutput()
    assert output.write(["a", "b,c", 'q"', None, True, 1.0, Decimal("2.50")]) == (
        'a,"b,c","q""",,true,1.0,2.50\n'
    )
    always = CsvOutput(quote_fields="ALWAYS", field_delimiter="\t", record_delimiter="\r\n")
    assert always.write(["a", 1]) == '"a"\t"1"\r\n'
    escaped = CsvOutput(quote_escape="\\")
    assert escaped.write(['say "hi"']) == '"say \\"hi\\""\n'
    assert output.write([{"k": [1]}]) == '"{""k"":[1]}"\n'


def test_json_output_leaves_missing_fields_out() -> None:
    output = JsonOutput(record_delimiter=",")
    assert output.write([("a", 1), ("b", MISSING), ("c", None), ("d", Decimal("1.5"))]) == (
        '{"a":1,"c":null,"d":1.5},'
    )


def decoded(raw: bytes) -> list[tuple[dict[str, object], bytes]]:
    buffer = EventStreamBuffer()
    buffer.add_data(raw)
    return [(dict(message.headers), bytes(message.payload)) for message in buffer]


def test_event_stream_frames_are_what_botocore_decodes() -> None:
    raw = (
        eventstream.records(b"a,b\n")
        + eventstream.cont()
        + eventstream.progress(10, 20, 4)
        + eventstream.stats(10, 20, 4)
        + eventstream.end()
    )
    found = decoded(raw)
    assert [h[":event-type"] for h, _ in found] == ["Records", "Cont", "Progress", "Stats", "End"]
    assert found[0] == (
        {
            ":message-type": "event",
            ":event-type": "Records",
            ":content-type": "application/octet-stream",
        },
        b"a,b\n",
    )
    assert b"<BytesScanned>10</BytesScanned>" in found[3][1]
    assert found[3][0][":content-type"] == "text/xml"
    error = decoded(eventstream.error("CastFailed", "Attempt to convert…"))
    assert error == [
        (
            {
                ":message-type": "error",
                ":error-code": "CastFailed",
                ":error-message": "Attempt to convert…",
            },
            b"",
        )
    ]


def test_botocore_parses_stats_as_boto3_shows_them() -> None:
    import botocore.session
    from botocore import parsers
    from botocore.eventstream import EventStream

    model = botocore.session.get_session().get_service_model("s3")
    output = model.operation_model("SelectObjectContent").output_shape
    shape = output.members["Payload"]
    raw = eventstream.records(b"x\n") + eventstream.stats(3, 4, 2) + eventstream.end()

    class Raw:
        def stream(self) -> list[bytes]:
            return [raw]

    stream = EventStream(Raw(), shape, parsers.EventStreamXMLParser(), "SelectObjectContent")
    found = list(stream)
    assert found[0] == {"Records": {"Payload": b"x\n"}}
    assert found[1] == {
        "Stats": {"Details": {"BytesScanned": 3, "BytesProcessed": 4, "BytesReturned": 2}}
    }
    assert found[2] == {"End": {}}
