"""Property tests: invariants of evaluation that must hold for any policies and request."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from andromede.iam.policy import (
    MalformedPolicy,
    Outcome,
    PolicyKind,
    PrincipalType,
    RequestContext,
    evaluate,
    parse_policy,
)
from andromede.iam.policy.wildcard import (
    compile_arn_pattern,
    compile_resource_pattern,
    compile_wildcard,
)

A = "111122223333"
B = "444455556666"
ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:DeleteObject"]
ACTION_PATTERNS = [*ACTIONS, "s3:*", "s3:Get*", "*", "s3:*Object"]
RESOURCES = ["arn:aws:s3:::b/k", "arn:aws:s3:::b/d/k", "arn:aws:s3:::b", "arn:aws:s3:::c/k"]
RESOURCE_PATTERNS = [*RESOURCES, "*", "arn:aws:s3:::b/*", "arn:aws:s3:::?/k", "arn:aws:s3:::b*"]
PRINCIPAL_ENTRIES: list[Any] = [
    "*",
    {"AWS": A},
    {"AWS": B},
    {"AWS": f"arn:aws:iam::{A}:user/alice"},
    {"AWS": f"arn:aws:iam::{B}:user/bob"},
    {"AWS": f"arn:aws:iam::{A}:role/reader"},
]
CONDITIONS: list[Any] = [
    None,
    {"Bool": {"aws:SecureTransport": "true"}},
    {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
    {"StringLike": {"s3:prefix": "home/*"}},
    {"StringNotEquals": {"s3:prefix": "tmp/"}},
    {"NumericLessThanIfExists": {"s3:max-keys": "100"}},
]
CALLERS: dict[str, dict[str, Any]] = {
    "alice": dict(
        principal_type=PrincipalType.USER,
        principal_arn=f"arn:aws:iam::{A}:user/alice",
        principal_account=A,
        username="alice",
    ),
    "bob": dict(
        principal_type=PrincipalType.USER,
        principal_arn=f"arn:aws:iam::{B}:user/bob",
        principal_account=B,
        username="bob",
    ),
    "session": dict(
        principal_type=PrincipalType.ASSUMED_ROLE,
        principal_arn=f"arn:aws:sts::{A}:assumed-role/reader/s",
        role_arn=f"arn:aws:iam::{A}:role/reader",
        principal_account=A,
    ),
    "root_a": dict(
        principal_type=PrincipalType.ROOT,
        principal_arn=f"arn:aws:iam::{A}:root",
        principal_account=A,
    ),
    "root_b": dict(
        principal_type=PrincipalType.ROOT,
        principal_arn=f"arn:aws:iam::{B}:root",
        principal_account=B,
    ),
    "anon": dict(principal_type=PrincipalType.ANONYMOUS),
}


def _statement(draw: st.DrawFn, *, with_principal: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"Effect": draw(st.sampled_from(["Allow", "Deny"]))}
    actions = draw(st.lists(st.sampled_from(ACTION_PATTERNS), min_size=1, max_size=3))
    out["NotAction" if draw(st.booleans()) and draw(st.booleans()) else "Action"] = actions
    resources = draw(st.lists(st.sampled_from(RESOURCE_PATTERNS), min_size=1, max_size=3))
    out["NotResource" if draw(st.booleans()) and draw(st.booleans()) else "Resource"] = resources
    if with_principal:
        out["Principal"] = draw(st.sampled_from(PRINCIPAL_ENTRIES))
    condition = draw(st.sampled_from(CONDITIONS))
    if condition is not None:
        out["Condition"] = condition
    return out


@st.composite
def policies(draw: st.DrawFn, *, with_principal: bool) -> list[dict[str, Any]]:
    count = draw(st.integers(1, 5))
    return [_statement(draw, with_principal=with_principal) for _ in range(count)]


@st.composite
def requests(draw: st.DrawFn) -> RequestContext:
    caller = draw(st.sampled_from(sorted(CALLERS)))
    keys: dict[str, Any] = {}
    if draw(st.booleans()):
        keys["s3:prefix"] = draw(st.sampled_from(["home/a", "tmp/", ""]))
    if draw(st.booleans()):
        keys["s3:max-keys"] = draw(st.sampled_from(["10", "1000"]))
    return RequestContext(
        action=draw(st.sampled_from(ACTIONS)),
        resource=draw(st.sampled_from(RESOURCES)),
        source_ip=draw(st.sampled_from(["10.1.2.3", "192.0.2.1"])),
        secure_transport=draw(st.booleans()),
        current_time=datetime(2026, 6, 1, tzinfo=UTC),
        keys=keys,
        **CALLERS[caller],
    )


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "identity": draw(st.lists(policies(with_principal=False), max_size=2)),
        "resource": draw(st.none() | policies(with_principal=True)),
        "owner": draw(st.sampled_from([A, B])),
        "acl": draw(st.booleans()),
    }


def _text(statements: list[dict[str, Any]]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def _decide(context: RequestContext, scenario: dict[str, Any]) -> Outcome:
    identity = [parse_policy(_text(p), kind=PolicyKind.IDENTITY) for p in scenario["identity"]]
    resource = (
        parse_policy(_text(scenario["resource"]), kind=PolicyKind.RESOURCE)
        if scenario["resource"]
        else None
    )
    return evaluate(
        context,
        identity_policies=identity,
        resource_policy=resource,
        resource_account=scenario["owner"],
        acl_allows=scenario["acl"],
    ).outcome


@settings(max_examples=150, deadline=None)
@given(requests(), scenarios(), st.data())
def test_a_matching_deny_in_the_resource_policy_always_denies(
    context: RequestContext, scenario: dict[str, Any], data: st.DataObject
) -> None:
    blocker = {"Effect": "Deny", "Principal": "*", "Action": context.action, "Resource": "*"}
    resource = list(scenario["resource"] or [])
    resource.insert(data.draw(st.integers(0, len(resource))), blocker)
    assert _decide(context, {**scenario, "resource": resource}) is Outcome.EXPLICIT_DENY


@settings(max_examples=150, deadline=None)
@given(requests(), scenarios())
def test_adding_an_identity_deny_never_turns_a_denial_into_an_allow(
    context: RequestContext, scenario: dict[str, Any]
) -> None:
    before = _decide(context, scenario)
    blocker = {"Effect": "Deny", "Action": context.action, "Resource": context.resource}
    after = _decide(context, {**scenario, "identity": [*scenario["identity"], [blocker]]})
    if before is not Outcome.ALLOW:
        assert after is not Outcome.ALLOW
    if context.principal_type in (PrincipalType.USER, PrincipalType.ASSUMED_ROLE):
        assert after is Outcome.EXPLICIT_DENY


@settings(max_examples=150, deadline=None)
@given(requests(), scenarios())
def test_adding_an_allow_never_turns_an_allow_into_a_denial(
    context: RequestContext, scenario: dict[str, Any]
) -> None:
    before = _decide(context, scenario)
    opener = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    after = _decide(context, {**scenario, "identity": [*scenario["identity"], [opener]]})
    if before is Outcome.ALLOW:
        assert after is Outcome.ALLOW
    if before is Outcome.EXPLICIT_DENY:
        assert after is Outcome.EXPLICIT_DENY


@settings(max_examples=150, deadline=None)
@given(requests(), scenarios())
def test_allow_star_allows_whatever_is_not_explicitly_denied_in_the_own_account(
    context: RequestContext, scenario: dict[str, Any]
) -> None:
    if context.principal_type not in (PrincipalType.USER, PrincipalType.ASSUMED_ROLE):
        return
    scenario = {**scenario, "owner": context.principal_account}
    scenario["identity"] = [
        *scenario["identity"],
        [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    ]
    assert _decide(context, scenario) in (Outcome.ALLOW, Outcome.EXPLICIT_DENY)
    allows_only = {
        **scenario,
        "identity": [[s for s in p if s["Effect"] == "Allow"] for p in scenario["identity"]],
        "resource": [s for s in scenario["resource"] or [] if s["Effect"] == "Allow"] or None,
    }
    allows_only["identity"] = [p for p in allows_only["identity"] if p]
    assert _decide(context, allows_only) is Outcome.ALLOW


@settings(max_examples=150, deadline=None)
@given(requests(), scenarios(), st.randoms(use_true_random=False))
def test_statement_order_does_not_matter(
    context: RequestContext, scenario: dict[str, Any], rng: Any
) -> None:
    shuffled = {**scenario}
    shuffled["identity"] = [
        rng.sample(p, len(p)) for p in rng.sample(scenario["identity"], len(scenario["identity"]))
    ]
    if scenario["resource"]:
        shuffled["resource"] = rng.sample(scenario["resource"], len(scenario["resource"]))
    assert _decide(context, scenario) is _decide(context, shuffled)


# --- wildcard matching against a reference implementation ---------------------------------------


def reference_match(pattern: str, text: str, separator: str | None = None) -> bool:
    """Textbook wildcard matching by dynamic programming; ``*``/``?`` never match ``separator``."""
    rows, cols = len(pattern), len(text)
    table = [[False] * (cols + 1) for _ in range(rows + 1)]
    table[0][0] = True
    for i in range(1, rows + 1):
        if pattern[i - 1] == "*":
            table[i][0] = table[i - 1][0]
    for i in range(1, rows + 1):
        symbol = pattern[i - 1]
        for j in range(1, cols + 1):
            char = text[j - 1]
            if symbol == "*":
                table[i][j] = table[i - 1][j] or (table[i][j - 1] and char != separator)
            elif symbol == "?":
                table[i][j] = table[i - 1][j - 1] and char != separator
            else:
                table[i][j] = table[i - 1][j - 1] and symbol == char
    return table[rows][cols]


def reference_arn_match(pattern: str, text: str) -> bool:
    """ArnLike as AWS describes it: each of the six components matched on its own."""
    wanted = pattern.split(":", 5)
    got = text.split(":", len(wanted) - 1)
    if len(got) != len(wanted):
        return False
    return all(reference_match(p, t) for p, t in zip(wanted, got, strict=True))


def reference_resource_match(pattern: str, text: str) -> bool:
    """The Resource rule as a regex: a star ending its segment is .*, other wildcards [^:]."""
    out = []
    for index, char in enumerate(pattern):
        if char == "*":
            rest = pattern[index:].lstrip("*")
            out.append(".*" if rest == "" or rest.startswith(":") else "[^:]*")
        elif char == "?":
            out.append("[^:]")
        else:
            out.append(re.escape(char))
    return re.fullmatch("".join(out), text, re.DOTALL) is not None


ALPHABET = "ab/:.*?"


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=10), st.text(alphabet="ab/:.", max_size=12))
def test_wildcard_agrees_with_reference(pattern: str, text: str) -> None:
    expected = reference_match(pattern, text)
    assert compile_wildcard(pattern).fullmatch(text) is expected


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=14), st.text(alphabet="ab/:.", max_size=14))
def test_arn_wildcard_agrees_with_reference(pattern: str, text: str) -> None:
    expected = reference_arn_match(pattern, text)
    assert compile_arn_pattern(pattern).fullmatch(text) is expected


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=10), st.text(alphabet="ab/:.", max_size=12))
def test_resource_wildcard_agrees_with_reference(pattern: str, text: str) -> None:
    expected = reference_resource_match(pattern, text)
    assert compile_resource_pattern(pattern).fullmatch(text) is expected


# --- the parser never fails with anything but MalformedPolicy -----------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=8)
    | st.sampled_from(
        ["*", "Allow", "Deny", "s3:GetObject", "2012-10-17", "arn:aws:s3:::b/*", "StringEquals"]
    ),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "Version",
                    "Statement",
                    "Effect",
                    "Action",
                    "Resource",
                    "Principal",
                    "Condition",
                    "AWS",
                    "NotAction",
                    "Sid",
                    "s3:prefix",
                    "StringLike",
                    "ForAnyValue:Bool",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(json_values, st.sampled_from(list(PolicyKind)))
def test_parser_rejects_garbage_only_with_malformed_policy(value: Any, kind: PolicyKind) -> None:
    try:
        parse_policy(json.dumps(value), kind=kind)
    except MalformedPolicy:
        pass


def test_pathological_patterns_match_in_linear_time() -> None:
    """A backtracking regex takes seconds on 40 characters here; a tenant's policy must not be
    able to stall the gateway (its request supplies the object key being matched)."""
    pattern = "*a" * 40 + "*b"
    text = "a" * 5000
    start = time.perf_counter()
    assert not compile_wildcard(pattern).fullmatch(text)
    assert not compile_arn_pattern("arn:aws:s3:::" + pattern).fullmatch("arn:aws:s3:::" + text)
    colons = "arn:aws:s3:::" + "a:" * 500
    assert not compile_resource_pattern("arn:aws:s3:::" + pattern).fullmatch(colons)
    assert time.perf_counter() - start < 0.5
