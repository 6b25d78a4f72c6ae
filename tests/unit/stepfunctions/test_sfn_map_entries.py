"""Decision 0365's pure part: a Map's items from an array or an object's entries, and the
``Map.Item`` an iteration's ``ItemSelector`` reads."""

from __future__ import annotations

import pytest

from andromede.stepfunctions.interpreter import StatesError
from andromede.stepfunctions.map_entries import item_context, iterated, selected_items


def test_an_array_or_an_objects_entries_in_order() -> None:
    assert iterated([1, {"a": 2}]) == ([1, {"a": 2}], None)
    assert iterated({"z": 1, "a": None}) == (
        [{"Key": "z", "Value": 1}, {"Key": "a", "Value": None}], ["z", "a"])  # fmt: skip
    assert iterated({}) == ([], [])
    for scalar in (None, 0, "s", True, 1.5):
        assert iterated(scalar) is None


def test_the_context_of_an_entry_an_element_and_a_read_item() -> None:
    base = {"Execution": {"Id": "e"}}
    entry = {"Key": "k", "Value": [3]}
    assert item_context(base, 2, entry, ["a", "b", "k"]) == {
        "Execution": {"Id": "e"},
        "Map": {"Item": {"Index": 2, "Key": "k", "Value": [3]}},
    }
    # A flattened run mixes entries and elements: an element keeps itself as its Value.
    assert item_context(base, 0, entry, [None], ["s3://b/k#index=0"])["Map"] == {
        "Item": {"Index": 0, "Value": entry, "Source": "s3://b/k#index=0"}}  # fmt: skip
    assert item_context({}, 1, "x")["Map"] == {"Item": {"Index": 1, "Value": "x"}}


@pytest.mark.parametrize(("value", "kind"), [(None, "null"), (False, "a boolean"),
                                             (3, "a number"), ("t", "a string")])  # fmt: skip
def test_items_path_to_anything_else_is_refused_in_words(value: object, kind: str) -> None:
    with pytest.raises(StatesError) as raised:
        selected_items({"ItemsPath": "$.v"}, {"v": value}, {"v": value}, {})
    assert raised.value.error == "States.Runtime"
    assert (
        raised.value.cause
        == f"The Map state's ItemsPath must be a JSON array or object, not {kind}"
    )


def test_jsonata_items_must_be_an_array_the_input_may_be_an_object() -> None:
    jsonata = {"QueryLanguage": "JSONata"}
    assert selected_items(jsonata, {"a": 1}, {"a": 1}, {}) == ([{"Key": "a", "Value": 1}], ["a"])
    with pytest.raises(StatesError) as raised:
        selected_items({**jsonata, "Items": "{% $states.input %}"}, {"a": 1}, {"a": 1}, {})
    assert raised.value.error == "States.QueryEvaluationError"
    with pytest.raises(StatesError) as scalar:
        selected_items(jsonata, 5, 5, {})
    assert (
        scalar.value.cause == "The Map state's input must be a JSON array or object, not a number"
    )
