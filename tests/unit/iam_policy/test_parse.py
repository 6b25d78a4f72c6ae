"""Parsing and validation: what IAM and S3 accept, what they reject, and with which message."""

from __future__ import annotations

import json
from typing import Any

import pytest

from andromede.iam.policy import (
    IAM_MANAGED_POLICY_MAX,
    IAM_USER_INLINE_POLICY_MAX,
    S3_BUCKET_POLICY_MAX,
    Effect,
    MalformedPolicy,
    PolicyKind,
    PolicyTooLarge,
    known_action,
    known_service,
    load_policy,
    parse_policy,
)
from andromede.s3.operations import S3Operation

IDENTITY = PolicyKind.IDENTITY
RESOURCE = PolicyKind.RESOURCE
TRUST = PolicyKind.TRUST
GET = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
PUBLIC_GET = {**GET, "Principal": "*"}


def doc(*statements: dict[str, Any], **top: Any) -> str:
    body: dict[str, Any] = {"Version": "2012-10-17", "Statement": list(statements)}
    body.update(top)
    return json.dumps(body)


def test_minimal_identity_policy() -> None:
    parsed = parse_policy(doc(GET), kind=IDENTITY)
    assert parsed.version == "2012-10-17"
    assert parsed.kind is IDENTITY
    (statement,) = parsed.statements
    assert statement.effect is Effect.ALLOW
    assert statement.actions == ("s3:GetObject",)
    assert statement.resources == ("*",)
    assert statement.principal is None


def test_statement_may_be_a_single_object() -> None:
    parsed = parse_policy(json.dumps({"Version": "2012-10-17", "Statement": GET}), kind=IDENTITY)
    assert len(parsed.statements) == 1


def test_missing_version_means_2008() -> None:
    parsed = parse_policy(json.dumps({"Statement": [GET]}), kind=IDENTITY)
    assert parsed.version == "2008-10-17"
    assert not parsed.variables_enabled


def test_bytes_are_accepted() -> None:
    assert parse_policy(doc(GET).encode(), kind=IDENTITY).statements


def test_principal_account_id_is_normalised_to_root_arn() -> None:
    parsed = parse_policy(
        doc({**GET, "Principal": {"AWS": ["111122223333", "arn:aws:iam::444455556666:user/bob"]}}),
        kind=RESOURCE,
    )
    principal = parsed.statements[0].principal
    assert principal is not None
    assert principal.aws == {
        "arn:aws:iam::111122223333:root",
        "arn:aws:iam::444455556666:user/bob",
    }


def test_principal_types() -> None:
    parsed = parse_policy(
        doc(
            {
                **GET,
                "Principal": {
                    "Service": "logging.s3.amazonaws.com",
                    "CanonicalUser": "79a59df900b949e55d96a1e698fbaced",
                    "Federated": "cognito-identity.amazonaws.com",
                },
            }
        ),
        kind=RESOURCE,
    )
    principal = parsed.statements[0].principal
    assert principal is not None
    assert principal.service == {"logging.s3.amazonaws.com"}
    assert principal.canonical_user == {"79a59df900b949e55d96a1e698fbaced"}
    assert principal.federated == {"cognito-identity.amazonaws.com"}
    assert not principal.wildcard


def test_resource_policy_sid_may_contain_spaces() -> None:
    parsed = parse_policy(doc({**PUBLIC_GET, "Sid": "Public read access"}), kind=RESOURCE)
    assert parsed.statements[0].sid == "Public read access"


def test_trust_policy_has_no_resource() -> None:
    trust = {
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
        "Action": "sts:AssumeRole",
    }
    parsed = parse_policy(doc(trust), kind=TRUST)
    assert parsed.statements[0].resources is None


def test_unknown_service_actions_are_accepted() -> None:
    parsed = parse_policy(doc({**GET, "Action": ["lambda:InvokeFunction", "sqs:*"]}), kind=IDENTITY)
    assert parsed.statements[0].actions == ("lambda:InvokeFunction", "sqs:*")


@pytest.mark.parametrize("action", ["s3:Get*", "s3:*", "S3:getobject", "s3:*Object", "iam:*User*"])
def test_valid_action_patterns(action: str) -> None:
    parse_policy(doc({**GET, "Action": action}), kind=IDENTITY)


