"""S3 Select's own CSV reader: AWS's QuoteCharacter, QuoteEscapeCharacter, FieldDelimiter,
RecordDelimiter, AllowQuotedRecordDelimiter and Comments, a newline in a field as data when
the record delimiter is another character, whatever the chunks the object is read in."""

from __future__ import annotations

import pytest

from andromede.s3select.errors import SelectError
from andromede.s3select.records import CsvInput, CsvOutput, JsonOutput, csv_fields
from unit.s3select.test_scan import Object, messages, output, request


def test_fields_by_aws_rules() -> None:
    assert csv_fields('a,"b\nc",d\ne', CsvInput()) == ["a", "b\nc", "d\ne"]
    assert csv_fields('"x""y",,""', CsvInput()) == ['x"y', "", ""]
    assert csv_fields('a"b,c', CsvInput()) == ['a"b', "c"]  # a quote inside a field is data
    escaped = CsvInput(quote_escape="\\")
    assert csv_fields('"say \\"hi\\"",\\n', escaped) == ['say "hi"', "\\n"]
    assert csv_fields('"a\\b"', escaped) == ["a\\b"]  # an escape before no quote is data
    assert csv_fields("'p;q'", CsvInput(quote="'", field_delimiter=";")) == ["p;q"]
    with pytest.raises(SelectError) as raised:
        csv_fields('"open', CsvInput(allow_quoted_record_delimiter=True))
    assert raised.value.code == "CSVParsingError"


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 4096])
async def test_an_unquoted_newline_is_data_when_records_end_elsewhere(chunk: int) -> None:
    data = b"id;note|1;first\nline|2;second|"
    options = CsvInput(record_delimiter="|", field_delimiter=";", header_info="USE")
    found, _ = await messages(
        request("SELECT s.note FROM S3Object s WHERE s.id = 1", csv_input=options),
        Object(data, chunk),
    )
    assert output(found) == b'"first\nline"\n'


@pytest.mark.parametrize("chunk", [1, 2, 5, 4096])
async def test_quoted_record_delimiters_with_an_escape_character(chunk: int) -> None:
    data = b'1,"a\\"\nb"\n2,"c\\\\"\n3,"\\"\n"\n'
    options = CsvInput(quote_escape="\\", allow_quoted_record_delimiter=True)
    found, _ = await messages(
        request("SELECT s._1, s._2 FROM S3Object s", csv_input=options, output=JsonOutput()),
        Object(data, chunk),
    )
    assert output(found) == (
        b'{"_1":"1","_2":"a\\"\\nb"}\n{"_1":"2","_2":"c\\\\\\\\"}\n{"_1":"3","_2":"\\"\\n"}\n'
    )


@pytest.mark.parametrize("chunk", [1, 3, 4096])
async def test_a_two_character_delimiter_comments_and_a_quoted_newline(chunk: int) -> None:
    data = b'# a comment\r\nname,city\r\n"Smith, J","Paris\r\nFrance"\r\nDoe,Lyon\r\n'
    options = CsvInput(
        record_delimiter="\r\n", header_info="USE", allow_quoted_record_delimiter=True
    )
    found, _ = await messages(
        request("SELECT s.city FROM S3Object s", csv_input=options, output=CsvOutput()),
        Object(data, chunk),
    )
    assert output(found) == b'"Paris\r\nFrance"\nLyon\n'


async def test_a_quoted_record_delimiter_not_allowed_is_aws_error() -> None:
    with pytest.raises(SelectError) as raised:
        await messages(
            request("SELECT * FROM S3Object", csv_input=CsvInput()), Object(b'1,"a\nb"\n')
        )
    assert raised.value.code == "CSVEscapingRecordDelimiter"


@pytest.mark.parametrize("chunk", [1, 2, 4096])
async def test_a_comment_line_with_a_quote_does_not_open_one(chunk: int) -> None:
    data = b"# it's a comment\n'a\nb',1\n'c',2\n"
    options = CsvInput(quote="'", allow_quoted_record_delimiter=True)
    found, _ = await messages(
        request("SELECT s._1 FROM S3Object s", csv_input=options, output=JsonOutput()),
        Object(data, chunk),
    )
    assert output(found) == b'{"_1":"a\\nb"}\n{"_1":"c"}\n'
    found, _ = await messages(
        request(
            "SELECT s._2 FROM S3Object s",
            csv_input=CsvInput(quote="'", allow_quoted_record_delimiter=True, comments="%"),
            output=JsonOutput(),
        ),
        Object(b"% it's\n'x',1\n", chunk),
    )
    assert output(found) == b'{"_2":"1"}\n'


@pytest.mark.parametrize("chunk", [1, 3, 4096])
async def test_a_quote_inside_an_unquoted_field_is_data_for_the_splitter_too(chunk: int) -> None:
    data = b"O'Brien,1\n'x\ny',2\nit's,3\n"
    options = CsvInput(quote="'", allow_quoted_record_delimiter=True)
    found, _ = await messages(
        request("SELECT s._1 FROM S3Object s", csv_input=options, output=JsonOutput()),
        Object(data, chunk),
    )
    assert output(found) == b'{"_1":"O\'Brien"}\n{"_1":"x\\ny"}\n{"_1":"it\'s"}\n'
