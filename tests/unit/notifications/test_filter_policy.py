"""SNS filter policies (decision 0163) against the examples of AWS's documentation: exact
strings and numbers, prefix, suffix, equals-ignore-case, anything-but (values, numbers,
prefix), numeric ranges, exists, String.Array attributes, AND across keys and OR within
one, nested keys of a MessageBody policy, and the policies SNS refuses."""

from __future__ import annotations

import json

import pytest

from andromede.notifications.errors import InvalidTopic
from andromede.notifications.filterpolicy import check_filter_policy, matches
from andromede.notifications.messages import _matchable

# AWS's example message attributes (the "customer_interests" / "store" / "price_usd" ones).
ATTRIBUTES = _matchable(
    {
        "customer_interests": ("String.Array", '["soccer", "rugby", "hockey"]'),
        "store": ("String", "example_corp"),
        "event": ("String", "order_placed"),
        "price_usd": ("Number", "210.75"),
        "encrypted": ("String", "false"),
    }
)


def ok(policy: dict[str, object]) -> bool:
    parsed = check_filter_policy(json.dumps(policy), "MessageAttributes")
    return matches(parsed, attributes=ATTRIBUTES)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ({"store": ["example_corp"]}, True),
        ({"store": ["other_corp"]}, False),
        ({"customer_interests": ["rugby", "tennis"]}, True),  # array: any element
        ({"customer_interests": ["tennis"]}, False),
        ({"store": ["example_corp"], "event": ["order_cancelled"]}, False),  # AND
        ({"store": [{"prefix": "example"}]}, True),
        ({"store": [{"suffix": "_corp"}]}, True),
        ({"store": [{"equals-ignore-case": "EXAMPLE_CORP"}]}, True),
        ({"event": [{"anything-but": "order_cancelled"}]}, True),
        ({"event": [{"anything-but": ["order_placed", "x"]}]}, False),
        ({"event": [{"anything-but": {"prefix": "order-"}}]}, True),
        ({"event": [{"anything-but": {"prefix": "order_"}}]}, False),
        ({"price_usd": [{"numeric": [">=", 100]}]}, True),
        ({"price_usd": [{"numeric": [">", 0, "<=", 150]}]}, False),
        ({"price_usd": [210.75]}, True),
        ({"price_usd": [{"numeric": ["=", 210.75]}]}, True),
        ({"store": [{"numeric": [">", 0]}]}, False),  # a String is no number
        ({"price_usd": ["210.75"]}, False),  # a Number is no string
        ({"store": [{"exists": True}]}, True),
        ({"missing": [{"exists": False}]}, True),
        ({"missing": [{"exists": True}]}, False),
        ({"missing": [{"anything-but": "x"}]}, False),  # needs the key present
        ({"missing": ["x"]}, False),
        ({"encrypted": ["false"]}, True),
    ],
)
def test_aws_examples_on_message_attributes(policy: dict[str, object], expected: bool) -> None:
    assert ok(policy) is expected


def test_a_body_policy_matches_nested_keys() -> None:
    policy = check_filter_policy(
        json.dumps({"store": ["example_corp"], "order": {"price": [{"numeric": [">", 100]}]}}),
        "MessageBody",
    )
    assert matches(policy, body={"store": "example_corp", "order": {"price": 150}})
    assert not matches(policy, body={"store": "example_corp", "order": {"price": 50}})
    assert not matches(policy, body={"store": "example_corp"})
    assert not matches(policy, body="not an object")
    flag = check_filter_policy('{"paid": [true]}', "MessageBody")
    assert matches(flag, body={"paid": True}) and not matches(flag, body={"paid": "true"})


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"a": "not an array"}',
        '{"a": []}',
        '{"a": [{"unknown": 1}]}',
        '{"a": [{"prefix": 1}]}',
        '{"a": [{"exists": "yes"}]}',
        '{"a": [{"numeric": ["<", "x"]}]}',
        '{"a": [{"numeric": ["<", 1, ">", 0]}]}',
        '{"a": [{"numeric": ["!=", 1]}]}',
        '{"a": [{"anything-but": {"suffix": "x"}}]}',
        '{"a":["1"],"b":["1"],"c":["1"],"d":["1"],"e":["1"],"f":["1"]}',
        json.dumps({"a": [str(n) for n in range(13)], "b": [str(n) for n in range(13)]}),
    ],
)
def test_policies_sns_refuses(text: str) -> None:
    with pytest.raises(InvalidTopic):
        check_filter_policy(text, "MessageAttributes")