def test_every_condition_operator_parses() -> None:
    condition = {
        "StringEquals": {"s3:prefix": "a"},
        "StringNotEquals": {"s3:prefix": "a"},
        "StringEqualsIgnoreCase": {"s3:prefix": "a"},
        "StringNotEqualsIgnoreCase": {"s3:prefix": "a"},
        "StringLike": {"s3:prefix": "a*"},
        "StringNotLike": {"s3:prefix": "a*"},
        "NumericEquals": {"s3:max-keys": "1"},
        "NumericNotEquals": {"s3:max-keys": 1},
        "NumericLessThan": {"s3:max-keys": "1.5"},
        "NumericLessThanEquals": {"s3:max-keys": "1"},
        "NumericGreaterThan": {"s3:max-keys": "1"},
        "NumericGreaterThanEquals": {"s3:max-keys": "1"},
        "DateEquals": {"aws:CurrentTime": "2026-01-01T00:00:00Z"},
        "DateNotEquals": {"aws:CurrentTime": "1767225600"},
        "DateLessThan": {"aws:CurrentTime": "2026-01-01"},
        "DateLessThanEquals": {"aws:CurrentTime": "2026-01-01T00:00:00+01:00"},
        "DateGreaterThan": {"aws:CurrentTime": "2026-01-01T00:00:00.000Z"},
        "DateGreaterThanEquals": {"aws:CurrentTime": "2026-01-01T00:00:00Z"},
        "Bool": {"aws:SecureTransport": "true"},
        "BinaryEquals": {"test:blob": "QmluYXJ5"},
        "IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32", "192.0.2.1"]},
        "NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"},
        "ArnEquals": {"aws:SourceArn": "arn:aws:s3:::b"},
        "ArnLike": {"aws:SourceArn": "arn:aws:s3:::b*"},
        "ArnNotEquals": {"aws:SourceArn": "arn:aws:s3:::b"},
        "ArnNotLike": {"aws:SourceArn": "arn:aws:s3:::b*"},
        "Null": {"s3:x-amz-acl": "true"},
        "StringEqualsIfExists": {"s3:prefix": "a"},
        "ForAnyValue:StringLike": {"aws:TagKeys": ["a*"]},
        "ForAllValues:StringEqualsIgnoreCaseIfExists": {"aws:TagKeys": ["a"]},
    }
    parsed = parse_policy(doc({**GET, "Condition": condition}), kind=IDENTITY)
    clauses = parsed.statements[0].conditions
    assert len(clauses) == len(condition)
    by_operator = {clause.operator: clause for clause in clauses}
    assert by_operator["ForAllValues:StringEqualsIgnoreCaseIfExists"].if_exists
    assert by_operator["StringNotLike"].negated
    assert by_operator["ForAnyValue:StringLike"].base_operator == "StringLike"


def test_condition_operators_are_case_insensitive() -> None:
    parse_policy(doc({**GET, "Condition": {"stringequals": {"s3:prefix": "a"}}}), kind=IDENTITY)


