"""How the console's wire modules read JSON answers (console/json_answers.py): every page of
a listing, as the Signer and Lambda code signing wires list (decision 0406)."""

from __future__ import annotations

from typing import Any

from andromede.console.json_answers import every_page, mapping


async def test_every_page_follows_the_cursor_and_stops_at_the_bound() -> None:
    pages = {"": {"items": [1, 2], "next": "b"}, "b": {"items": [3], "next": "c"},
             "c": {"items": "not a list", "next": ""}}  # fmt: skip
    asked: list[str] = []

    async def ask(token: str) -> dict[str, Any]:
        asked.append(token)
        return pages[token]

    assert await every_page(ask, "items", cursor="next", pages=10) == [1, 2, 3]
    assert asked == ["", "b", "c"]
    asked.clear()
    assert await every_page(ask, "items", cursor="next", pages=2) == [1, 2, 3]
    assert asked == ["", "b"]  # the bound: no third page asked


def test_mapping_is_an_object_or_empty() -> None:
    assert mapping({"a": 1}) == {"a": 1}
    assert mapping([1]) == {} == mapping(None)
