"""The request path's shortcuts give the answers of the straightforward evaluation.

A statement's Resource element tests ``*``, exact ARNs and ``literal*`` prefixes before any
glob; IpAddress/NotIpAddress remember their verdict per client address; the resource policy's
statements naming a caller are memoised per (action, caller). Each is checked here against a
reference that does not take the shortcut.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from andromede.iam.policy import (
    Outcome,
    PolicyKind,
    PrincipalType,
    RequestContext,
    evaluate,
    parse_policy,
)
from andromede.iam.policy.conditions import _IP_MEMO_SIZE, parse_condition_block

A = "111122223333"
ARN = "arn:aws:s3:::"
# Pattern tokens: wildcards, the escapes for a literal star and question mark, plain text.
TOKENS = ["a", "b", "/", ":", ".", "*", "?", "${*}", "${?}"]


def _reference_resource(tokens: list[str], text: str) -> bool:
    """AWS's Resource rule as a regex over tokens: a star ending its colon-separated segment is
    ``.*``, other wildcards stay within the segment; escapes are the literal characters."""
    out = []
    for index, token in enumerate(tokens):
        if token == "*":
            rest = "".join(tokens[index:]).lstrip("*")
            out.append(".*" if rest == "" or rest.startswith(":") else "[^:]*")
        elif token == "?":
            out.append("[^:]")
        else:
            out.append(re.escape({"${*}": "*", "${?}": "?"}.get(token, token)))
    return re.fullmatch("".join(out), text, re.DOTALL) is not None


def _statement_applies(resources: list[str], negated: bool, resource: str) -> bool:
    element = "NotResource" if negated else "Resource"
    text = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": {"Effect": "Allow", "Action": "s3:GetObject", element: resources},
        }
    )
    statement = parse_policy(text, kind=PolicyKind.IDENTITY).statements[0]
    return statement.applies(RequestContext(action="s3:GetObject", resource=resource))


patterns = st.lists(st.sampled_from(TOKENS), max_size=8)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(patterns, min_size=1, max_size=3),
    st.booleans(),
    st.text(alphabet="ab/:.*?", max_size=10),
)
def test_resource_element_agrees_with_the_reference(
    resources: list[list[str]], negated: bool, suffix: str
) -> None:
    text = ARN + suffix
    expected = any(_reference_resource(list(ARN) + tokens, text) for tokens in resources)
    found = _statement_applies([ARN + "".join(tokens) for tokens in resources], negated, text)
    assert found is (expected != negated)


def test_a_prefix_pattern_covers_keys_with_colons_and_an_escaped_star_is_literal() -> None:
    assert _statement_applies([f"{ARN}b/*"], False, f"{ARN}b/x:y:z")
    assert not _statement_applies([f"{ARN}b/*"], False, f"{ARN}c/x")
    assert _statement_applies([f"{ARN}b/${{*}}*"], False, f"{ARN}b/*x")
    assert not _statement_applies([f"{ARN}b/${{*}}*"], False, f"{ARN}b/xx")
    assert _statement_applies(["*"], False, "*")
    assert not _statement_applies([f"{ARN}b/*"], True, f"{ARN}b/k")


addresses = st.ip_addresses(v=4).map(str) | st.sampled_from(
    ["::ffff:10.1.2.3", "2001:db8::1", "not an address", "127.0.0.1"]
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["IpAddress", "NotIpAddress"]), st.lists(addresses, min_size=1))
def test_ip_verdicts_remembered_per_address_stay_right(operator: str, asked: list[str]) -> None:
    networks = ["10.0.0.0/8", "127.0.0.0/8", "2001:db8::/32"]
    (clause,) = parse_condition_block({operator: {"aws:SourceIp": networks}}, variables=True)
    for address in [*asked, *asked]:  # the second time from the memo
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            inside = False
        else:
            if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
                parsed = parsed.ipv4_mapped
            inside = any(parsed in ipaddress.ip_network(n) for n in networks)
        context = RequestContext(action="s3:GetObject", resource="*", source_ip=address)
        assert clause.test(context) is (inside != (operator == "NotIpAddress"))


def test_the_ip_memo_is_bounded() -> None:
    (clause,) = parse_condition_block({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, variables=True)
    for number in range(2 * _IP_MEMO_SIZE + 1):
        address = str(ipaddress.IPv4Address(0x0A000000 + number))
        assert clause.test(RequestContext(action="a:b", resource="*", source_ip=address))
    assert len(clause._comparator._memo) <= _IP_MEMO_SIZE  # type: ignore[attr-defined]


def test_the_caller_memo_key_is_plain_strings() -> None:
    """Hashed on every request to a bucket with a policy: no enum member (Python-level hash)."""
    for principal_type in PrincipalType:
        context = RequestContext(
            action="s3:GetObject",
            resource="*",
            principal_type=principal_type,
            principal_arn=f"arn:aws:iam::{A}:root",
            principal_account=A,
        )
        assert all(part is None or type(part) is str for part in context.principal_key)
    keys = {
        RequestContext(action="a:b", resource="*", principal_type=kind).principal_key
        for kind in PrincipalType
    }
    assert len(keys) == len(PrincipalType)


CALLERS: dict[str, dict[str, Any]] = {
    "root": dict(
        principal_type=PrincipalType.ROOT,
        principal_arn=f"arn:aws:iam::{A}:root",
        principal_account=A,
    ),
    "user": dict(
        principal_type=PrincipalType.USER,
        principal_arn=f"arn:aws:iam::{A}:user/alice",
        principal_account=A,
        username="alice",
    ),
    "anonymous": dict(principal_type=PrincipalType.ANONYMOUS),
}


def test_the_memoised_caller_plan_is_per_caller_and_action() -> None:
    """One document, many callers and actions in turn: each gets its own statements, whatever
    was memoised for the others before."""
    policy = parse_policy(
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{A}:user/alice"},
                        "Action": "s3:GetObject",
                        "Resource": f"{ARN}b/*",
                    },
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:PutObject",
                        "Resource": f"{ARN}b/public/*",
                    },
                ],
            }
        ),
        kind=PolicyKind.RESOURCE,
    )
    expected = {
        ("user", "s3:GetObject", "b/k"): Outcome.ALLOW,
        ("anonymous", "s3:GetObject", "b/k"): Outcome.IMPLICIT_DENY,
        ("anonymous", "s3:PutObject", "b/public/k"): Outcome.ALLOW,
        ("user", "s3:PutObject", "b/k"): Outcome.IMPLICIT_DENY,
        ("root", "s3:GetObject", "b/k"): Outcome.ALLOW,
    }
    for _ in range(2):  # the second round from the memo
        for (caller, action, key), outcome in expected.items():
            context = RequestContext(action=action, resource=ARN + key, **CALLERS[caller])
            decision = evaluate(context, resource_policy=policy, resource_account=A)
            assert decision.outcome is outcome, (caller, action, key)