BAD: list[tuple[str, str | bytes, PolicyKind, str]] = [
    ("not-json", "{", IDENTITY, "Syntax errors in policy"),
    ("not-object", "[]", IDENTITY, "must be a JSON object"),
    ("not-utf8", b"\xff\xfe", IDENTITY, "not UTF-8"),
    (
        "duplicate-key",
        '{"Version": "2012-10-17", "Statement": [], "Statement": []}',
        IDENTITY,
        "duplicate key 'Statement'",
    ),
    (
        "nan",
        doc({**GET, "Condition": {"NumericEquals": {"s3:max-keys": "x"}}}).replace('"x"', "NaN"),
        IDENTITY,
        "NaN",
    ),
    (
        "deep-nesting",
        '{"Statement": ' + "[" * 100_000 + "]" * 100_000 + "}",
        IDENTITY,
        "Syntax errors",
    ),
    ("unknown-top-level", doc(GET, Extra=1), IDENTITY, "unknown element 'Extra'"),
    ("bad-version", doc(GET, Version="2012-10-18"), IDENTITY, "valid version string"),
    ("version-not-string", doc(GET, Version=2012), IDENTITY, "valid version string"),
    ("id-not-string", doc(GET, Id=5), IDENTITY, "Id must be a string"),
    (
        "no-statement",
        json.dumps({"Version": "2012-10-17"}),
        IDENTITY,
        "Missing required field Statement",
    ),
    ("empty-statement-list", doc(), IDENTITY, "non-empty list"),
    (
        "statement-not-object",
        json.dumps({"Statement": ["x"]}),
        IDENTITY,
        "Statement 0 must be an object",
    ),
    (
        "unknown-statement-element",
        doc({**GET, "Actions": "s3:*"}),
        IDENTITY,
        "unknown element 'Actions'",
    ),
    (
        "missing-effect",
        doc({"Action": "s3:GetObject", "Resource": "*"}),
        IDENTITY,
        "Missing required field Effect",
    ),
    ("bad-effect", doc({**GET, "Effect": "allow"}), IDENTITY, "Invalid effect 'allow'"),
    ("missing-action", doc({"Effect": "Allow", "Resource": "*"}), IDENTITY, "must contain actions"),
    (
        "action-and-notaction",
        doc({**GET, "NotAction": "s3:PutObject"}),
        IDENTITY,
        "both Action and NotAction",
    ),
    ("empty-action-list", doc({**GET, "Action": []}), IDENTITY, "must not be empty"),
    ("action-not-string", doc({**GET, "Action": [5]}), IDENTITY, "string or a list of strings"),
    (
        "action-no-vendor",
        doc({**GET, "Action": "GetObject"}),
        IDENTITY,
        "must be prefaced by a vendor",
    ),
    ("action-bad-chars", doc({**GET, "Action": "s3:Get Object"}), IDENTITY, "Invalid Action"),
    (
        "unknown-s3-action",
        doc({**GET, "Action": "s3:GetObjekt"}),
        IDENTITY,
        "s3:GetObjekt does not exist",
    ),
    ("unknown-iam-action", doc({**GET, "Action": "iam:CreateUsers"}), IDENTITY, "does not exist"),
    (
        "wildcard-matches-nothing",
        doc({**GET, "Action": "s3:Git*"}),
        IDENTITY,
        "matches no s3 action",
    ),
    ("identity-with-principal", doc(PUBLIC_GET), IDENTITY, "should not specify a principal"),
    (
        "identity-with-notprincipal",
        doc({**GET, "NotPrincipal": {"AWS": "111122223333"}}),
        IDENTITY,
        "should not specify a principal",
    ),
    (
        "identity-without-resource",
        doc({"Effect": "Allow", "Action": "s3:GetObject"}),
        IDENTITY,
        "must contain resources",
    ),
    (
        "resource-and-notresource",
        doc({**GET, "NotResource": "*"}),
        IDENTITY,
        "both Resource and NotResource",
    ),
    ("resource-not-arn", doc({**GET, "Resource": "bucket/key"}), IDENTITY, "must be in ARN format"),
    (
        "resource-short-arn",
        doc({**GET, "Resource": "arn:aws:s3"}),
        IDENTITY,
        "must be in ARN format",
    ),
    ("resource-policy-without-principal", doc(GET), RESOURCE, "Missing required field Principal"),
    (
        "resource-policy-without-resource",
        doc({"Effect": "Allow", "Action": "s3:GetObject", "Principal": "*"}),
        RESOURCE,
        "must contain resources",
    ),
    (
        "trust-with-resource",
        doc({**PUBLIC_GET, "Action": "sts:AssumeRole"}),
        TRUST,
        "prohibited field Resource",
    ),
    (
        "trust-without-principal",
        doc({"Effect": "Allow", "Action": "sts:AssumeRole"}),
        TRUST,
        "Missing required field Principal",
    ),
    ("duplicate-sid", doc({**GET, "Sid": "A"}, {**GET, "Sid": "A"}), IDENTITY, "must be unique"),
    (
        "duplicate-sid-resource",
        doc({**PUBLIC_GET, "Sid": "x y"}, {**PUBLIC_GET, "Sid": "x y"}),
        RESOURCE,
        "must be unique",
    ),
    ("iam-sid-not-alnum", doc({**GET, "Sid": "my sid"}), IDENTITY, "alpha-numeric"),
    ("sid-not-string", doc({**GET, "Sid": 3}), IDENTITY, "Sid of statement 0 must be a string"),
    ("principal-string-not-star", doc({**GET, "Principal": "bob"}), RESOURCE, "Invalid principal"),
    ("principal-empty-object", doc({**GET, "Principal": {}}), RESOURCE, "Invalid principal"),
    ("principal-unknown-type", doc({**GET, "Principal": {"Users": "x"}}), RESOURCE, "type 'Users'"),
    (
        "principal-bad-arn",
        doc({**GET, "Principal": {"AWS": "arn:aws:s3:::bucket"}}),
        RESOURCE,
        "Invalid principal",
    ),
    (
        "principal-wildcard-arn",
        doc({**GET, "Principal": {"AWS": "arn:aws:iam::111122223333:user/*"}}),
        RESOURCE,
        "Invalid principal",
    ),
    (
        "principal-short-account",
        doc({**GET, "Principal": {"AWS": "1234"}}),
        RESOURCE,
        "Invalid principal",
    ),
    (
        "principal-service-wildcard",
        doc({**GET, "Principal": {"Service": "*"}}),
        RESOURCE,
        "Invalid principal",
    ),
    ("principal-empty-list", doc({**GET, "Principal": {"AWS": []}}), RESOURCE, "must not be empty"),
    (
        "condition-not-object",
        doc({**GET, "Condition": ["x"]}),
        IDENTITY,
        "Condition must be an object",
    ),
    (
        "condition-unknown-operator",
        doc({**GET, "Condition": {"StringEqualz": {"s3:prefix": "a"}}}),
        IDENTITY,
        "Invalid Condition type: StringEqualz",
    ),
    (
        "condition-bad-set-prefix",
        doc({**GET, "Condition": {"ForSomeValues:StringEquals": {"a:b": "c"}}}),
        IDENTITY,
        "Invalid Condition type",
    ),
    (
        "condition-null-ifexists",
        doc({**GET, "Condition": {"NullIfExists": {"a:b": "true"}}}),
        IDENTITY,
        "Invalid Condition type",
    ),
    (
        "condition-bare-ifexists",
        doc({**GET, "Condition": {"IfExists": {"a:b": "true"}}}),
        IDENTITY,
        "Invalid Condition type",
    ),
    (
        "condition-block-not-object",
        doc({**GET, "Condition": {"StringEquals": "x"}}),
        IDENTITY,
        "must be an object of keys",
    ),
    (
        "condition-key-no-vendor",
        doc({**GET, "Condition": {"StringEquals": {"prefix": "a"}}}),
        IDENTITY,
        "prefaced by a vendor",
    ),
    (
        "condition-value-object",
        doc({**GET, "Condition": {"StringEquals": {"s3:prefix": {"a": 1}}}}),
        IDENTITY,
        "strings, numbers or booleans",
    ),
    (
        "condition-value-null",
        doc({**GET, "Condition": {"StringEquals": {"s3:prefix": None}}}),
        IDENTITY,
        "strings, numbers or booleans",
    ),
    (
        "numeric-not-number",
        doc({**GET, "Condition": {"NumericLessThan": {"s3:max-keys": "ten"}}}),
        IDENTITY,
        "'ten' is not a number",
    ),
    (
        "numeric-infinite",
        doc({**GET, "Condition": {"NumericLessThan": {"s3:max-keys": "inf"}}}),
        IDENTITY,
        "is not a number",
    ),
    (
        "date-invalid",
        doc({**GET, "Condition": {"DateLessThan": {"aws:CurrentTime": "tomorrow"}}}),
        IDENTITY,
        "not an ISO 8601 date",
    ),
    (
        "ip-invalid",
        doc({**GET, "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.300/8"}}}),
        IDENTITY,
        "not an IP address or CIDR",
    ),
    (
        "bool-invalid",
        doc({**GET, "Condition": {"Bool": {"aws:SecureTransport": "yes"}}}),
        IDENTITY,
        "not a boolean",
    ),
    (
        "null-invalid",
        doc({**GET, "Condition": {"Null": {"s3:x-amz-acl": "maybe"}}}),
        IDENTITY,
        "not a boolean",
    ),
    (
        "binary-invalid",
        doc({**GET, "Condition": {"BinaryEquals": {"test:b": "***"}}}),
        IDENTITY,
        "not base64",
    ),
]


