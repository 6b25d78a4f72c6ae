"""The evaluation table: each case is one request against some policies, with the outcome AWS
documents and the page (and section) the expectation comes from.

Citations name pages of the IAM User Guide ("IAM JSON policy elements: Condition operators",
"Policy evaluation logic", "Cross-account policy evaluation logic", ...) and of the S3 User
Guide. Accounts: A = 111122223333 owns the bucket unless a case says otherwise; B = 444455556666.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from andromede.iam.policy import (
    Outcome,
    PolicyKind,
    PrincipalType,
    RequestContext,
    evaluate,
    parse_policy,
)

A = "111122223333"
B = "444455556666"
NOW = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
NOW_EPOCH = int(NOW.timestamp())
OBJ = "arn:aws:s3:::bucket/key"
ALLOW = Outcome.ALLOW
EXPLICIT = Outcome.EXPLICIT_DENY
IMPLICIT = Outcome.IMPLICIT_DENY

# Doc pages, abbreviated once.
OPS = "IAM JSON policy elements: Condition operators"
OPS_STR = f"{OPS}, String condition operators"
OPS_NUM = f"{OPS}, Numeric condition operators"
OPS_DATE = f"{OPS}, Date condition operators"
OPS_BOOL = f"{OPS}, Boolean condition operators"
OPS_BIN = f"{OPS}, Binary condition operators"
OPS_IP = f"{OPS}, IP address condition operators"
OPS_ARN = f"{OPS}, Amazon Resource Name (ARN) condition operators"
OPS_IFEXISTS = f"{OPS}, ...IfExists condition operators"
OPS_NULL = f"{OPS}, Condition operator to check existence of condition keys"
OPS_MISSING = f"{OPS}, (important note: key not present in the request context)"
SETS = "Set operators for multivalued context keys"
MULTI = "Condition element with multiple context keys or values"
VARS = "IAM policy elements: Variables and tags"
ACTION = "IAM JSON policy elements: Action"
NOTACTION = "IAM JSON policy elements: NotAction"
RESOURCE = "IAM JSON policy elements: Resource"
NOTRESOURCE = "IAM JSON policy elements: NotResource"
PRINCIPAL = "IAM JSON policy elements: Principal"
NOTPRINCIPAL = "IAM JSON policy elements: NotPrincipal"
LOGIC = "Policy evaluation logic"
WITHIN = "Determining whether a request is allowed or denied within an account"
CROSS = "Cross-account policy evaluation logic"
SESSION = "Policies and permissions in IAM, Session policies"
S3AUTH = "S3 User Guide: How Amazon S3 authorizes a request"
GLOBAL = "AWS global condition context keys"
S3KEYS = "S3 User Guide: Bucket policy examples using condition keys"

MISSING: Any = object()

PRINCIPALS: dict[str, dict[str, Any]] = {
    "alice": dict(
        principal_type=PrincipalType.USER,
        principal_arn=f"arn:aws:iam::{A}:user/alice",
        principal_account=A,
        username="alice",
        user_id="AIDAALICE",
    ),
    "carol": dict(
        principal_type=PrincipalType.USER,
        principal_arn=f"arn:aws:iam::{A}:user/carol",
        principal_account=A,
        username="carol",
        user_id="AIDACAROL",
    ),
    "bob": dict(
        principal_type=PrincipalType.USER,
        principal_arn=f"arn:aws:iam::{B}:user/bob",
        principal_account=B,
        username="bob",
        user_id="AIDABOB",
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
        canonical_user_id="canonical-b",
    ),
    "anon": dict(principal_type=PrincipalType.ANONYMOUS),
    "session_a": dict(
        principal_type=PrincipalType.ASSUMED_ROLE,
        principal_arn=f"arn:aws:sts::{A}:assumed-role/reader/s1",
        role_arn=f"arn:aws:iam::{A}:role/reader",
        principal_account=A,
        user_id="AROAREADER:s1",
    ),
    "session_b": dict(
        principal_type=PrincipalType.ASSUMED_ROLE,
        principal_arn=f"arn:aws:sts::{B}:assumed-role/writer/s2",
        role_arn=f"arn:aws:iam::{B}:role/writer",
        principal_account=B,
        user_id="AROAWRITER:s2",
    ),
    "service": dict(principal_type=PrincipalType.SERVICE, principal_arn="logging.s3.amazonaws.com"),
}


def stmt(
    effect: str,
    action: str | list[str] = "s3:GetObject",
    resource: str | list[str] | None = "*",
    *,
    principal: Any = None,
    not_principal: Any = None,
    not_action: str | list[str] | None = None,
    not_resource: str | list[str] | None = None,
    condition: dict[str, Any] | None = None,
    sid: str | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"Effect": effect}
    if sid:
        out["Sid"] = sid
    if not_action is not None:
        out["NotAction"] = not_action
    else:
        out["Action"] = action
    if not_resource is not None:
        out["NotResource"] = not_resource
    elif resource is not None:
        out["Resource"] = resource
    if principal is not None:
        out["Principal"] = principal
    if not_principal is not None:
        out["NotPrincipal"] = not_principal
    if condition is not None:
        out["Condition"] = condition
    return out


def allow(*args: Any, **kwargs: Any) -> dict[str, Any]:
    return stmt("Allow", *args, **kwargs)


def deny(*args: Any, **kwargs: Any) -> dict[str, Any]:
    return stmt("Deny", *args, **kwargs)


def policy(*statements: dict[str, Any], version: str = "2012-10-17") -> dict[str, Any]:
    return {"Version": version, "Statement": list(statements)}


@dataclass(frozen=True)
class Case:
    id: str
    doc: str
    expect: Outcome
    identity: tuple[dict[str, Any], ...] = ()
    resource_policy: dict[str, Any] | None = None
    session: dict[str, Any] | None = None
    owner: str | None = A
    who: str = "alice"
    action: str = "s3:GetObject"
    resource: str = OBJ
    fields: dict[str, Any] = field(default_factory=dict)
    keys: dict[str, Any] = field(default_factory=dict)
    acl: bool = False


def case(id: str, doc: str, expect: Outcome, *identity: dict[str, Any], **kw: Any) -> Case:
    return Case(id, doc, expect, tuple(identity), **kw)


def cond(
    id: str,
    doc: str,
    operator: str,
    key: str,
    values: Any,
    context: Any = MISSING,
    holds: bool = True,
    **kw: Any,
) -> Case:
    """An identity policy allowing s3:GetObject under one condition clause."""
    keys = dict(kw.pop("keys", {}))
    if context is not MISSING:
        keys[key] = context
    return Case(
        id,
        doc,
        ALLOW if holds else IMPLICIT,
        (policy(allow(condition={operator: {key: values}})),),
        keys=keys,
        **kw,
    )


NO_IP = {"source_ip": None}

CASES: list[Case] = [
    # --- String operators --------------------------------------------------------------------
    cond("str-eq-match", OPS_STR, "StringEquals", "s3:prefix", "home/", "home/"),
    cond("str-eq-case-sensitive", OPS_STR, "StringEquals", "s3:prefix", "Home/", "home/", False),
    cond("str-eq-values-ored", MULTI, "StringEquals", "s3:prefix", ["a/", "home/"], "home/"),
    cond("str-eq-missing-false", OPS_MISSING, "StringEquals", "s3:prefix", "home/", holds=False),
    cond("str-ne-other", OPS_STR, "StringNotEquals", "s3:prefix", "tmp/", "home/"),
    cond("str-ne-listed", OPS_STR, "StringNotEquals", "s3:prefix", "home/", "home/", False),
    cond("str-ne-nor", MULTI, "StringNotEquals", "s3:prefix", ["a/", "home/"], "home/", False),
    cond("str-ne-missing-true", OPS_MISSING, "StringNotEquals", "s3:prefix", "home/"),
    cond("str-eqic-case", OPS_STR, "StringEqualsIgnoreCase", "s3:prefix", "HOME/", "home/"),
    cond(
        "str-neic-case", OPS_STR, "StringNotEqualsIgnoreCase", "s3:prefix", "HOME/", "home/", False
    ),
    cond("str-neic-other", OPS_STR, "StringNotEqualsIgnoreCase", "s3:prefix", "TMP/", "home/"),
    cond("str-like-star", OPS_STR, "StringLike", "s3:prefix", "home/*", "home/a/b"),
    cond("str-like-question", OPS_STR, "StringLike", "s3:prefix", "v?/", "v1/"),
    cond("str-like-question-one", OPS_STR, "StringLike", "s3:prefix", "v?/", "v10/", False),
    cond("str-like-no-wildcard-exact", OPS_STR, "StringLike", "s3:prefix", "home", "home/a", False),
    cond("str-like-case-sensitive", OPS_STR, "StringLike", "s3:prefix", "HOME/*", "home/a", False),
    cond("str-notlike-matching", OPS_STR, "StringNotLike", "s3:prefix", "home/*", "home/a", False),
    cond("str-notlike-other", OPS_STR, "StringNotLike", "s3:prefix", "home/*", "tmp/a"),
    cond("str-notlike-missing-true", OPS_MISSING, "StringNotLike", "s3:prefix", "home/*"),
    cond("str-like-missing-false", OPS_MISSING, "StringLike", "s3:prefix", "*", holds=False),
    cond("key-case-insensitive", OPS, "StringEquals", "S3:Prefix", "home/", "home/"),
    cond(
        "key-case-insensitive-context",
        OPS,
        "StringEquals",
        "s3:prefix",
        "x",
        keys={"S3:PREFIX": "x"},
    ),
    cond("str-eq-bool-context", OPS_STR, "StringEquals", "aws:SecureTransport", "true"),
    cond("str-eq-delimiter", S3KEYS, "StringEquals", "s3:delimiter", "/", "/"),
    cond(
        "str-eq-acl",
        S3KEYS,
        "StringEquals",
        "s3:x-amz-acl",
        "bucket-owner-full-control",
        "private",
        False,
    ),
    cond(
        "str-eq-sse",
        S3KEYS,
        "StringEquals",
        "s3:x-amz-server-side-encryption",
        "aws:kms",
        "aws:kms",
    ),
    cond(
        "str-eq-sse-kms-key",
        S3KEYS,
        "StringEquals",
        "s3:x-amz-server-side-encryption-aws-kms-key-id",
        "arn:aws:kms:eu-west-3:111122223333:key/k1",
        "arn:aws:kms:eu-west-3:111122223333:key/k1",
    ),
    cond(
        "str-eq-location", S3KEYS, "StringEquals", "s3:LocationConstraint", "eu-west-3", "eu-west-3"
    ),
    cond("str-eq-number-json", OPS_STR, "StringEquals", "s3:max-keys", 10, "10"),
    # --- Numeric -------------------------------------------------------------------------------
    cond("num-eq", OPS_NUM, "NumericEquals", "s3:max-keys", "10", "10"),
    cond("num-eq-decimal", OPS_NUM, "NumericEquals", "s3:max-keys", "10", "10.0"),
    cond("num-eq-other", OPS_NUM, "NumericEquals", "s3:max-keys", "10", "11", False),
    cond("num-ne", OPS_NUM, "NumericNotEquals", "s3:max-keys", "10", "11"),
    cond("num-ne-equal", OPS_NUM, "NumericNotEquals", "s3:max-keys", "10", "10", False),
    cond("num-lt", OPS_NUM, "NumericLessThan", "s3:max-keys", "100", "50"),
    cond("num-lt-equal", OPS_NUM, "NumericLessThan", "s3:max-keys", "100", "100", False),
    cond("num-le-equal", OPS_NUM, "NumericLessThanEquals", "s3:max-keys", "100", "100"),
    cond("num-gt", OPS_NUM, "NumericGreaterThan", "s3:max-keys", "10", "11"),
    cond("num-gt-equal", OPS_NUM, "NumericGreaterThan", "s3:max-keys", "10", "10", False),
    cond("num-ge-less", OPS_NUM, "NumericGreaterThanEquals", "s3:max-keys", "10", "9", False),
    cond("num-ge-equal", OPS_NUM, "NumericGreaterThanEquals", "s3:max-keys", "10", "10"),
    cond("num-not-a-number", OPS_NUM, "NumericLessThan", "s3:max-keys", "10", "abc", False),
    cond("num-missing-false", OPS_MISSING, "NumericEquals", "s3:max-keys", "10", holds=False),
    cond("num-ne-missing-true", OPS_MISSING, "NumericNotEquals", "s3:max-keys", "10"),
    cond("num-json-number", OPS_NUM, "NumericLessThanEquals", "s3:max-keys", 1000, "500"),
    cond("num-int-context", OPS_NUM, "NumericLessThanEquals", "s3:max-keys", "1000", 500),
    cond(
        "num-mfa-age",
        GLOBAL + ", aws:MultiFactorAuthAge",
        "NumericLessThan",
        "aws:MultiFactorAuthAge",
        "3600",
        fields={"mfa_age_seconds": 120},
    ),
    cond(
        "num-mfa-age-old",
        GLOBAL + ", aws:MultiFactorAuthAge",
        "NumericLessThan",
        "aws:MultiFactorAuthAge",
        "3600",
        holds=False,
        fields={"mfa_age_seconds": 7200},
    ),
    # --- Date ----------------------------------------------------------------------------------
    cond("date-gt-current", OPS_DATE, "DateGreaterThan", "aws:CurrentTime", "2026-01-01T00:00:00Z"),
    cond(
        "date-lt-current",
        OPS_DATE,
        "DateLessThan",
        "aws:CurrentTime",
        "2026-01-01T00:00:00Z",
        holds=False,
    ),
    cond("date-eq-epoch", OPS_DATE, "DateEquals", "aws:CurrentTime", str(NOW_EPOCH)),
    cond("date-eq-iso", OPS_DATE, "DateEquals", "aws:CurrentTime", "2026-06-01T12:00:00Z"),
    cond("date-ne", OPS_DATE, "DateNotEquals", "aws:CurrentTime", "2026-06-01T12:00:01Z"),
    cond(
        "date-le-equal", OPS_DATE, "DateLessThanEquals", "aws:CurrentTime", "2026-06-01T12:00:00Z"
    ),
    cond(
        "date-ge-epoch-key",
        OPS_DATE,
        "DateGreaterThanEquals",
        "aws:EpochTime",
        "2026-06-01T11:59:59Z",
    ),
    cond("date-offset", OPS_DATE, "DateEquals", "aws:CurrentTime", "2026-06-01T14:00:00+02:00"),
    cond("date-date-only", OPS_DATE, "DateGreaterThan", "aws:CurrentTime", "2026-05-31"),
    cond(
        "date-bad-context",
        OPS_DATE,
        "DateLessThan",
        "aws:TokenIssueTime",
        "2030-01-01T00:00:00Z",
        "soon",
        False,
    ),
    cond(
        "date-string-context",
        OPS_DATE,
        "DateLessThan",
        "aws:TokenIssueTime",
        "2030-01-01T00:00:00Z",
        "2026-05-01T00:00:00Z",
    ),
    cond(
        "date-missing",
        OPS_MISSING,
        "DateLessThan",
        "aws:TokenIssueTime",
        "2030-01-01T00:00:00Z",
        holds=False,
    ),
    # --- Bool ----------------------------------------------------------------------------------
    cond("bool-secure", OPS_BOOL, "Bool", "aws:SecureTransport", "true"),
    cond("bool-secure-false", OPS_BOOL, "Bool", "aws:SecureTransport", "false", holds=False),
    cond("bool-json-literal", OPS_BOOL, "Bool", "aws:SecureTransport", True),
    cond(
        "bool-insecure",
        OPS_BOOL,
        "Bool",
        "aws:SecureTransport",
        "false",
        fields={"secure_transport": False},
    ),
    cond(
        "bool-mfa-missing", OPS_MISSING, "Bool", "aws:MultiFactorAuthPresent", "true", holds=False
    ),
    cond(
        "bool-mfa-present",
        GLOBAL + ", aws:MultiFactorAuthPresent",
        "Bool",
        "aws:MultiFactorAuthPresent",
        "true",
        fields={"mfa_present": True},
    ),
    cond("bool-string-context", OPS_BOOL, "Bool", "aws:ViaAWSService", "false", "false"),
    # --- Binary --------------------------------------------------------------------------------
    cond("binary-eq", OPS_BIN, "BinaryEquals", "test:blob", "QmluYXJ5VmFsdWU=", b"BinaryValue"),
    cond(
        "binary-eq-b64-context",
        OPS_BIN,
        "BinaryEquals",
        "test:blob",
        "QmluYXJ5VmFsdWU=",
        "QmluYXJ5VmFsdWU=",
    ),
    cond("binary-ne", OPS_BIN, "BinaryEquals", "test:blob", "QmluYXJ5VmFsdWU=", b"other", False),
    # --- IP address ----------------------------------------------------------------------------
    cond("ip-in", OPS_IP, "IpAddress", "aws:SourceIp", "203.0.113.0/24"),
    cond("ip-out", OPS_IP, "IpAddress", "aws:SourceIp", "198.51.100.0/24", holds=False),
    cond("ip-single", OPS_IP, "IpAddress", "aws:SourceIp", "203.0.113.5"),
    cond("ip-ored", MULTI, "IpAddress", "aws:SourceIp", ["198.51.100.0/24", "203.0.113.0/28"]),
    cond(
        "ip-v6",
        OPS_IP,
        "IpAddress",
        "aws:SourceIp",
        "2001:db8::/32",
        fields={"source_ip": "2001:db8::1"},
    ),
    cond(
        "ip-v6-out",
        OPS_IP,
        "IpAddress",
        "aws:SourceIp",
        "2001:db8::/32",
        holds=False,
        fields={"source_ip": "2001:db9::1"},
    ),
    cond("ip-v4-vs-v6-net", OPS_IP, "IpAddress", "aws:SourceIp", "::/0", holds=False),
    cond(
        "ip-mapped-v4",
        OPS_IP,
        "IpAddress",
        "aws:SourceIp",
        "203.0.113.0/24",
        fields={"source_ip": "::ffff:203.0.113.9"},
    ),
    cond("notip-out", OPS_IP, "NotIpAddress", "aws:SourceIp", "198.51.100.0/24"),
    cond("notip-in", OPS_IP, "NotIpAddress", "aws:SourceIp", "203.0.113.0/24", holds=False),
    cond(
        "ip-missing",
        OPS_MISSING,
        "IpAddress",
        "aws:SourceIp",
        "0.0.0.0/0",
        holds=False,
        fields=NO_IP,
    ),
    cond(
        "notip-missing", OPS_MISSING, "NotIpAddress", "aws:SourceIp", "203.0.113.0/24", fields=NO_IP
    ),
    cond(
        "ip-garbage-context",
        OPS_IP,
        "IpAddress",
        "aws:SourceIp",
        "0.0.0.0/0",
        holds=False,
        fields={"source_ip": "not-an-ip"},
    ),
    # --- ARN -----------------------------------------------------------------------------------
    cond(
        "arn-like",
        OPS_ARN,
        "ArnLike",
        "aws:SourceArn",
        "arn:aws:s3:::logs-*",
        "arn:aws:s3:::logs-eu",
    ),
    cond(
        "arn-equals",
        OPS_ARN,
        "ArnEquals",
        "aws:SourceArn",
        "arn:aws:s3:::logs",
        "arn:aws:s3:::logs",
    ),
    cond(
        "arn-equals-wildcard",
        OPS_ARN,
        "ArnEquals",
        "aws:SourceArn",
        "arn:aws:iam::*:role/x",
        f"arn:aws:iam::{A}:role/x",
    ),
    cond(
        "arn-like-per-component",
        OPS_ARN + " (each colon-delimited component is matched separately)",
        "ArnLike",
        "aws:SourceArn",
        "arn:aws:*:us-east-1:123456789012:x",
        "arn:aws:s3:eu:us-east-1:123456789012:x",
        False,
    ),
    cond(
        "arn-like-resource-colons",
        OPS_ARN,
        "ArnLike",
        "aws:SourceArn",
        "arn:aws:s3:::b/*",
        "arn:aws:s3:::b/a:b:c",
    ),
    cond(
        "arn-notlike-match",
        OPS_ARN,
        "ArnNotLike",
        "aws:SourceArn",
        "arn:aws:s3:::logs-*",
        "arn:aws:s3:::logs-eu",
        False,
    ),
    cond(
        "arn-notequals-other",
        OPS_ARN,
        "ArnNotEquals",
        "aws:SourceArn",
        "arn:aws:s3:::logs",
        "arn:aws:s3:::other",
    ),
    cond(
        "arn-principalarn-role",
        GLOBAL + ", aws:PrincipalArn (the role ARN for a session)",
        "ArnLike",
        "aws:PrincipalArn",
        f"arn:aws:iam::{A}:role/read*",
        who="session_a",
    ),
    cond("arn-missing", OPS_MISSING, "ArnLike", "aws:SourceArn", "*", holds=False),
    cond("arn-notlike-missing", OPS_MISSING, "ArnNotLike", "aws:SourceArn", "arn:aws:s3:::x"),
    # --- Null ----------------------------------------------------------------------------------
    cond("null-true-missing", OPS_NULL, "Null", "s3:x-amz-server-side-encryption", "true"),
    cond(
        "null-true-present",
        OPS_NULL,
        "Null",
        "s3:x-amz-server-side-encryption",
        "true",
        "AES256",
        False,
    ),
    cond(
        "null-false-present", OPS_NULL, "Null", "s3:x-amz-server-side-encryption", "false", "AES256"
    ),
    cond(
        "null-false-missing",
        OPS_NULL,
        "Null",
        "s3:x-amz-server-side-encryption",
        "false",
        holds=False,
    ),
    cond("null-json-bool", OPS_NULL, "Null", "aws:MultiFactorAuthAge", True),
    # --- ...IfExists ---------------------------------------------------------------------------
    cond("ifexists-missing", OPS_IFEXISTS, "StringEqualsIfExists", "s3:prefix", "home/"),
    cond(
        "ifexists-present-mismatch",
        OPS_IFEXISTS,
        "StringEqualsIfExists",
        "s3:prefix",
        "home/",
        "tmp/",
        False,
    ),
    cond(
        "ifexists-present-match",
        OPS_IFEXISTS,
        "StringEqualsIfExists",
        "s3:prefix",
        "home/",
        "home/",
    ),
    cond("ifexists-numeric-missing", OPS_IFEXISTS, "NumericLessThanIfExists", "s3:max-keys", "10"),
    cond(
        "ifexists-ip-outside",
        OPS_IFEXISTS,
        "IpAddressIfExists",
        "aws:SourceIp",
        "198.51.100.0/24",
        holds=False,
    ),
    cond(
        "ifexists-ip-missing",
        OPS_IFEXISTS,
        "IpAddressIfExists",
        "aws:SourceIp",
        "198.51.100.0/24",
        fields=NO_IP,
    ),
    cond(
        "ifexists-negated-present",
        OPS_IFEXISTS,
        "StringNotEqualsIfExists",
        "s3:prefix",
        "home/",
        "home/",
        False,
    ),
    cond(
        "ifexists-arn-missing", OPS_IFEXISTS, "ArnLikeIfExists", "aws:SourceArn", "arn:aws:s3:::x"
    ),
    cond(
        "ifexists-bool-missing", OPS_IFEXISTS, "BoolIfExists", "aws:MultiFactorAuthPresent", "true"
    ),
    cond(
        "ifexists-date-present",
        OPS_IFEXISTS,
        "DateLessThanIfExists",
        "aws:CurrentTime",
        "2026-01-01T00:00:00Z",
        holds=False,
    ),
    # --- Set operators -------------------------------------------------------------------------
    cond(
        "any-one-matches",
        SETS,
        "ForAnyValue:StringEquals",
        "aws:TagKeys",
        ["env", "team"],
        ["team", "cost"],
    ),
    cond(
        "any-none-matches",
        SETS,
        "ForAnyValue:StringEquals",
        "aws:TagKeys",
        ["env"],
        ["team", "cost"],
        False,
    ),
    cond(
        "any-missing-false", SETS, "ForAnyValue:StringEquals", "aws:TagKeys", ["env"], holds=False
    ),
    cond("any-empty-false", SETS, "ForAnyValue:StringEquals", "aws:TagKeys", ["env"], [], False),
    cond(
        "all-subset",
        SETS,
        "ForAllValues:StringEquals",
        "aws:TagKeys",
        ["env", "team"],
        ["team", "env"],
    ),
    cond(
        "all-one-outside",
        SETS,
        "ForAllValues:StringEquals",
        "aws:TagKeys",
        ["env", "team"],
        ["team", "cost"],
        False,
    ),
    cond("all-missing-true", SETS, "ForAllValues:StringEquals", "aws:TagKeys", ["env"]),
    cond("all-empty-true", SETS, "ForAllValues:StringEquals", "aws:TagKeys", ["env"], []),
    cond(
        "any-negated-some-outside",
        SETS,
        "ForAnyValue:StringNotEquals",
        "aws:TagKeys",
        ["env"],
        ["env", "cost"],
    ),
    cond(
        "any-negated-all-inside",
        SETS,
        "ForAnyValue:StringNotEquals",
        "aws:TagKeys",
        ["env"],
        ["env"],
        False,
    ),
    cond(
        "all-negated-none-inside",
        SETS,
        "ForAllValues:StringNotEquals",
        "aws:TagKeys",
        ["env"],
        ["team", "cost"],
    ),
    cond(
        "all-negated-one-inside",
        SETS,
        "ForAllValues:StringNotEquals",
        "aws:TagKeys",
        ["env"],
        ["team", "env"],
        False,
    ),
    cond(
        "all-like", SETS, "ForAllValues:StringLike", "aws:TagKeys", ["proj-*"], ["proj-a", "proj-b"]
    ),
    cond(
        "any-single-valued-context",
        SETS,
        "ForAnyValue:StringEquals",
        "s3:prefix",
        ["home/"],
        "home/",
    ),
    cond(
        "any-ignorecase",
        SETS,
        "ForAnyValue:StringEqualsIgnoreCase",
        "aws:TagKeys",
        ["ENV"],
        ["env"],
    ),
    cond("all-ifexists-missing", SETS, "ForAllValues:StringEqualsIfExists", "aws:TagKeys", ["env"]),
    cond("plain-op-multivalued", MULTI, "StringEquals", "aws:TagKeys", "env", ["team", "env"]),
    cond(
        "plain-negated-multivalued",
        MULTI,
        "StringNotEquals",
        "aws:TagKeys",
        "env",
        ["team", "env"],
        False,
    ),
    cond("any-numeric", SETS, "ForAnyValue:NumericGreaterThan", "test:sizes", "10", ["1", "20"]),
    # --- Global keys from the context fields ---------------------------------------------------
    cond(
        "key-requested-region",
        GLOBAL + ", aws:RequestedRegion",
        "StringEquals",
        "aws:RequestedRegion",
        "eu-west-3",
    ),
    cond(
        "key-principal-type",
        GLOBAL + ", aws:PrincipalType",
        "StringEquals",
        "aws:PrincipalType",
        "User",
    ),
    cond(
        "key-principal-type-role",
        GLOBAL + ", aws:PrincipalType",
        "StringEquals",
        "aws:PrincipalType",
        "AssumedRole",
        who="session_a",
    ),
    cond(
        "key-principal-account",
        GLOBAL + ", aws:PrincipalAccount",
        "StringEquals",
        "aws:PrincipalAccount",
        A,
    ),
    cond(
        "key-principal-arn-user",
        GLOBAL + ", aws:PrincipalArn",
        "ArnEquals",
        "aws:PrincipalArn",
        f"arn:aws:iam::{A}:user/alice",
    ),
    cond(
        "key-userid",
        GLOBAL + ", aws:userid",
        "StringLike",
        "aws:userid",
        "AROAREADER:*",
        who="session_a",
    ),
    cond("key-username", GLOBAL + ", aws:username", "StringEquals", "aws:username", "alice"),
    cond(
        "key-username-absent-for-role",
        GLOBAL + ", aws:username (IAM users only)",
        "StringEquals",
        "aws:username",
        "s1",
        holds=False,
        who="session_a",
    ),
    # --- Multiple keys and operators: ANDed ----------------------------------------------------
    case(
        "two-keys-and",
        MULTI,
        ALLOW,
        policy(allow(condition={"StringEquals": {"s3:prefix": "a", "s3:delimiter": "/"}})),
        keys={"s3:prefix": "a", "s3:delimiter": "/"},
    ),
    case(
        "two-keys-one-fails",
        MULTI,
        IMPLICIT,
        policy(allow(condition={"StringEquals": {"s3:prefix": "a", "s3:delimiter": "/"}})),
        keys={"s3:prefix": "a", "s3:delimiter": "|"},
    ),
    case(
        "two-operators-one-fails",
        MULTI,
        IMPLICIT,
        policy(
            allow(
                condition={
                    "StringEquals": {"s3:prefix": "a"},
                    "IpAddress": {"aws:SourceIp": "198.51.100.0/24"},
                }
            )
        ),
        keys={"s3:prefix": "a"},
    ),
    # --- Actions -------------------------------------------------------------------------------
    case("action-exact", ACTION, ALLOW, policy(allow("s3:GetObject"))),
    case("action-case-insensitive", ACTION, ALLOW, policy(allow("S3:getobject"))),
    case(
        "action-request-case", ACTION, ALLOW, policy(allow("s3:GetObject")), action="S3:GETOBJECT"
    ),
    case("action-prefix-wildcard", ACTION, ALLOW, policy(allow("s3:Get*"))),
    case(
        "action-wildcard-other", ACTION, IMPLICIT, policy(allow("s3:Get*")), action="s3:PutObject"
    ),
    case(
        "action-infix-wildcard",
        ACTION,
        ALLOW,
        policy(allow("s3:*Object")),
        action="s3:DeleteObject",
    ),
    case("action-star", ACTION, ALLOW, policy(allow("*")), action="iam:CreateUser"),
    case("action-question", ACTION, ALLOW, policy(allow("s3:GetObjec?"))),
    case("action-list", ACTION, ALLOW, policy(allow(["s3:PutObject", "s3:GetObject"]))),
    case("action-other-service", ACTION, IMPLICIT, policy(allow("ec2:*"))),
    case("notaction-allow-other", NOTACTION, ALLOW, policy(allow(not_action="iam:*"))),
    case(
        "notaction-allow-excluded",
        NOTACTION,
        IMPLICIT,
        policy(allow(not_action="iam:*")),
        action="iam:CreateUser",
    ),
    case(
        "notaction-deny-everything-else",
        NOTACTION,
        EXPLICIT,
        policy(allow("*"), deny(not_action="s3:GetObject")),
        action="s3:PutObject",
    ),
    case(
        "notaction-deny-spares-listed",
        NOTACTION,
        ALLOW,
        policy(allow("*"), deny(not_action=["s3:GetObject", "s3:ListBucket"])),
    ),
    # --- Resources -----------------------------------------------------------------------------
    case("resource-exact", RESOURCE, ALLOW, policy(allow(resource=OBJ))),
    case(
        "resource-nested-slash",
        RESOURCE,
        ALLOW,
        policy(allow(resource="arn:aws:s3:::bucket/*")),
        resource="arn:aws:s3:::bucket/a/b/c",
    ),
    case(
        "resource-not-bucket-itself",
        RESOURCE,
        IMPLICIT,
        policy(allow(resource="arn:aws:s3:::bucket/*")),
        resource="arn:aws:s3:::bucket",
    ),
    case("resource-star", RESOURCE, ALLOW, policy(allow(resource="*"))),
    case("resource-question", RESOURCE, ALLOW, policy(allow(resource="arn:aws:s3:::bucke?/key"))),
    case(
        "resource-case-sensitive",
        RESOURCE,
        IMPLICIT,
        policy(allow(resource="arn:aws:s3:::Bucket/key")),
    ),
    case(
        "resource-list",
        RESOURCE,
        ALLOW,
        policy(allow(resource=["arn:aws:s3:::other/*", "arn:aws:s3:::bucket/*"])),
    ),
    case(
        "resource-other-bucket", RESOURCE, IMPLICIT, policy(allow(resource="arn:aws:s3:::other/*"))
    ),
    case("resource-prefix-wildcard", RESOURCE, ALLOW, policy(allow(resource="arn:aws:s3:::buck*"))),
    case(
        "notresource-allow-other",
        NOTRESOURCE,
        ALLOW,
        policy(allow(not_resource="arn:aws:s3:::bucket/secret/*")),
    ),
    case(
        "notresource-allow-excluded",
        NOTRESOURCE,
        IMPLICIT,
        policy(allow(not_resource="arn:aws:s3:::bucket/secret/*")),
        resource="arn:aws:s3:::bucket/secret/x",
    ),
    case(
        "notresource-deny-outside",
        NOTRESOURCE,
        EXPLICIT,
        policy(allow(), deny(not_resource="arn:aws:s3:::bucket/public/*")),
    ),
    case(
        "notresource-deny-spares",
        NOTRESOURCE,
        ALLOW,
        policy(allow(), deny(not_resource="arn:aws:s3:::bucket/public/*")),
        resource="arn:aws:s3:::bucket/public/x",
    ),
    case(
        "resource-final-star-crosses-colons",
        RESOURCE + ", Using wildcards in resource ARNs (a segment-final * extends past colons)",
        ALLOW,
        policy(allow(resource="arn:aws:s3:::bucket/*")),
        resource="arn:aws:s3:::bucket/a:b:c",
    ),
    case(
        "resource-inner-star-stops-at-colon",
        RESOURCE + ", Using wildcards in resource ARNs (wildcards stay within a segment)",
        IMPLICIT,
        policy(allow(resource="arn:aws:s3:::bucket/*/public/*")),
        resource="arn:aws:s3:::bucket/a:b/public/x",
    ),
    case(
        "resource-inner-star-then-final-star",
        RESOURCE + ", Using wildcards in resource ARNs",
        ALLOW,
        policy(allow(resource="arn:aws:s3:::bucket/*/public/*")),
        resource="arn:aws:s3:::bucket/a/public/x:y",
    ),
    case(
        "resource-question-not-colon",
        RESOURCE + ", Using wildcards in resource ARNs",
        IMPLICIT,
        policy(allow(resource="arn:aws:s3:::bucket/a?b")),
        resource="arn:aws:s3:::bucket/a:b",
    ),
    case(
        "resource-account-segment-star",
        RESOURCE + ", Using wildcards in resource ARNs",
        ALLOW,
        policy(allow("iam:GetUser", resource="arn:aws:iam::*:user/alice")),
        action="iam:GetUser",
        resource=f"arn:aws:iam::{A}:user/alice",
    ),
    # --- Policy variables ----------------------------------------------------------------------
    case(
        "var-username-own-folder",
        VARS,
        ALLOW,
        policy(allow(resource="arn:aws:s3:::bucket/home/${aws:username}/*")),
        resource="arn:aws:s3:::bucket/home/alice/notes.txt",
    ),
    case(
        "var-username-other-folder",
        VARS,
        IMPLICIT,
        policy(allow(resource="arn:aws:s3:::bucket/home/${aws:username}/*")),
        resource="arn:aws:s3:::bucket/home/carol/notes.txt",
    ),
    case(
        "var-missing-no-match",
        VARS + " (a variable with no value makes the element not match)",
        IMPLICIT,
        policy(allow(resource="arn:aws:s3:::bucket/home/${aws:username}/*")),
        who="session_a",
        resource="arn:aws:s3:::bucket/home/s1/x",
    ),
    case(
        "var-default-value",
        VARS + ", Specifying default values",
        ALLOW,
        policy(allow(resource="arn:aws:s3:::bucket/home/${aws:username, 'guest'}/*")),
        who="session_a",
        resource="arn:aws:s3:::bucket/home/guest/x",
    ),
    case(
        "var-principal-account",
        VARS,
        ALLOW,
        policy(
            allow("kms:Decrypt", resource="arn:aws:kms:eu-west-3:${aws:PrincipalAccount}:key/*")
        ),
        action="kms:Decrypt",
        resource=f"arn:aws:kms:eu-west-3:{A}:key/k1",
    ),
    case(
        "var-key-case-insensitive",
        VARS,
        ALLOW,
        policy(allow(resource="arn:aws:s3:::bucket/${AWS:UserName}/*")),
        resource="arn:aws:s3:::bucket/alice/x",
    ),
    case(
        "var-2008-literal",
        VARS + " (variables need Version 2012-10-17)",
        ALLOW,
        policy(allow(resource="arn:aws:s3:::bucket/${aws:username}/*"), version="2008-10-17"),
        resource="arn:aws:s3:::bucket/${aws:username}/x",
    ),
    case(
        "var-2008-not-substituted",
        VARS + " (variables need Version 2012-10-17)",
        IMPLICIT,
        policy(allow(resource="arn:aws:s3:::bucket/${aws:username}/*"), version="2008-10-17"),
        resource="arn:aws:s3:::bucket/alice/x",
    ),
    case(
        "var-escape-star",
        VARS + ", Special characters",
        ALLOW,
        policy(allow(resource="arn:aws:s3:::bucket/a${*}b")),
        resource="arn:aws:s3:::bucket/a*b",
    ),
    case(
        "var-escape-star-literal",
        VARS + ", Special characters",
        IMPLICIT,
        policy(allow(resource="arn:aws:s3:::bucket/a${*}b")),
        resource="arn:aws:s3:::bucket/axxb",
    ),
    case(
        "var-escape-question",
        VARS + ", Special characters",
        IMPLICIT,
        policy(allow(resource="arn:aws:s3:::bucket/a${?}b")),
        resource="arn:aws:s3:::bucket/axb",
    ),
    case(
        "var-escape-dollar",
        VARS + ", Special characters",
        ALLOW,
        policy(allow(resource="arn:aws:s3:::bucket/${$}{x}")),
        resource="arn:aws:s3:::bucket/${x}",
    ),
    case(
        "var-value-is-literal",
        VARS + " (substituted values are not wildcards)",
        IMPLICIT,
        policy(allow(resource="arn:aws:s3:::bucket/${s3:prefix}")),
        keys={"s3:prefix": "*"},
    ),
    case(
        "var-in-condition",
        VARS + ", Using variables in conditions",
        ALLOW,
        policy(
            allow(
                "s3:ListBucket", condition={"StringLike": {"s3:prefix": ["home/${aws:username}/*"]}}
            )
        ),
        action="s3:ListBucket",
        keys={"s3:prefix": "home/alice/docs/"},
    ),
    case(
        "var-in-condition-other-user",
        VARS + ", Using variables in conditions",
        IMPLICIT,
        policy(
            allow(
                "s3:ListBucket", condition={"StringLike": {"s3:prefix": ["home/${aws:username}/*"]}}
            )
        ),
        action="s3:ListBucket",
        keys={"s3:prefix": "home/carol/"},
    ),
    case(
        "var-userid-equals",
        VARS,
        ALLOW,
        policy(allow(condition={"StringEquals": {"s3:prefix": "${aws:userid}"}})),
        keys={"s3:prefix": "AIDAALICE"},
    ),
    case(
        "var-sourceip",
        VARS,
        ALLOW,
        policy(allow(condition={"StringEquals": {"test:ip": "${aws:SourceIp}"}})),
        keys={"test:ip": "203.0.113.5"},
    ),
    case(
        "var-current-time",
        VARS,
        ALLOW,
        policy(allow(condition={"StringEquals": {"test:t": "${aws:CurrentTime}"}})),
        keys={"test:t": "2026-06-01T12:00:00Z"},
    ),
    case(
        "var-arn-condition",
        VARS,
        ALLOW,
        policy(allow(condition={"ArnLike": {"aws:SourceArn": "arn:aws:s3:::${aws:username}-*"}})),
        keys={"aws:SourceArn": "arn:aws:s3:::alice-logs"},
    ),
    # --- Principal in resource policies --------------------------------------------------------
    case(
        "principal-user-arn-grants",
        WITHIN + " (a resource policy naming the user grants it directly)",
        ALLOW,
        resource_policy=policy(allow(principal={"AWS": f"arn:aws:iam::{A}:user/alice"})),
    ),
    case(
        "principal-account-delegates",
        WITHIN + "; " + PRINCIPAL + ", AWS account principals",
        IMPLICIT,
        resource_policy=policy(allow(principal={"AWS": f"arn:aws:iam::{A}:root"})),
    ),
    case(
        "principal-bare-account-delegates",
        PRINCIPAL + ", AWS account principals (an account id means its root ARN)",
        IMPLICIT,
        resource_policy=policy(allow(principal={"AWS": A})),
    ),
    case(
        "principal-account-plus-identity",
        WITHIN,
        ALLOW,
        policy(allow()),
        resource_policy=policy(allow(principal={"AWS": A})),
    ),
    case(
        "principal-star-grants-user",
        PRINCIPAL + ", All principals",
        ALLOW,
        resource_policy=policy(allow(principal="*")),
    ),
    case(
        "principal-aws-star-anonymous",
        PRINCIPAL + ", All principals",
        ALLOW,
        who="anon",
        resource_policy=policy(allow(principal={"AWS": "*"})),
    ),
    case(
        "principal-other-user",
        PRINCIPAL,
        IMPLICIT,
        resource_policy=policy(allow(principal={"AWS": f"arn:aws:iam::{A}:user/carol"})),
    ),
    case(
        "principal-role-grants-session",
        PRINCIPAL + ", IAM role principals",
        ALLOW,
        who="session_a",
        resource_policy=policy(allow(principal={"AWS": f"arn:aws:iam::{A}:role/reader"})),
    ),
    case(
        "principal-session-arn",
        PRINCIPAL + ", Role session principals",
        ALLOW,
        who="session_a",
        resource_policy=policy(
            allow(principal={"AWS": f"arn:aws:sts::{A}:assumed-role/reader/s1"})
        ),
    ),
    case(
        "principal-other-session",
        PRINCIPAL + ", Role session principals",
        IMPLICIT,
        who="session_a",
        resource_policy=policy(
            allow(principal={"AWS": f"arn:aws:sts::{A}:assumed-role/reader/s9"})
        ),
    ),
    case(
        "principal-service",
        PRINCIPAL + ", AWS service principals",
        ALLOW,
        who="service",
        resource_policy=policy(
            allow("s3:PutObject", principal={"Service": "logging.s3.amazonaws.com"})
        ),
        action="s3:PutObject",
    ),
    case(
        "principal-service-other",
        PRINCIPAL + ", AWS service principals",
        IMPLICIT,
        who="service",
        resource_policy=policy(allow(principal={"Service": "cloudtrail.amazonaws.com"})),
    ),
    case(
        "principal-canonical-user",
        PRINCIPAL + ", Canonical user principals",
        ALLOW,
        who="root_b",
        resource_policy=policy(allow(principal={"CanonicalUser": "canonical-b"})),
    ),
    case(
        "principal-list-ored",
        PRINCIPAL,
        ALLOW,
        resource_policy=policy(
            allow(
                principal={"AWS": [f"arn:aws:iam::{A}:user/carol", f"arn:aws:iam::{A}:user/alice"]}
            )
        ),
    ),
    case(
        "principal-condition-fails",
        PRINCIPAL,
        IMPLICIT,
        resource_policy=policy(
            allow(principal="*", condition={"IpAddress": {"aws:SourceIp": "198.51.100.0/24"}})
        ),
    ),
    case(
        "deny-account-covers-users",
        PRINCIPAL + ", AWS account principals (applies to all identities of the account)",
        EXPLICIT,
        policy(allow()),
        resource_policy=policy(deny(principal={"AWS": A})),
    ),
    case(
        "deny-other-principal-not-applied",
        PRINCIPAL,
        ALLOW,
        policy(allow()),
        resource_policy=policy(deny(principal={"AWS": f"arn:aws:iam::{A}:user/carol"})),
    ),
    # --- NotPrincipal --------------------------------------------------------------------------
    case(
        "notprincipal-user-and-account-excluded",
        NOTPRINCIPAL + ", NotPrincipal with Deny",
        ALLOW,
        policy(allow()),
        resource_policy=policy(
            deny(not_principal={"AWS": [f"arn:aws:iam::{A}:user/alice", f"arn:aws:iam::{A}:root"]})
        ),
    ),
    case(
        "notprincipal-user-without-account",
        NOTPRINCIPAL + ", NotPrincipal with Deny (the account must be listed too)",
        EXPLICIT,
        policy(allow()),
        resource_policy=policy(deny(not_principal={"AWS": f"arn:aws:iam::{A}:user/alice"})),
    ),
    case(
        "notprincipal-others-denied",
        NOTPRINCIPAL + ", NotPrincipal with Deny",
        EXPLICIT,
        policy(allow()),
        who="carol",
        resource_policy=policy(
            deny(not_principal={"AWS": [f"arn:aws:iam::{A}:user/alice", f"arn:aws:iam::{A}:root"]})
        ),
    ),
    case(
        "notprincipal-anonymous-denied",
        NOTPRINCIPAL,
        EXPLICIT,
        who="anon",
        acl=True,
        resource_policy=policy(deny(not_principal={"AWS": f"arn:aws:iam::{A}:root"})),
    ),
    case(
        "notprincipal-session-all-listed",
        NOTPRINCIPAL + ", NotPrincipal with Deny (role sessions)",
        ALLOW,
        policy(allow()),
        who="session_a",
        resource_policy=policy(
            deny(
                not_principal={
                    "AWS": [
                        f"arn:aws:sts::{A}:assumed-role/reader/s1",
                        f"arn:aws:iam::{A}:role/reader",
                        f"arn:aws:iam::{A}:root",
                    ]
                }
            )
        ),
    ),
    case(
        "notprincipal-session-role-only",
        NOTPRINCIPAL + ", NotPrincipal with Deny (role sessions)",
        EXPLICIT,
        policy(allow()),
        who="session_a",
        resource_policy=policy(
            deny(not_principal={"AWS": [f"arn:aws:iam::{A}:role/reader", f"arn:aws:iam::{A}:root"]})
        ),
    ),
    case(
        "notprincipal-root-excluded",
        NOTPRINCIPAL,
        ALLOW,
        who="root_a",
        resource_policy=policy(deny(not_principal={"AWS": A})),
    ),
    case(
        "notprincipal-allow-others",
        NOTPRINCIPAL + " (NotPrincipal with Allow grants everyone not listed)",
        ALLOW,
        who="anon",
        resource_policy=policy(allow(not_principal={"AWS": f"arn:aws:iam::{B}:root"})),
    ),
    # --- Within one account --------------------------------------------------------------------
    case("within-identity-only", WITHIN, ALLOW, policy(allow())),
    case("within-nothing", WITHIN + " (default: implicit deny)", IMPLICIT),
    case(
        "within-empty-resource-policy-match",
        WITHIN,
        IMPLICIT,
        resource_policy=policy(allow("s3:PutObject", principal="*")),
    ),
    case(
        "within-identity-allow-resource-deny",
        LOGIC + " (an explicit deny in any policy overrides any allow)",
        EXPLICIT,
        policy(allow()),
        resource_policy=policy(deny(principal="*")),
    ),
    case(
        "within-identity-deny-resource-allow",
        LOGIC + " (an explicit deny in any policy overrides any allow)",
        EXPLICIT,
        policy(deny()),
        resource_policy=policy(allow(principal={"AWS": f"arn:aws:iam::{A}:user/alice"})),
    ),
    case(
        "within-group-policy",
        LOGIC + " (identity policies include group policies)",
        ALLOW,
        policy(allow("s3:PutObject")),
        policy(allow("s3:GetObject")),
    ),
    case(
        "within-owner-none-same-account",
        WITHIN,
        ALLOW,
        policy(allow("iam:GetUser")),
        owner=None,
        action="iam:GetUser",
        resource=f"arn:aws:iam::{A}:user/alice",
    ),
    # --- Cross-account -------------------------------------------------------------------------
    case(
        "cross-both-allow",
        CROSS,
        ALLOW,
        policy(allow()),
        who="bob",
        resource_policy=policy(allow(principal={"AWS": f"arn:aws:iam::{B}:user/bob"})),
    ),
    case(
        "cross-resource-only",
        CROSS + " (the caller's account must allow too)",
        IMPLICIT,
        who="bob",
        resource_policy=policy(allow(principal={"AWS": f"arn:aws:iam::{B}:user/bob"})),
    ),
    case(
        "cross-identity-only",
        CROSS + " (the owner's account must allow too)",
        IMPLICIT,
        policy(allow()),
        who="bob",
    ),
    case(
        "cross-account-principal",
        CROSS + " (trusting the account delegates to its administrators)",
        ALLOW,
        policy(allow()),
        who="bob",
        resource_policy=policy(allow(principal={"AWS": B})),
    ),
    case(
        "cross-account-principal-no-identity",
        CROSS,
        IMPLICIT,
        who="bob",
        resource_policy=policy(allow(principal={"AWS": f"arn:aws:iam::{B}:root"})),
    ),
    case(
        "cross-star-with-identity",
        CROSS,
        ALLOW,
        policy(allow()),
        who="bob",
        resource_policy=policy(allow(principal="*")),
    ),
    case(
        "cross-star-without-identity",
        CROSS + "; " + S3AUTH + " (user context first)",
        IMPLICIT,
        who="bob",
        resource_policy=policy(allow(principal="*")),
    ),
    case(
        "cross-acl-with-identity",
        S3AUTH + " (bucket context: ACL grant)",
        ALLOW,
        policy(allow()),
        who="bob",
        acl=True,
    ),
    case(
        "cross-acl-without-identity",
        S3AUTH + " (user context first)",
        IMPLICIT,
        who="bob",
        acl=True,
    ),
    case(
        "cross-identity-deny",
        LOGIC,
        EXPLICIT,
        policy(deny()),
        who="bob",
        resource_policy=policy(allow(principal={"AWS": B})),
    ),
    case(
        "cross-wrong-principal",
        CROSS,
        IMPLICIT,
        policy(allow()),
        who="bob",
        resource_policy=policy(allow(principal={"AWS": f"arn:aws:iam::{A}:user/alice"})),
    ),
    case(
        "cross-root-with-grant",
        CROSS + " (the root user is not limited by identity policies)",
        ALLOW,
        who="root_b",
        resource_policy=policy(allow(principal={"AWS": B})),
    ),
    case("cross-root-without-grant", CROSS, IMPLICIT, who="root_b"),
    case("cross-root-acl", S3AUTH, ALLOW, who="root_b", acl=True),
    case(
        "cross-session-role-principal",
        CROSS,
        ALLOW,
        policy(allow()),
        who="session_b",
        resource_policy=policy(allow(principal={"AWS": f"arn:aws:iam::{B}:role/writer"})),
    ),
    case(
        "cross-resource-deny",
        LOGIC,
        EXPLICIT,
        policy(allow()),
        who="bob",
        resource_policy=policy(
            allow(principal={"AWS": B}), deny(principal={"AWS": f"arn:aws:iam::{B}:user/bob"})
        ),
    ),
    case("cross-owner-b-for-alice", CROSS, IMPLICIT, policy(allow()), owner=B),
    # --- The root user -------------------------------------------------------------------------
    case("root-own-resource", WITHIN + " (root user)", ALLOW, who="root_a"),
    case(
        "root-resource-deny-star",
        WITHIN + " (root user)",
        EXPLICIT,
        who="root_a",
        resource_policy=policy(deny(principal="*")),
    ),
    case(
        "root-identity-deny-ignored",
        WITHIN + " (identity policies cannot be attached to the root user)",
        ALLOW,
        policy(deny()),
        who="root_a",
    ),
    case(
        "root-resource-deny-account",
        PRINCIPAL + ", AWS account principals",
        EXPLICIT,
        who="root_a",
        resource_policy=policy(deny(principal={"AWS": A})),
    ),
    case(
        "root-no-owner",
        WITHIN,
        ALLOW,
        who="root_a",
        owner=None,
        action="iam:CreateUser",
        resource="*",
    ),
    case(
        "root-deny-other-user-not-applied",
        PRINCIPAL,
        ALLOW,
        who="root_a",
        resource_policy=policy(deny(principal={"AWS": f"arn:aws:iam::{A}:user/alice"})),
    ),
    # --- Anonymous -----------------------------------------------------------------------------
    case("anon-nothing", S3AUTH + " (anonymous requests)", IMPLICIT, who="anon"),
    case(
        "anon-bucket-policy",
        PRINCIPAL + ", All principals",
        ALLOW,
        who="anon",
        resource_policy=policy(allow(principal="*")),
    ),
    case("anon-acl", S3AUTH + " (AllUsers grant)", ALLOW, who="anon", acl=True),
    case(
        "anon-account-principal",
        PRINCIPAL,
        IMPLICIT,
        who="anon",
        resource_policy=policy(allow(principal={"AWS": A})),
    ),
    case(
        "anon-deny-beats-acl",
        LOGIC,
        EXPLICIT,
        who="anon",
        acl=True,
        resource_policy=policy(deny(principal="*")),
    ),
    case("anon-identity-ignored", LOGIC, IMPLICIT, policy(allow()), who="anon"),
    case(
        "anon-ip-condition",
        S3KEYS,
        ALLOW,
        who="anon",
        resource_policy=policy(
            allow(principal="*", condition={"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}})
        ),
    ),
    case(
        "anon-principal-arn-absent",
        GLOBAL + ", aws:PrincipalArn (absent for anonymous)",
        EXPLICIT,
        who="anon",
        resource_policy=policy(
            allow(principal="*"),
            deny(
                principal="*",
                condition={"StringNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/*"}},
            ),
        ),
    ),
    # --- Session policies ----------------------------------------------------------------------
    case(
        "session-both-allow",
        SESSION,
        ALLOW,
        policy(allow()),
        who="session_a",
        session=policy(allow()),
    ),
    case(
        "session-policy-lacks",
        SESSION + " (session permissions are the intersection)",
        IMPLICIT,
        policy(allow()),
        who="session_a",
        session=policy(allow("s3:PutObject")),
    ),
    case(
        "session-policy-does-not-grant",
        SESSION + " (a session policy grants nothing by itself)",
        IMPLICIT,
        who="session_a",
        session=policy(allow()),
    ),
    case(
        "session-deny",
        SESSION,
        EXPLICIT,
        policy(allow()),
        who="session_a",
        session=policy(allow(), deny()),
    ),
    case(
        "session-arn-in-resource-policy",
        SESSION + " (resource policy naming the session ARN is not limited)",
        ALLOW,
        who="session_a",
        session=policy(allow("s3:PutObject")),
        resource_policy=policy(
            allow(principal={"AWS": f"arn:aws:sts::{A}:assumed-role/reader/s1"})
        ),
    ),
    case(
        "session-role-arn-in-resource-policy-limited",
        SESSION + " (resource policy naming the role ARN is limited)",
        IMPLICIT,
        who="session_a",
        session=policy(allow("s3:PutObject")),
        resource_policy=policy(allow(principal={"AWS": f"arn:aws:iam::{A}:role/reader"})),
    ),
    case(
        "session-role-arn-in-resource-policy-allowed",
        SESSION,
        ALLOW,
        who="session_a",
        session=policy(allow()),
        resource_policy=policy(allow(principal={"AWS": f"arn:aws:iam::{A}:role/reader"})),
    ),
    case(
        "session-cross-account-limited",
        SESSION + "; " + CROSS,
        IMPLICIT,
        policy(allow()),
        who="session_b",
        session=policy(allow("s3:PutObject")),
        resource_policy=policy(allow(principal={"AWS": B})),
    ),
    case(
        "session-without-session-policy",
        SESSION + " (no session policy: the role's permissions)",
        ALLOW,
        policy(allow()),
        who="session_a",
    ),
    # --- ACL input -----------------------------------------------------------------------------
    case(
        "acl-same-account-user",
        S3AUTH + " (user context: IAM users need an identity allow)",
        IMPLICIT,
        acl=True,
    ),
    case(
        "acl-explicit-deny-wins",
        LOGIC,
        EXPLICIT,
        who="bob",
        acl=True,
        resource_policy=policy(deny(principal="*")),
    ),
    case("acl-root-own", S3AUTH, ALLOW, who="root_a", acl=True),
    # --- Deny precedence -----------------------------------------------------------------------
    case("deny-specific-over-star", LOGIC, EXPLICIT, policy(allow("*"), deny("s3:GetObject"))),
    case("deny-in-group-policy", LOGIC, EXPLICIT, policy(allow("*")), policy(deny("s3:*"))),
    case(
        "deny-condition-false",
        LOGIC,
        ALLOW,
        policy(allow("*"), deny(condition={"Bool": {"aws:SecureTransport": "false"}})),
    ),
    case(
        "deny-insecure-transport",
        S3KEYS + " (aws:SecureTransport)",
        EXPLICIT,
        policy(allow("*")),
        resource_policy=policy(
            deny(principal="*", condition={"Bool": {"aws:SecureTransport": "false"}})
        ),
        fields={"secure_transport": False},
    ),
    case(
        "deny-outside-ip",
        S3KEYS + " (aws:SourceIp)",
        EXPLICIT,
        policy(allow("*")),
        resource_policy=policy(
            deny(principal="*", condition={"NotIpAddress": {"aws:SourceIp": "198.51.100.0/24"}})
        ),
    ),
    case(
        "deny-mfa-ifexists",
        OPS_IFEXISTS + " (BoolIfExists with aws:MultiFactorAuthPresent)",
        EXPLICIT,
        policy(
            allow("*"),
            deny("*", condition={"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}),
        ),
    ),
    case(
        "deny-mfa-ifexists-with-mfa",
        OPS_IFEXISTS,
        ALLOW,
        policy(
            allow("*"),
            deny("*", condition={"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}),
        ),
        fields={"mfa_present": True},
    ),
    case(
        "deny-unencrypted-put",
        S3KEYS + " (s3:x-amz-server-side-encryption)",
        EXPLICIT,
        policy(allow("*")),
        resource_policy=policy(
            deny(
                "s3:PutObject",
                principal="*",
                condition={"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}},
            )
        ),
        action="s3:PutObject",
        keys={"s3:x-amz-server-side-encryption": "AES256"},
    ),
    case(
        "deny-region",
        GLOBAL + ", aws:RequestedRegion",
        EXPLICIT,
        policy(
            allow("*"),
            deny("*", condition={"StringNotEquals": {"aws:RequestedRegion": ["eu-west-1"]}}),
        ),
    ),
    case(
        "deny-other-action-not-applied",
        LOGIC,
        ALLOW,
        policy(allow("*"), deny("s3:DeleteObject")),
    ),
    case(
        "deny-resource-policy-statement-order",
        LOGIC + " (order of statements does not matter)",
        EXPLICIT,
        resource_policy=policy(deny(principal="*"), allow(principal="*")),
    ),
]


def _context(case_: Case) -> RequestContext:
    fields: dict[str, Any] = dict(PRINCIPALS[case_.who])
    fields.update(
        source_ip="203.0.113.5",
        secure_transport=True,
        current_time=NOW,
        requested_region="eu-west-3",
    )
    fields.update(case_.fields)
    return RequestContext(action=case_.action, resource=case_.resource, keys=case_.keys, **fields)


def _decide(case_: Case) -> Outcome:
    identity = [parse_policy(json.dumps(p), kind=PolicyKind.IDENTITY) for p in case_.identity]
    resource = (
        parse_policy(json.dumps(case_.resource_policy), kind=PolicyKind.RESOURCE)
        if case_.resource_policy is not None
        else None
    )
    session = (
        parse_policy(json.dumps(case_.session), kind=PolicyKind.IDENTITY)
        if case_.session is not None
        else None
    )
    decision = evaluate(
        _context(case_),
        identity_policies=identity,
        resource_policy=resource,
        resource_account=case_.owner,
        session_policy=session,
        acl_allows=case_.acl,
    )
    return decision.outcome


def test_the_table_is_large_and_ids_are_unique() -> None:
    assert len(CASES) >= 150
    assert len({c.id for c in CASES}) == len(CASES)
    assert all(c.doc for c in CASES)


@pytest.mark.parametrize("case_", CASES, ids=[c.id for c in CASES])
def test_evaluation(case_: Case) -> None:
    assert _decide(case_) is case_.expect, case_.doc
