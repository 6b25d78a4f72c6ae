"""Decision 0247's PartiQL parser: each statement into the expression trees the evaluator
decides, values and ``?`` parameters bound, and malformed statements refused in DynamoDB's
words."""

from __future__ import annotations

import pytest

from andromede.dynamodb.errors import ValidationError
from andromede.dynamodb.evaluate import apply_update, matches
from andromede.dynamodb.expressions import Path
from andromede.dynamodb.partiql import Exists, Insert, Select, Write, key_equalities, parse

ITEM = {
    "Artist": {"S": "Acme Band"},
    "SongTitle": {"S": "PartiQL Rocks"},
    "Year": {"N": "2020"},
    "Tags": {"SS": ["rock", "live"]},
    "Info": {"M": {"label": {"S": "Indie"}, "charts": {"L": [{"N": "3"}]}}},
    "Empty": {"NULL": True},
}


def _where(text: str, *parameters: object) -> bool:
    statement = parse('SELECT * FROM "Music" WHERE ' + text, parameters)  # noqa: S608 (a test)
    assert isinstance(statement, Select) and statement.where is not None
    return matches(ITEM, statement.where)


def test_select_parts() -> None:
    statement = parse(
        'select Artist, Info.label, Info.charts[0], Info[\'label\'] FROM "Music"."by-year"'
    )
    assert isinstance(statement, Select)
    assert (statement.table, statement.index, statement.where) == ("Music", "by-year", None)
    assert statement.projection == (
        Path(("Artist",)),
        Path(("Info", "label")),
        Path(("Info", "charts", 0)),
        Path(("Info", "label")),
    )
    ordered = parse("SELECT * FROM Music WHERE Artist = 'a' ORDER BY SongTitle DESC;")
    assert isinstance(ordered, Select) and ordered.descending is True
    assert parse("SELECT * FROM Music").projection is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "holds"),
    [
        ("Artist = 'Acme Band'", True),
        ("Artist <> 'Acme Band'", False),
        ("Artist != 'Other'", True),
        ('"Year" >= 2020 AND "Year" < 2021.5', True),
        ('"Year" BETWEEN 2000 AND 2010', False),
        ('"Year" NOT BETWEEN 2000 AND 2010', True),
        ("Artist IN ['x', 'Acme Band']", True),
        ("Artist IN ('x', 'y')", False),
        ("Artist NOT IN ('x', 'y')", True),
        ("Missing IS MISSING AND Artist IS NOT MISSING", True),
        ("Empty IS NULL AND Artist IS NOT NULL", True),
        ("begins_with(SongTitle, 'Parti') AND contains(Tags, 'live')", True),
        ("attribute_type(Info, 'M')", True),
        ("size(Tags) = 2", True),
        ("Info.charts[0] = 3 OR NOT Artist = 'Acme Band'", True),
        ("NOT (Artist = 'Acme Band' OR \"Year\" = 1)", False),
        ("\"Year\" > -1 AND Info.label = 'Indie'", True),
        ("Tags = <<'live', 'rock'>>", True),
    ],
)
def test_conditions_as_the_evaluator_decides_them(text: str, holds: bool) -> None:
    assert _where(text) is holds


def test_parameters_bound_in_order_and_counted() -> None:
    assert _where('Artist = ? AND "Year" = ?', {"S": "Acme Band"}, {"N": "2020"})
    with pytest.raises(ValidationError, match="Number of parameters in request and statement"):
        parse("SELECT * FROM Music WHERE Artist = ?", [])
    with pytest.raises(ValidationError, match="Number of parameters in request and statement"):
        parse("SELECT * FROM Music WHERE Artist = ?", [{"S": "a"}, {"S": "b"}])
    with pytest.raises(ValidationError):
        parse("SELECT * FROM Music WHERE Artist = ?", [{"Q": "a"}])  # not an AttributeValue


def test_insert_values() -> None:
    statement = parse(
        "INSERT INTO \"Music\" VALUE {'Artist': 'It''s', 'n': 0010.50, 'b': TRUE, 'z': NULL, "
        "'l': [1, 'x'], 'm': {'k': <<1, 2>>}, 's': <<'a'>>, 'p': ?}",
        [{"B": "AAE="}],
    )
    assert isinstance(statement, Insert) and statement.table == "Music"
    assert statement.item == {
        "Artist": {"S": "It's"},
        "n": {"N": "10.5"},
        "b": {"BOOL": True},
        "z": {"NULL": True},
        "l": {"L": [{"N": "1"}, {"S": "x"}]},
        "m": {"M": {"k": {"NS": ["1", "2"]}}},
        "s": {"SS": ["a"]},
        "p": {"B": "AAE="},
    }