@pytest.mark.parametrize(
    ("text", "kind", "expected"), [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_rejected(text: str | bytes, kind: PolicyKind, expected: str) -> None:
    with pytest.raises(MalformedPolicy) as raised:
        parse_policy(text, kind=kind)
    assert expected in raised.value.message
    assert str(raised.value) == raised.value.message


def test_error_names_the_statement() -> None:
    with pytest.raises(MalformedPolicy, match=r"statement 1 \(Second\)"):
        parse_policy(doc(GET, {**GET, "Sid": "Second", "Effect": "Maybe"}), kind=IDENTITY)


def _padded(size_without_whitespace: int, whitespace: int) -> str:
    base = doc(GET)
    compact = base.replace(" ", "")
    padding = size_without_whitespace - len(compact)
    assert padding >= 0
    # Pad inside the resource ARN so the document stays valid, then add spaces around it.
    filler = {**GET, "Resource": "arn:aws:s3:::" + "x" * (padding - len("arn:aws:s3:::") + 1)}
    text = json.dumps({"Version": "2012-10-17", "Statement": [filler]}, separators=(",", ":"))
    return text + " " * whitespace


def test_iam_size_limit_does_not_count_whitespace() -> None:
    text = _padded(IAM_USER_INLINE_POLICY_MAX.max_size, whitespace=5000)
    assert IAM_USER_INLINE_POLICY_MAX.size_of(text) == IAM_USER_INLINE_POLICY_MAX.max_size
    parse_policy(text, kind=IDENTITY, max_size=IAM_USER_INLINE_POLICY_MAX)


def test_iam_size_limit_rejects_one_more_character() -> None:
    text = _padded(IAM_USER_INLINE_POLICY_MAX.max_size + 1, whitespace=0)
    with pytest.raises(PolicyTooLarge) as raised:
        parse_policy(text, kind=IDENTITY, max_size=IAM_USER_INLINE_POLICY_MAX)
    assert raised.value.limit == 2048
    assert raised.value.size == 2049
    assert isinstance(raised.value, MalformedPolicy)


def test_bucket_policy_size_counts_bytes_and_whitespace() -> None:
    text = doc(PUBLIC_GET) + " " * (S3_BUCKET_POLICY_MAX.max_size)
    with pytest.raises(PolicyTooLarge):
        parse_policy(text, kind=RESOURCE, max_size=S3_BUCKET_POLICY_MAX)
    parse_policy(doc(PUBLIC_GET), kind=RESOURCE, max_size=S3_BUCKET_POLICY_MAX)


def test_plain_integer_limit() -> None:
    with pytest.raises(PolicyTooLarge):
        parse_policy(doc(GET), kind=IDENTITY, max_size=10)


def test_documented_limits() -> None:
    assert IAM_MANAGED_POLICY_MAX.max_size == 6144
    assert IAM_USER_INLINE_POLICY_MAX.max_size == 2048
    assert S3_BUCKET_POLICY_MAX.max_size == 20 * 1024


def test_action_catalogue() -> None:
    assert known_action("s3", "GetObject")
    assert known_action("S3", "getobject")
    assert known_action("iam", "CreateUser")
    assert known_action("sts", "AssumeRole")
    assert known_action("kms", "GenerateDataKey")
    assert known_action("ec2", "RunInstances")
    assert not known_action("s3", "GetObjekt")
    assert known_action("acm", "ImportCertificate")  # decision 0230, catalogued in session 53
    assert not known_action("acm", "ImportCertifikate")
    assert known_action("lambda", "InvokeFunction")  # decision 0286, served in session 56
    assert not known_action("rds", "CreateDBInstance")  # a service the catalogue does not name
    assert known_service("kms")
    assert known_service("dynamodb")  # decision 0247
    assert not known_service("rds")


def test_every_s3_operation_action_is_catalogued() -> None:
    """A bucket policy naming the action an S3 operation is authorised with must parse."""
    for operation in S3Operation:
        service, name = operation.action.split(":")
        assert known_action(service, name), operation


def test_load_policy_memoises_by_text_and_kind() -> None:
    text = doc(PUBLIC_GET)
    first = load_policy(text, kind=RESOURCE)
    assert load_policy(text, kind=RESOURCE) is first
    with pytest.raises(MalformedPolicy):
        load_policy(text, kind=IDENTITY)  # the same text is not a valid identity policy
