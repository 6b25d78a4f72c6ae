"""Pages of per-qualifier configurations (``functions.qualifier_pages``): MaxItems bounds,
the marker of the next page, an unknown marker refused."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from andromede.functions.errors import InvalidParameterValue
from andromede.functions.qualifier_pages import MAX_QUALIFIER_PAGE, qualifier_page


@dataclass(frozen=True)
class Config:
    qualifier: str


FOUND = [Config(q) for q in ("$LATEST", "blue", "green", "live")]


def test_pages_follow_their_markers_to_the_end() -> None:
    page, marker = qualifier_page(FOUND, None, 2)
    assert [c.qualifier for c in page] == ["$LATEST", "blue"] and marker == "blue"
    page, marker = qualifier_page(FOUND, marker, "2")
    assert [c.qualifier for c in page] == ["green", "live"] and marker is None
    page, marker = qualifier_page(FOUND, "", None)
    assert page == FOUND and marker is None


@pytest.mark.parametrize("size", [0, MAX_QUALIFIER_PAGE + 1, "many", -1])
def test_max_items_outside_one_to_fifty_is_refused(size: object) -> None:
    with pytest.raises(InvalidParameterValue, match="MaxItems must be between 1 and 50"):
        qualifier_page(FOUND, None, size)


def test_a_marker_the_function_does_not_have_is_refused() -> None:
    with pytest.raises(InvalidParameterValue, match="Invalid Marker"):
        qualifier_page(FOUND, "red", 2)
