"""Decision 0343's one reading of a hosted zone id and of a list's page size, shared by the
zone, record set, health check, query logging, DNSSEC and traffic policy handlers: what each
accepts, and Route 53's InvalidInput, with its text, for what it refuses."""

from __future__ import annotations

import pytest

from andromede.route53api.errors import Route53WireError
from andromede.route53api.inputs import bounded_page_size, hosted_zone_id, max_items


def test_a_zone_id_with_or_without_its_path_prefix() -> None:
    assert hosted_zone_id("/hostedzone/Z0123ABC") == "Z0123ABC"
    assert hosted_zone_id(" Z0123ABC ") == "Z0123ABC"


@pytest.mark.parametrize("raw", ["", "z-lower", "/hostedzone/", "Z" * 33])
def test_a_zone_id_that_is_none_is_invalid_input(raw: str) -> None:
    with pytest.raises(Route53WireError) as caught:
        hosted_zone_id(raw)
    assert caught.value.code == "InvalidInput"
    assert caught.value.message.startswith("The input is not valid: invalid hosted zone id")


def test_max_items_defaults_and_is_taken_up_to_the_ceiling() -> None:
    assert max_items({}, 300) == 300
    assert max_items({}, 1000, default=100) == 100
    assert max_items({"maxitems": "7"}, 100) == 7
    assert max_items({"maxitems": "5000"}, 100) == 100


@pytest.mark.parametrize(
    ("raw", "message"),
    [("0", "MaxItems must be at least 1"), ("many", "Invalid value for MaxItems: many")],
)
def test_max_items_refused(raw: str, message: str) -> None:
    with pytest.raises(Route53WireError) as caught:
        max_items({"maxitems": raw}, 100)
    assert (caught.value.code, caught.value.message) == ("InvalidInput", message)


def test_a_bounded_page_size_defaults_to_its_ceiling() -> None:
    assert bounded_page_size(None, "MaxResults", 100) == 100
    assert bounded_page_size("", "MaxResults", 100) == 100
    assert bounded_page_size("100", "MaxResults", 100) == 100
    assert bounded_page_size("1", "MaxItems", 100) == 1


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("0", "MaxResults must be between 1 and 100"),
        ("101", "MaxResults must be between 1 and 100"),
        ("x", "Invalid value for MaxResults: x"),
    ],
)
def test_a_bounded_page_size_refused_outside_its_range(raw: str, message: str) -> None:
    with pytest.raises(Route53WireError) as caught:
        bounded_page_size(raw, "MaxResults", 100)
    assert (caught.value.code, caught.value.message) == ("InvalidInput", message)
