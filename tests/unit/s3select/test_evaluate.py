"""S3 Select's evaluator and functions over CSV rows and JSON values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from andromede.s3select.errors import SelectError
from andromede.s3select.evaluate import Accumulators, evaluate
from andromede.s3select.sql import parse
from andromede.s3select.values import MISSING, CsvRow, Header

ROW = CsvRow(["Alice", "30", "Paris", ""], Header(["name", "age", "City", "note"]))
DOC = {"name": "Bob", "age": 25, "tags": ["a", "b"], "addr": {"city": "Lyon"}, "none": None}


def value(expression: str, row: object = ROW) -> object:
    query = parse(f"SELECT {expression} FROM S3Object s")  # noqa: S608 - S3 Select's own SQL
    assert query.projections is not None
    return evaluate(query.projections[0].expr, row)


def holds(condition: str, row: object = ROW) -> object:
    where = parse(f"SELECT * FROM S3Object s WHERE {condition}").where  # noqa: S608
    assert where is not None
    return evaluate(where, row)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("s.name", "Alice"),
        ("s.NAME", "Alice"),
        ('s."City"', "Paris"),
        ('s."city"', MISSING),
        ("_2", "30"),
        ("_9", MISSING),
        ("s.nothing", MISSING),
        ("CAST(s.age AS INT) + 1", 31),
        ("s.age * 2", 60),
        ("s.age / 4", 7),
        ("CAST(s.age AS FLOAT) / 4", 7.5),
        ("7 % 3", 1),
        ("1.5 + 1", Decimal("2.5")),
        ("s.name || '!'", "Alice!"),
        ("-s.age", -30),
        ("CAST('true' AS BOOL)", True),
        ("CAST(3 AS STRING)", "3"),
        ("CAST('2.50' AS DECIMAL)", Decimal("2.50")),
        ("CAST(2.7 AS INT)", 2),
        ("NULL + 1", None),
    ],
)
def test_values_of_a_csv_row(expression: str, expected: object) -> None:
    assert value(expression) == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("s.name", "Bob"),
        ("s.addr.city", "Lyon"),
        ("s.tags[1]", "b"),
        ("s.tags[5]", MISSING),
        ("s.addr.nothing", MISSING),
        ("s.name.deeper", MISSING),
        ("s.none", None),
        ("s.age + 1", 26),
    ],
)
def test_values_of_a_json_document(expression: str, expected: object) -> None:
    assert value(expression, DOC) == expected


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("s.age > 26", True),
        ("s.age = 30", True),
        ("s.age <> 30", False),
        ("s.name = 'Alice'", True),
        ("s.name < 'B'", True),
        ("s.name > 3", None),  # a text that is no number against a number
        ("s.name LIKE 'A%'", True),
        ("s.name LIKE '_lice'", True),
        ("s.name LIKE 'a%'", False),
        ("s.name NOT LIKE '%x%'", True),
        ("'50%' LIKE '50!%' ESCAPE '!'", True),
        ("'500' LIKE '50!%' ESCAPE '!'", False),
        ("s.age BETWEEN 20 AND 30", True),
        ("s.age NOT BETWEEN 20 AND 30", False),
        ("s.city IN ('Lyon', 'Paris')", True),
        ("s.city NOT IN ('Lyon')", True),
        ("s.nothing IS MISSING", True),
        ("s.nothing IS NULL", True),
        ("s.note IS NULL", False),
        ("s.name IS NOT MISSING", True),
        ("s.nothing = 1", None),
        ("s.nothing = 1 OR TRUE", True),
        ("s.nothing = 1 AND FALSE", False),
        ("NOT (s.nothing = 1)", None),
        ("s.age > 26 AND s.city = 'Paris'", True),
    ],
)
def test_conditions_in_three_valued_logic(condition: str, expected: object) -> None:
    assert holds(condition) is expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("LOWER(s.name)", "alice"),
        ("UPPER(s.name)", "ALICE"),
        ("TRIM('  x  ')", "x"),
        ("TRIM(LEADING FROM '  x  ')", "x  "),
        ("TRIM(TRAILING 'x' FROM 'xxaxx')", "xxa"),
        ("CHAR_LENGTH(s.name)", 5),
        ("CHARACTER_LENGTH('été')", 3),
        ("SUBSTRING('123456789', 0)", "123456789"),
        ("SUBSTRING('123456789', 1)", "123456789"),
        ("SUBSTRING('123456789', 2)", "23456789"),
        ("SUBSTRING('123456789', -4, 2)", ""),
        ("SUBSTRING('123456789', 0, 999)", "123456789"),
        ("SUBSTRING('123456789' FROM 3 FOR 2)", "34"),
        ("COALESCE(NULL, s.nothing, 'd')", "d"),
        ("COALESCE(NULL, NULL)", None),
        ("NULLIF(1, 1)", None),
        ("NULLIF(1, 2)", 1),
        ("LOWER(NULL)", None),
    ],
)
def test_string_and_conditional_functions(expression: str, expected: object) -> None:
    assert value(expression) == expected


def test_date_functions() -> None:
    stamp = "TO_TIMESTAMP('2007-02-23T12:14:33.079-08:00')"
    made = value(stamp)
    assert made == datetime(2007, 2, 23, 12, 14, 33, 79000, tzinfo=timezone(timedelta(hours=-8)))
    assert value(f"EXTRACT(YEAR FROM {stamp})") == 2007
    assert value(f"EXTRACT(TIMEZONE_HOUR FROM {stamp})") == -8
    assert value(f"TO_STRING({stamp}, 'yyyy-MM-dd''T''HH:mm:ss.SSSXXX')") == (
        "2007-02-23T12:14:33.079-08:00"
    )
    assert value(f"TO_STRING({stamp}, 'MMMM d, y h:m a')") == "February 23, 2007 12:14 PM"
    assert value("DATE_ADD(month, 1, TO_TIMESTAMP('2020-01-31T'))") == datetime(
        2020, 2, 29, tzinfo=UTC
    )
    assert value("DATE_ADD(hour, -2, TO_TIMESTAMP('2020-01-01T01:00Z'))") == datetime(
        2019, 12, 31, 23, tzinfo=UTC
    )
    assert value("DATE_DIFF(year, TO_TIMESTAMP('2010-05T'), TO_TIMESTAMP('2020-04T'))") == 9
    assert value("DATE_DIFF(day, TO_TIMESTAMP('2020-01-01T'), TO_TIMESTAMP('2020-03-01T'))") == 60
    now = value("UTCNOW()")
    assert isinstance(now, datetime) and abs(now - datetime.now(UTC)) < timedelta(seconds=5)
    assert value("TO_TIMESTAMP('2007T')") == datetime(2007, 1, 1, tzinfo=UTC)
    assert holds("TO_TIMESTAMP('2020-01-01T') < UTCNOW()") is True


@pytest.mark.parametrize(
    ("expression", "code"),
    [
        ("CAST(s.name AS INT)", "CastFailed"),
        ("CAST('maybe' AS BOOL)", "CastFailed"),
        ("TO_TIMESTAMP('yesterday')", "ValueParseFailure"),
        ("s.name + 1", "IncorrectSqlFunctionArgumentType"),
        ("1 / 0", "EvaluatorInvalidArguments"),
        ("LOWER(1, 2)", "EvaluatorInvalidArguments"),
        ("FROBNICATE(1)", "UnsupportedFunction"),
        ("_0", "InvalidColumnIndex"),
        ("s.name LIKE 'a!' ESCAPE '!'", "EvaluatorLikePatternInvalidEscapeSequence"),
        ("SUBSTRING('abc', 1, -1)", "IllegalSqlFunctionArgument"),
        ("EXTRACT(WEEK FROM UTCNOW())", "IllegalSqlFunctionArgument"),
        ("DATE_ADD(day, 99999999999999999999, UTCNOW())", "IllegalSqlFunctionArgument"),
        ("DATE_ADD(year, 1e300, UTCNOW())", "IllegalSqlFunctionArgument"),
    ],
)
def test_evaluation_errors(expression: str, code: str) -> None:
    with pytest.raises(SelectError) as raised:
        value(expression)
    assert raised.value.code == code


def test_an_ambiguous_name_needs_quotes() -> None:
    row = CsvRow(["1", "2"], Header(["id", "ID"]))
    with pytest.raises(SelectError) as raised:
        value("s.id", row)
    assert raised.value.code == "AmbiguousFieldName"
    assert value('s."ID"', row) == "2"


def test_aggregates_fold_row_by_row() -> None:
    query = parse(
        "SELECT COUNT(*), COUNT(s.v), SUM(s.v), AVG(s.v), MIN(s.v), MAX(s.n) FROM S3Object s"
    )
    folded = Accumulators(query)
    for row in ({"v": 1, "n": "a"}, {"v": "4", "n": "c"}, {"n": "b"}, {"v": None}):
        folded.add(row)
    assert folded.totals() == [4, 2, 5, Decimal("2.5"), 1, "c"]
    empty = Accumulators(query)
    assert empty.totals() == [0, 0, None, None, None, None]
    with pytest.raises(SelectError) as raised:
        Accumulators(parse("SELECT SUM(s.n) FROM S3Object s")).add({"n": "x"})
    assert raised.value.code == "IncorrectSqlFunctionArgumentType"


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [  # AWS's TO_STRING examples ("Date functions"), with its `…` timestamp literals
        ("'MMMM d, y'", "July 20, 1969"),
        ("'MMM d, yyyy'", "Jul 20, 1969"),
        ("'M-d-yy'", "7-20-69"),
        ("'MM-d-y'", "07-20-1969"),
        ("'MMMM d, y h:m a'", "July 20, 1969 8:18 PM"),
        ("'y-MM-dd''T''H:m:ssX'", "1969-07-20T20:18:00Z"),
        ("'MMMMM, S SS SSSS SSSSSS n'", "J, 0 00 0000 000000 0"),
    ],
)
def test_to_string_as_aws_examples(pattern: str, expected: str) -> None:
    assert value(f"TO_STRING(`1969-07-20T20:18Z`, {pattern})") == expected


def test_to_string_offsets_by_width() -> None:
    stamp = "`1969-07-20T20:18+08:00`"
    assert value(f"TO_STRING({stamp}, 'y-MM-dd''T''H:m:ssXXXX')") == "1969-07-20T20:18:00+0800"
    assert value(f"TO_STRING({stamp}, 'y-MM-dd''T''H:m:ssXXXXX')") == "1969-07-20T20:18:00+08:00"
    assert value(f"TO_STRING({stamp}, 'X XX XXX x xx xxx')") == "+08 +0800 +08:00 +08 +0800 +08:00"
    utc = "`2020-01-02T03:04:05.678Z`"
    assert value(f"TO_STRING({utc}, 'X XXXX x xxxx SSS n')") == "Z Z +00 +0000 678 678000000"


def test_integers_are_eight_bytes_as_on_aws() -> None:
    assert value("9223372036854775806 + 1") == 2**63 - 1
    for expression in (
        "9223372036854775807 + 1",
        "-9223372036854775807 - 2",
        "4611686018427387904 * 2",
        "CAST('9223372036854775808' AS INT)",
    ):
        with pytest.raises(SelectError) as raised:
            value(expression)
        assert raised.value.code == "IntegerOverflow"
    assert value("CAST(9223372036854775807 AS FLOAT)") == float(2**63 - 1)
