"""What a Decision reports (for the audit trail), the request context's keys, and templates."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from andromede.iam.policy import (
    Outcome,
    PolicyKind,
    PolicySource,
    PrincipalType,
    RequestContext,
    StatementRef,
    evaluate,
    parse_policy,
)
from andromede.iam.policy.wildcard import LITERAL_STAR, Template, VariableRef, parse_template

A = "111122223333"
B = "444455556666"
ALICE: dict[str, Any] = dict(
    principal_type=PrincipalType.USER,
    principal_arn=f"arn:aws:iam::{A}:user/alice",
    principal_account=A,
    username="alice",
)
BOB: dict[str, Any] = dict(
    principal_type=PrincipalType.USER,
    principal_arn=f"arn:aws:iam::{B}:user/bob",
    principal_account=B,
    username="bob",
)


def identity(*statements: dict[str, Any]) -> Any:
    text = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    return parse_policy(text, kind=PolicyKind.IDENTITY)


def resource(*statements: dict[str, Any]) -> Any:
    text = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    return parse_policy(text, kind=PolicyKind.RESOURCE)


GET = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
REQUEST = dict(action="s3:GetObject", resource="arn:aws:s3:::b/k", secure_transport=True)


def test_identity_allow_names_policy_and_statement() -> None:
    decision = evaluate(
        RequestContext(**REQUEST, **ALICE),
        identity_policies=[
            identity({**GET, "Action": "s3:PutObject"}),
            identity({**GET, "Sid": "Read"}),
        ],
        resource_account=A,
    )
    assert decision.allowed
    assert decision.statement == StatementRef(PolicySource.IDENTITY, 1, 0, "Read")


def test_explicit_deny_names_the_deny() -> None:
    decision = evaluate(
        RequestContext(**REQUEST, **ALICE),
        identity_policies=[identity(GET)],
        resource_policy=resource(
            {**GET, "Principal": "*"}, {**GET, "Effect": "Deny", "Principal": "*", "Sid": "NoWay"}
        ),
        resource_account=A,
    )
    assert decision.outcome is Outcome.EXPLICIT_DENY
    assert decision.statement == StatementRef(PolicySource.RESOURCE, 0, 1, "NoWay")
    assert decision.reason == "explicit deny"


def test_session_deny_is_reported_as_session() -> None:
    session = dict(
        principal_type=PrincipalType.ASSUMED_ROLE,
        principal_arn=f"arn:aws:sts::{A}:assumed-role/r/s",
        role_arn=f"arn:aws:iam::{A}:role/r",
        principal_account=A,
    )
    decision = evaluate(
        RequestContext(**REQUEST, **session),
        identity_policies=[identity(GET)],
        session_policy=identity({**GET, "Effect": "Deny"}),
    )
    assert decision.statement is not None
    assert decision.statement.source is PolicySource.SESSION


def test_cross_account_allow_names_both_sides() -> None:
    decision = evaluate(
        RequestContext(**REQUEST, **BOB),
        identity_policies=[identity({**GET, "Sid": "Mine"})],
        resource_policy=resource({**GET, "Principal": {"AWS": B}, "Sid": "Theirs"}),
        resource_account=A,
    )
    assert decision.allowed
    assert [ref.sid for ref in decision.statements] == ["Mine", "Theirs"]


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({}, "no statement allows the request"),
        ({"resource_account": B}, "the caller's account does not allow the request"),
    ],
)
def test_implicit_deny_reasons(kwargs: dict[str, Any], reason: str) -> None:
    decision = evaluate(RequestContext(**REQUEST, **ALICE), **kwargs)
    assert decision.outcome is Outcome.IMPLICIT_DENY
    assert decision.reason == reason
    assert decision.statement is None


def test_missing_resource_side_reason() -> None:
    decision = evaluate(
        RequestContext(**REQUEST, **BOB), identity_policies=[identity(GET)], resource_account=A
    )
    assert decision.reason == "the resource owner's account does not allow the request"


def test_root_reason() -> None:
    root = dict(
        principal_type=PrincipalType.ROOT,
        principal_arn=f"arn:aws:iam::{A}:root",
        principal_account=A,
    )
    decision = evaluate(RequestContext(**REQUEST, **root), resource_account=A)
    assert decision.allowed
    assert decision.reason == "root user of the owning account"


def test_principal_memo_is_bounded() -> None:
    policy = resource({**GET, "Principal": "*"})
    for index in range(5000):
        caller = dict(ALICE, principal_arn=f"arn:aws:iam::{A}:user/u{index}")
        assert evaluate(RequestContext(**REQUEST, **caller), resource_policy=policy).allowed
    assert len(policy._memo) <= 4096


# --- the request context ------------------------------------------------------------------------


def test_builtin_keys() -> None:
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    context = RequestContext(
        action="s3:GetObject",
        resource="*",
        principal_type=PrincipalType.ASSUMED_ROLE,
        principal_arn=f"arn:aws:sts::{A}:assumed-role/r/s",
        role_arn=f"arn:aws:iam::{A}:role/r",
        principal_account=A,
        user_id="AROAR:s",
        source_ip="192.0.2.1",
        secure_transport=True,
        mfa_present=True,
        mfa_age_seconds=30,
        requested_region="eu-west-3",
        current_time=now,
    )
    assert context.get("aws:principalarn") == f"arn:aws:iam::{A}:role/r"
    assert context.get("aws:principaltype") == "AssumedRole"
    assert context.get("aws:principalaccount") == A
    assert context.get("aws:username") is None
    assert context.get("aws:userid") == "AROAR:s"
    assert context.get("aws:sourceip") == "192.0.2.1"
    assert context.get("aws:securetransport") is True
    assert context.get("aws:multifactorauthpresent") is True
    assert context.get("aws:multifactorauthage") == 30
    assert context.get("aws:requestedregion") == "eu-west-3"
    assert context.get("aws:epochtime") == int(now.timestamp())
    assert context.get_string("aws:currenttime") == "2026-06-01T12:00:00Z"
    assert context.get("s3:prefix") is None


def test_anonymous_has_no_principal_keys() -> None:
    context = RequestContext(action="s3:GetObject", resource="*")
    assert context.get("aws:principalarn") is None
    assert context.get("aws:principalaccount") is None
    assert context.get("aws:principaltype") == "Anonymous"


def test_extra_keys_are_case_insensitive_and_override() -> None:
    context = RequestContext(
        action="s3:ListBucket",
        resource="*",
        source_ip="192.0.2.1",
        keys={"S3:Prefix": "a/", "aws:SourceIp": "198.51.100.1", "aws:TagKeys": []},
    )
    assert context.get("s3:prefix") == "a/"
    assert context.get("aws:sourceip") == "198.51.100.1"
    assert context.get("aws:tagkeys") is None  # an empty set is an absent key
    assert context.action_key == "s3:listbucket"


def test_current_time_in_another_zone_renders_as_utc() -> None:
    paris = timezone(timedelta(hours=2))
    context = RequestContext(
        action="s3:GetObject", resource="*", current_time=datetime(2026, 6, 1, 14, 0, tzinfo=paris)
    )
    assert context.get_string("aws:currenttime") == "2026-06-01T12:00:00Z"


# --- templates ----------------------------------------------------------------------------------


def test_text_without_variables_is_returned_as_is() -> None:
    assert parse_template("arn:aws:s3:::b/*") == "arn:aws:s3:::b/*"


def test_escapes_only() -> None:
    assert parse_template("a${*}b") == f"a{LITERAL_STAR}b"


def test_variable_with_default() -> None:
    parsed = parse_template("home/${aws:username, 'guest'}/*")
    assert parsed == Template(("home/", VariableRef("aws:username", "guest"), "/*"))
    assert isinstance(parsed, Template)
    assert parsed.keys == ("aws:username",)


def test_unterminated_variable_is_literal() -> None:
    assert parse_template("a${aws:username") == "a${aws:username"


def test_render_missing_variable() -> None:
    parsed = parse_template("${s3:prefix}x")
    assert isinstance(parsed, Template)
    assert parsed.render(lambda key: None, as_pattern=False) is None
    assert parsed.render(lambda key: "p*", as_pattern=False) == "p*x"
    assert parsed.render(lambda key: "p*", as_pattern=True) == f"p{LITERAL_STAR}x"


# -- permissions boundaries ("Permissions boundaries for IAM entities", evaluation logic) ------
PUT = {**GET, "Action": "s3:PutObject"}
ROLE_SESSION: dict[str, Any] = dict(
    principal_type=PrincipalType.ASSUMED_ROLE,
    principal_arn=f"arn:aws:sts::{A}:assumed-role/ci/build",
    role_arn=f"arn:aws:iam::{A}:role/ci",
    principal_account=A,
)


@pytest.mark.parametrize(
    ("caller", "identity_allows", "boundary", "resource_names", "expected", "reason"),
    [
        # Identity-based allows need the boundary too.
        (ALICE, True, GET, None, Outcome.ALLOW, "allowed by an identity policy"),
        (ALICE, True, PUT, None, Outcome.IMPLICIT_DENY,
         "the permissions boundary does not allow the request"),
        (ALICE, True, {**GET, "Effect": "Deny"}, None, Outcome.EXPLICIT_DENY, "explicit deny"),
        (ALICE, False, GET, None, Outcome.IMPLICIT_DENY, "no statement allows the request"),
        # A same-account resource policy naming the user is not capped by its boundary...
        (ALICE, False, PUT, f"arn:aws:iam::{A}:user/alice", Outcome.ALLOW,
         "allowed by the resource policy"),
        # ... one naming the role is, one naming the role session is not.
        (ROLE_SESSION, False, PUT, f"arn:aws:iam::{A}:role/ci", Outcome.IMPLICIT_DENY,
         "no statement allows the request"),
        (ROLE_SESSION, False, GET, f"arn:aws:iam::{A}:role/ci", Outcome.ALLOW,
         "allowed by the resource policy"),
        (ROLE_SESSION, False, PUT, f"arn:aws:sts::{A}:assumed-role/ci/build", Outcome.ALLOW,
         "allowed by the resource policy"),
        # Naming the account delegates to the identity policies, so to the boundary too.
        (ALICE, True, PUT, f"arn:aws:iam::{A}:root", Outcome.IMPLICIT_DENY,
         "the permissions boundary does not allow the request"),
    ],
)  # fmt: skip
def test_a_permissions_boundary_caps_identity_allows(
    caller: dict[str, Any],
    identity_allows: bool,
    boundary: dict[str, Any],
    resource_names: str | None,
    expected: Outcome,
    reason: str,
) -> None:
    decision = evaluate(
        RequestContext(**REQUEST, **caller),
        identity_policies=[identity(GET)] if identity_allows else [],
        permissions_boundary=identity(boundary),
        resource_policy=(
            None
            if resource_names is None
            else resource({**GET, "Principal": {"AWS": resource_names}})
        ),
        resource_account=A,
    )
    assert (decision.outcome, decision.reason) == (expected, reason)
    if expected is Outcome.EXPLICIT_DENY:
        assert decision.statement is not None
        assert decision.statement.source is PolicySource.BOUNDARY


def test_across_accounts_the_callers_boundary_caps_its_side() -> None:
    both = dict(
        identity_policies=[identity(GET)],
        resource_policy=resource({**GET, "Principal": {"AWS": BOB["principal_arn"]}}),
        resource_account=A,
    )
    allowed = evaluate(RequestContext(**REQUEST, **BOB), **both, permissions_boundary=identity(GET))
    assert allowed.allowed
    capped = evaluate(RequestContext(**REQUEST, **BOB), **both, permissions_boundary=identity(PUT))
    assert capped.reason == "the permissions boundary does not allow the request"
