"""What S3 Control's access-point-like calls share (decision 0405), the pure part: a listing's
page and its token, the request document, the policy's grammar per service and the
BlockPublicPolicy refusal."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from andromede.s3control.documents import request_document
from andromede.s3control.errors import S3ControlError
from andromede.s3control.point_calls import (
    PageRequest,
    check_name,
    name_token,
    page_request,
    put_policy_text,
    refuse_public_policy,
    validate_policy,
)
from andromede.storage.model import PublicAccessBlock

ARN = "arn:aws:s3-object-lambda:eu-west-1:111111111111:accesspoint/shrink"
PUBLIC = json.dumps(
    {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:eu-west-1:111111111111:accesspoint/ap/object/*"}]}
)  # fmt: skip


@dataclass(frozen=True)
class Point:
    name: str
    tenant_id: str = "111111111111"
    alias: str = ""
    policy: str | None = None
    created_at: datetime = datetime(2026, 12, 7, tzinfo=UTC)


def test_a_page_asks_one_more_and_ends_at_its_last_name() -> None:
    page = PageRequest(limit=2, after=None)
    assert page.fetch == 3
    found = [Point("a"), Point("b"), Point("c")]
    assert page.last_name(found) == "b"
    assert page.last_name(found[:2]) is None


def test_page_request_reads_max_results_and_the_token() -> None:
    assert page_request({}, 50) == PageRequest(50, None)
    assert page_request({"maxResults": "7"}, 50) == PageRequest(7, None)
    assert page_request({"maxResults": "1000"}, 50) == PageRequest(50, None)
    assert page_request({"nextToken": name_token("my-point")}, 50).after == "my-point"
    for bad in ({"maxResults": "0"}, {"maxResults": "1001"}, {"maxResults": "x"},
                {"nextToken": "!!"}, {"nextToken": name_token("Not A Name")}):  # fmt: skip
        with pytest.raises(S3ControlError) as caught:
            page_request(bad, 50)
        assert caught.value.code == "InvalidRequest"


def test_the_name_rules_and_a_longest() -> None:
    check_name("a" * 50, "access point")
    with pytest.raises(S3ControlError, match="at most 45"):
        check_name("a" * 46, "access point", longest=45)
    with pytest.raises(S3ControlError, match="The Multi-Region Access Point name must not"):
        check_name("xn--abc", "Multi-Region Access Point")


def test_the_request_document_and_its_policy() -> None:
    body = (
        b'<PutAccessPointPolicyRequest xmlns="urn:x"><Policy>{}</Policy>'
        b"</PutAccessPointPolicyRequest>"
    )
    assert put_policy_text(body, "PutAccessPointPolicyRequest") == "{}"
    for bad in (b"", b"<a", body.replace(b"</Policy>", b"</Policy><Policy/>")):
        with pytest.raises(S3ControlError) as caught:
            put_policy_text(bad, "PutAccessPointPolicyRequest")
        assert caught.value.code == "MalformedXML"
    with pytest.raises(S3ControlError):
        request_document(body, "PutAccessPointPolicyForObjectLambdaRequest")


def test_a_policy_is_of_its_service() -> None:
    lambda_policy = json.dumps(
        {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "111111111111"},
                        "Action": "s3-object-lambda:GetObject", "Resource": f"{ARN}/object/*"}]}
    )  # fmt: skip
    validate_policy(lambda_policy, ARN, service="s3-object-lambda")
    with pytest.raises(S3ControlError, match="invalid action"):
        validate_policy(lambda_policy, ARN)


def test_block_public_policy_refuses_a_public_policy_only_when_on() -> None:
    refuse_public_policy(PUBLIC, None)
    refuse_public_policy(PUBLIC, PublicAccessBlock(block_public_policy=False))
    with pytest.raises(S3ControlError) as caught:
        refuse_public_policy(PUBLIC, PublicAccessBlock())
    assert caught.value.code == "AccessDenied"
