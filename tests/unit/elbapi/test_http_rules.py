"""Application Load Balancers' listener rules, pure (decision 0216): AWS's wildcards, case
rules, priorities, the default rule, the limits, redirects and weighted forwards."""

from __future__ import annotations

import random

import pytest

from andromede.loadbalancing.errors import InvalidAction, LbValidationError
from andromede.loadbalancing.http_rules import (
    Condition,
    FixedResponse,
    Forward,
    Redirect,
    RequestFacts,
    Rule,
    action_document,
    action_from,
    check_action,
    check_conditions,
    choose,
    condition_document,
    condition_from,
    matches,
    pick_group,
    redirect_location,
)


def facts(
    path: str = "/",
    *,
    method: str = "GET",
    query: str = "",
    host: str = "shop.example.com",
    headers: tuple[tuple[str, str], ...] = (),
    source: str = "10.0.1.5",
) -> RequestFacts:
    return RequestFacts(method, path, query, host, headers, source)


def test_path_pattern_is_case_sensitive_with_aws_wildcards() -> None:
    images = Condition("path-pattern", ("/img/*",))
    assert matches(images, facts("/img/cat.png"))
    assert matches(images, facts("/img/"))
    assert not matches(images, facts("/IMG/cat.png"))
    assert not matches(images, facts("/images/cat.png"))
    one = Condition("path-pattern", ("/v?/items",))
    assert matches(one, facts("/v1/items"))
    assert not matches(one, facts("/v12/items"))
    assert not matches(one, facts("/v/items"))
    # Regex characters in a pattern are literal; the query string is not the path's.
    dotted = Condition("path-pattern", ("/a.b",))
    assert matches(dotted, facts("/a.b"))
    assert not matches(dotted, facts("/aXb"))
    assert not matches(Condition("path-pattern", ("/a*x=1",)), facts("/a", query="x=1"))


def test_host_header_ignores_case_and_port() -> None:
    host = Condition("host-header", ("*.example.com",))
    assert matches(host, facts(host="API.Example.COM"))
    assert matches(host, facts(host="api.example.com:8080"))
    assert not matches(host, facts(host="example.com"))
    assert not matches(host, facts(host="api.example.org"))
    exact = Condition("host-header", ("shop.example.com", "www.example.com"))
    assert matches(exact, facts(host="WWW.example.com"))
    assert not matches(exact, facts(host="wwwXexample.com"))


def test_http_header_name_and_value_ignore_case_any_occurrence() -> None:
    agent = Condition("http-header", ("*Mobile*", "curl/?.*"), header_name="User-Agent")
    assert matches(agent, facts(headers=(("user-agent", "Foo mobile Safari"),)))
    assert matches(agent, facts(headers=(("USER-AGENT", "curl/8.5"),)))
    assert not matches(agent, facts(headers=(("User-Agent", "Firefox"),)))
    assert not matches(agent, facts())
    assert matches(agent, facts(headers=(("User-Agent", "Firefox"), ("User-Agent", "x MOBILE y"))))


def test_method_is_case_sensitive_without_wildcards() -> None:
    method = Condition("http-request-method", ("GET", "HEAD"))
    assert matches(method, facts(method="HEAD"))
    assert not matches(method, facts(method="get"))
    assert not matches(Condition("http-request-method", ("G*",)), facts(method="GET"))


def test_query_string_pairs_keys_optional_decoded_case_insensitive() -> None:
    version = Condition("query-string", pairs=(("version", "v1"), ("", "*beta*")))
    assert matches(version, facts(query="a=1&VERSION=V1"))
    assert matches(version, facts(query="channel=open-Beta-2"))
    assert not matches(version, facts(query="version=v2"))
    assert not matches(version, facts(query=""))
    spaced = Condition("query-string", pairs=(("q", "a%20b"),))
    assert matches(spaced, facts(query="q=a+b"))
    assert matches(spaced, facts(query="q=a%20b"))
    assert matches(Condition("query-string", pairs=(("k", "v?"),)), facts(query="k=v1"))


def test_source_ip_uses_the_client_address_not_forwarded_for() -> None:
    office = Condition("source-ip", ("10.0.1.0/24", "2001:db8::/32"))
    assert matches(office, facts(source="10.0.1.200"))
    assert matches(office, facts(source="2001:db8::7"))
    assert not matches(office, facts(source="10.0.2.1"))
    assert not matches(
        office, facts(source="192.0.2.1", headers=(("X-Forwarded-For", "10.0.1.5"),))
    )


def _rule(priority: int | None, *conditions: Condition, name: str = "") -> Rule:
    return Rule(name or str(priority), priority, conditions, FixedResponse("200"))


def test_rules_by_priority_all_conditions_then_default() -> None:
    rules = [
        _rule(None, name="default"),
        _rule(20, Condition("path-pattern", ("/api/*",))),
        _rule(
            10,
            Condition("path-pattern", ("/api/*",)),
            Condition("http-request-method", ("POST",)),
        ),
        _rule(5, Condition("host-header", ("admin.*",))),
    ]
    assert choose(rules, facts("/api/x", method="POST")).rule_id == "10"  # type: ignore[union-attr]
    assert choose(rules, facts("/api/x")).rule_id == "20"  # type: ignore[union-attr]
    assert choose(rules, facts("/api/x", host="ADMIN.shop")).rule_id == "5"  # type: ignore[union-attr]
    assert choose(rules, facts("/other")).rule_id == "default"  # type: ignore[union-attr]
    assert choose(rules[1:], facts("/other")) is None


