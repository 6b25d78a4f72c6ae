"""Which Region of a Multi-Region Access Point serves a request (decision 0385): the
serving Region when it is active, else an active Region this gateway serves, else any
active one; a passive Region (dial 0) never; the choice the same on every gateway."""

from __future__ import annotations

from andromede.storage.multi_region_access_points import (
    PASSIVE,
    MultiRegionRoute,
    is_alias,
    new_alias,
    serving_route,
)

FR = MultiRegionRoute("fr", "111111111111", "eu-fr-1")
DE = MultiRegionRoute("de", "111111111111", "eu-de-1")
ES = MultiRegionRoute("es", "111111111111", "eu-es-1")
ALL = frozenset({"eu-fr-1", "eu-de-1", "eu-es-1"})


def passive(route: MultiRegionRoute) -> MultiRegionRoute:
    return MultiRegionRoute(route.bucket, route.bucket_account, route.region, PASSIVE)


def test_the_serving_region_when_active() -> None:
    assert serving_route((DE, FR, ES), "eu-fr-1", ALL) == FR
    assert serving_route((DE, FR, ES), "eu-es-1", ALL) == ES


def test_a_passive_region_gets_no_traffic() -> None:
    assert serving_route((passive(FR), DE, ES), "eu-fr-1", ALL) == DE  # first by name
    assert serving_route((passive(FR), passive(DE), ES), "eu-fr-1", ALL) == ES
    assert serving_route((passive(FR), passive(DE)), "eu-fr-1", ALL) is None


def test_a_region_this_gateway_serves_before_another() -> None:
    served = frozenset({"eu-fr-1", "eu-es-1"})
    assert serving_route((passive(FR), DE, ES), "eu-fr-1", served) == ES
    # None served here: the first active one, whose gateway the request is redirected to.
    assert serving_route((passive(FR), DE), "eu-fr-1", frozenset({"eu-fr-1"})) == DE


def test_aliases_have_aws_shape() -> None:
    alias = new_alias()
    assert is_alias(alias) and alias.endswith(".mrap") and len(alias) == 18
    assert alias[0].isalpha()
    assert not is_alias("Upper.mrap") and not is_alias("1abc.mrap") and not is_alias("abc")
    assert len({new_alias() for _ in range(50)}) == 50