def test_update_into_update_actions() -> None:
    statement = parse(
        'UPDATE Music SET "Year" = "Year" + 1, Info.label = \'Major\' '
        "SET Tags = set_add(Tags, <<'new'>>) REMOVE Empty "
        "WHERE Artist = 'Acme Band' AND SongTitle = 'PartiQL Rocks' RETURNING MODIFIED NEW *"
    )
    assert isinstance(statement, Write) and statement.update is not None
    assert statement.returning == "MODIFIED NEW"
    updated = apply_update(dict(ITEM), statement.update)
    assert updated["Year"] == {"N": "2021"} and "Empty" not in updated
    assert updated["Info"]["M"]["label"] == {"S": "Major"}
    assert sorted(updated["Tags"]["SS"]) == ["live", "new", "rock"]
    assert key_equalities(statement.where) == {
        "Artist": {"S": "Acme Band"},
        "SongTitle": {"S": "PartiQL Rocks"},
    }
    listed = parse(
        "UPDATE t SET l = list_append(l, [2]), c = if_not_exists(c, 0) - 1, "
        "Tags = set_delete(Tags, <<'rock'>>) WHERE k = 1"
    )
    assert isinstance(listed, Write) and listed.update is not None
    changed = apply_update({"l": {"L": []}, "Tags": {"SS": ["rock", "x"]}}, listed.update)
    assert changed == {"l": {"L": [{"N": "2"}]}, "c": {"N": "-1"}, "Tags": {"SS": ["x"]}}


def test_delete_and_key_equalities() -> None:
    statement = parse(
        "DELETE FROM Music WHERE Artist = 'a' AND 'b' = SongTitle RETURNING ALL OLD *"
    )
    assert isinstance(statement, Write) and statement.update is None
    assert statement.returning == "ALL OLD"
    assert key_equalities(statement.where) == {"Artist": {"S": "a"}, "SongTitle": {"S": "b"}}
    either = parse("DELETE FROM Music WHERE Artist = 'a' OR SongTitle = 'b'")
    assert isinstance(either, Write) and key_equalities(either.where) == {}


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("", "Empty statement"),
        ("SELEC * FROM Music", "Unexpected token: SELEC"),
        ("SELECT * FROM", "Unexpected end of statement"),
        ("SELECT * FROM Music WHERE", "Unexpected end of statement"),
        ("SELECT * FROM Music WHERE a = 1 garbage", "Unexpected token: garbage"),
        ("SELECT * FROM Music WHERE a ~ 1", "Unexpected character"),
        ("INSERT INTO Music VALUE [1]", "INSERT takes a map"),
        ("INSERT INTO Music VALUE {'a': }", "Unexpected token: }"),
        ("UPDATE Music WHERE a = 1", "Unexpected token: WHERE"),
        ("UPDATE Music SET a = 1", "Unexpected end of statement"),
        ("DELETE FROM Music WHERE a = 1 RETURNING ALL NEW *", "DELETE can only return ALL OLD"),
        ("UPDATE Music SET a = 1 WHERE k = 1 RETURNING SOME OLD *", "Unexpected RETURNING"),
        ("SELECT * FROM Music WHERE a IN ()", "IN takes between 1 and 100"),
        ("INSERT INTO Music VALUE {'s': <<1, 'a'>>}", "A set holds"),
        ("UPDATE Music SET a = set_add(b, <<1>>) WHERE k = 1", "set_add must name the path"),
    ],
)
def test_malformed_statements_refused_in_dynamodbs_words(text: str, detail: str) -> None:
    with pytest.raises(ValidationError) as raised:
        parse(text)
    assert str(raised.value).startswith("Statement wasn't well formed, can't be processed: ")
    assert detail in str(raised.value)


def test_overlapping_update_paths_refused() -> None:
    with pytest.raises(ValidationError, match="Two document paths overlap"):
        parse("UPDATE Music SET a.b = 1 REMOVE a WHERE k = 1")


def test_exists_is_a_condition_check_on_one_item() -> None:
    statement = parse("EXISTS(SELECT * FROM Music WHERE Artist = 'a' AND SongTitle = 'b')")
    assert isinstance(statement, Exists) and statement.select.table == "Music"
    assert key_equalities(statement.select.where) == {
        "Artist": {"S": "a"},
        "SongTitle": {"S": "b"},
    }
    for text in ("EXISTS(SELECT * FROM Music)", "EXISTS(SELECT * FROM Music.i WHERE a = 1)"):
        with pytest.raises(ValidationError, match="EXISTS checks one item"):
            parse(text)
