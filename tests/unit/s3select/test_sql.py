"""S3 Select's parser: the grammar AWS documents, and its parse errors."""

from __future__ import annotations

from decimal import Decimal

import pytest

from andromede.s3select.errors import SelectError
from andromede.s3select.sql import parse
from andromede.s3select.syntax import (
    Aggregate,
    Between,
    Binary,
    Call,
    Cast,
    Field,
    In,
    Index,
    IsTest,
    Like,
    Literal,
    Path,
    Unary,
    Wildcard,
)


def test_select_star_from_s3object() -> None:
    query = parse("SELECT * FROM S3Object")
    assert query.projections is None and query.alias is None
    assert query.where is None and query.limit is None and query.source == ()


def test_projections_aliases_and_paths() -> None:
    query = parse('select s.name, s."Age" AS years, _3, s.a.b[0] first from s3object s limit 5')
    assert query.alias == "s" and query.limit == 5
    assert query.projections is not None
    exprs = [p.expr for p in query.projections]
    assert exprs[0] == Path((Field("name", exact=False),))
    assert exprs[1] == Path((Field("Age", exact=True),))
    assert exprs[2] == Path((Field("_3", exact=False),))
    assert exprs[3] == Path((Field("a", False), Field("b", False), Index(0)))
    assert [p.alias for p in query.projections] == [None, "years", None, "first"]


def test_the_alias_is_case_insensitive_and_s3object_names_the_record() -> None:
    query = parse("SELECT S.x, S3Object.y FROM S3Object AS s")
    assert query.projections is not None
    assert [p.expr for p in query.projections] == [
        Path((Field("x", False),)),
        Path((Field("y", False),)),
    ]


def test_from_paths_with_wildcards() -> None:
    query = parse("SELECT * FROM S3Object[*].items[*] i")
    assert query.source == (Wildcard(), Field("items", False), Wildcard())
    assert query.alias == "i"


def test_operator_precedence() -> None:
    query = parse("SELECT * FROM S3Object WHERE a = 1 OR b > 2 AND NOT c < 3 + 4 * 5")
    assert query.where == Binary(
        "OR",
        Binary("=", Path((Field("a", False),)), Literal(1)),
        Binary(
            "AND",
            Binary(">", Path((Field("b", False),)), Literal(2)),
            Unary(
                "NOT",
                Binary(
                    "<",
                    Path((Field("c", False),)),
                    Binary("+", Literal(3), Binary("*", Literal(4), Literal(5))),
                ),
            ),
        ),
    )


def test_predicates() -> None:
    where = parse(
        "SELECT * FROM S3Object s WHERE s.a LIKE 'x!%%' ESCAPE '!' AND s.b NOT BETWEEN 1 AND 2 "
        "AND s.c IN ('p', 'q') AND s.d IS NOT NULL AND s.e IS MISSING"
    ).where
    parts = []
    while isinstance(where, Binary) and where.op == "AND":
        parts.append(where.right)
        where = where.left
    parts.append(where)
    kinds = {type(part) for part in parts}
    assert kinds == {Like, Between, In, IsTest}
    between = next(p for p in parts if isinstance(p, Between))
    assert between.negated


def test_literals() -> None:
    query = parse("SELECT 'it''s', 1.5, 2, 1e3, -4, TRUE, NULL FROM S3Object")
    assert query.projections is not None
    values = [p.expr for p in query.projections]
    assert values == [
        Literal("it's"),
        Literal(Decimal("1.5")),
        Literal(2),
        Literal(1000.0),
        Literal(-4),
        Literal(True),
        Literal(None),
    ]


def test_cast_functions_and_aggregates() -> None:
    query = parse(
        "SELECT CAST(_1 AS INTEGER), LOWER(_2), TRIM(BOTH 'x' FROM _3), "
        "EXTRACT(YEAR FROM _4), DATE_ADD(day, 1, _4) FROM S3Object"
    )
    assert query.projections is not None
    exprs = [p.expr for p in query.projections]
    assert exprs[0] == Cast(Path((Field("_1", False),)), "INT")
    assert isinstance(exprs[1], Call) and exprs[1].name == "LOWER"
    assert exprs[2] == Call("TRIM", (Literal("BOTH"), Literal("x"), Path((Field("_3", False),))))
    assert exprs[3] == Call("EXTRACT", (Literal("YEAR"), Path((Field("_4", False),))))
    assert exprs[4] == Call("DATE_ADD", (Literal("DAY"), Literal(1), Path((Field("_4", False),))))
    aggregates = parse("SELECT COUNT(*), SUM(s.x), AVG(s.x) + 1 FROM S3Object s").aggregates
    assert [a.name for a in aggregates] == ["COUNT", "SUM", "AVG"]
    assert aggregates[0] == Aggregate("COUNT", None, 0)


@pytest.mark.parametrize(
    ("expression", "code"),
    [
        ("SELECT", "ParseExpectedKeyword"),
        ("SELECT * FROM", "ParseUnexpectedToken"),
        ("SELECT * FROM elsewhere", "ParseUnexpectedToken"),
        ("SELECT FROM S3Object", "ParseUnexpectedToken"),
        ("SELECT *, a FROM S3Object", "ParseAsteriskIsNotAloneInSelectList"),
        ("SELECT a FROM S3Object WHERE", "ParseExpectedExpression"),
        ("SELECT a FROM S3Object WHERE a = ", "ParseExpectedExpression"),
        ("SELECT s. FROM S3Object s", "ParseInvalidPathComponent"),
        ("SELECT s.a[x] FROM S3Object s", "ParseInvalidPathComponent"),
        ("SELECT a FROM S3Object GROUP BY a", "UnsupportedSyntax"),
        ("SELECT a FROM S3Object ORDER BY a", "UnsupportedSyntax"),
        ("SELECT a FROM S3Object LIMIT -1", "EvaluatorNegativeLimit"),
        ("SELECT a FROM S3Object LIMIT x", "ParseUnexpectedToken"),
        ("SELECT a, COUNT(*) FROM S3Object", "UnsupportedSqlStructure"),
        ("SELECT a FROM S3Object WHERE COUNT(*) > 1", "UnsupportedSqlOperation"),
        ("SELECT SUM(COUNT(*)) FROM S3Object", "UnsupportedSqlOperation"),
        ("SELECT CAST(a AS BLOB) FROM S3Object", "UnsupportedSyntax"),
        ("SELECT a # b FROM S3Object", "ParseUnknownOperator"),
        ("SELECT a FROM S3Object s extra", "ParseUnexpectedToken"),
    ],
)
def test_parse_errors(expression: str, code: str) -> None:
    with pytest.raises(SelectError) as raised:
        parse(expression)
    assert raised.value.code == code


def test_an_error_names_the_token_not_the_data() -> None:
    with pytest.raises(SelectError) as raised:
        parse("SELECT * FROM S3Object WHERE a = = 1")
    assert "character 34" in raised.value.message