def test_condition_limits() -> None:
    check_conditions([Condition("path-pattern", ("/a", "/b", "/c"))])
    with pytest.raises(LbValidationError, match="at least one condition"):
        check_conditions([])
    with pytest.raises(LbValidationError, match="'3' values"):
        check_conditions([Condition("path-pattern", ("/a", "/b", "/c", "/d"))])
    with pytest.raises(LbValidationError, match="'5' condition values"):
        check_conditions(
            [
                Condition("path-pattern", ("/a", "/b", "/c")),
                Condition("host-header", ("a.com", "b.com")),
                Condition("http-request-method", ("GET",)),
            ]
        )
    with pytest.raises(LbValidationError, match="only have one 'path-pattern'"):
        check_conditions([Condition("path-pattern", ("/a",)), Condition("path-pattern", ("/b",))])
    check_conditions(
        [
            Condition("http-header", ("a",), header_name="X-A"),
            Condition("http-header", ("b",), header_name="X-B"),
        ]
    )
    with pytest.raises(LbValidationError, match="'5' wildcards"):
        check_conditions(
            [Condition("path-pattern", ("/*/*/*",)), Condition("host-header", ("*.*.*",))]
        )
    with pytest.raises(LbValidationError, match="must be one of"):
        check_conditions([Condition("cookie", ("a",))])
    for bad in (
        Condition("host-header", ("a_b.com",)),
        Condition("path-pattern", ("/a b",)),
        Condition("path-pattern", ("/" + "a" * 128,)),
        Condition("http-request-method", ("get",)),
        Condition("source-ip", ("10.0.0.300/24",)),
        Condition("source-ip", ("10.0.0.1",)),
        Condition("http-header", ("x",), header_name="Host"),
        Condition("http-header", ("x",), header_name=""),
        Condition("query-string", pairs=(("k", "caf\u00e9"),)),
        Condition("host-header", ()),
    ):
        with pytest.raises(LbValidationError):
            check_conditions([bad])


def test_actions_checks() -> None:
    check_action(Forward((("tg1", 1),)))
    check_action(Forward((("tg1", 0), ("tg2", 999))))
    check_action(FixedResponse("503", "text/plain", "down"))
    check_action(Redirect("HTTP_301", protocol="HTTPS", port="443"))
    for bad in (
        Forward(()),
        Forward(tuple((f"tg{i}", 1) for i in range(6))),
        Forward((("tg1", 1), ("tg1", 2))),
        Forward((("tg1", 1000),)),
        FixedResponse("302"),
        FixedResponse("200", "image/png"),
        FixedResponse("200", "text/plain", "x" * 1025),
        Redirect("HTTP_307", protocol="HTTPS"),
        Redirect("HTTP_301", protocol="FTP"),
        Redirect("HTTP_301", port="0"),
        Redirect("HTTP_301", path="nope"),
        Redirect("HTTP_301", query="?a=1"),
    ):
        with pytest.raises(LbValidationError):
            check_action(bad)
    with pytest.raises(InvalidAction, match="itself"):
        check_action(Redirect("HTTP_302"))


def test_documents_round_trip() -> None:
    for condition in (
        Condition("http-header", ("a*",), header_name="X-Env"),
        Condition("query-string", pairs=(("", "v"), ("k", "w"))),
    ):
        assert condition_from(condition_document(condition)) == condition
    for action in (
        Forward((("tg1", 3), ("tg2", 1))),
        FixedResponse("404", "application/json", '{"e":1}'),
        Redirect("HTTP_302", protocol="HTTPS", host="new.#{host}", port="443", query="a=1"),
    ):
        assert action_from(action_document(action)) == action


def test_redirect_location_fills_the_keywords() -> None:
    request = facts("/shop/cart", query="item=3", host="shop.example.com:8080")
    https = Redirect("HTTP_301", protocol="HTTPS", port="443")
    assert (
        redirect_location(https, request, protocol="HTTP", port=8080)
        == "https://shop.example.com/shop/cart?item=3"
    )
    moved = Redirect("HTTP_302", host="www.#{host}", path="/new/#{path}", query="from=old")
    assert (
        redirect_location(moved, request, protocol="HTTP", port=8080)
        == "http://www.shop.example.com:8080/new/shop/cart?from=old"
    )
    bare = Redirect("HTTP_301", host="other.example", query="")
    assert redirect_location(bare, facts("/"), protocol="HTTP", port=80) == "http://other.example/"


def test_weighted_forward_follows_the_weights() -> None:
    draw = random.Random(7)
    weighted = Forward((("a", 3), ("b", 1), ("never", 0)))
    picks = [pick_group(weighted, draw) for _ in range(4000)]
    assert picks.count("never") == 0
    assert 2700 < picks.count("a") < 3300
    assert pick_group(Forward((("only", 0),))) == "only"
    assert pick_group(Forward((("a", 0), ("b", 0)))) is None
