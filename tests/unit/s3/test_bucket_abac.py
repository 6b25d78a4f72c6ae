"""ABAC for general purpose buckets in process (decision 0418): PutBucketAbac and GetBucketAbac
with botocore's own XML on the wire, the bucket's tags as ``aws:ResourceTag/<key>`` in the
decisions on the bucket and its objects while ABAC is Enabled (and not while Disabled), and
PutBucketTagging / DeleteBucketTagging refused while it is."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import parsers, serialize

from support.s3app import Client, Reply, in_process_client

_MODEL = botocore.session.get_session().get_service_model("s3")
BUCKET = "team-data"
B = f"/{BUCKET}"


@pytest.fixture
async def owner(tmp_path: Path) -> AsyncIterator[Client]:
    async with in_process_client(tmp_path) as client:
        assert (await client.request("PUT", B)).status == 200
        yield client


def sent(operation_name: str, params: dict[str, Any]) -> tuple[str, bytes]:
    """The query and body botocore sends for the operation."""
    operation = _MODEL.operation_model(operation_name)
    request = serialize.create_serializer("rest-xml").serialize_to_request(
        {"Bucket": BUCKET, **params}, operation
    )
    body = request["body"]
    query = request["url_path"].split("?", 1)[1]
    return query, body if isinstance(body, bytes) else body.encode()


def parsed(operation_name: str, reply: Reply) -> dict[str, Any]:
    operation = _MODEL.operation_model(operation_name)
    result: dict[str, Any] = parsers.create_parser("rest-xml").parse(
        {"status_code": reply.status, "headers": reply.headers, "body": reply.body},
        operation.output_shape,
    )
    result.pop("ResponseMetadata", None)
    return result


async def put_abac(client: Client, status: str) -> Reply:
    query, body = sent("PutBucketAbac", {"AbacStatus": {"Status": status}})
    return await client.request("PUT", f"{B}?{query}", body)


async def abac_status(client: Client) -> str:
    reply = await client.request("GET", f"{B}?abac")
    assert reply.status == 200, reply.body
    status: str = parsed("GetBucketAbac", reply)["AbacStatus"]["Status"]
    return status


async def put_bucket_tags(client: Client, *pairs: tuple[str, str]) -> Reply:
    query, body = sent(
        "PutBucketTagging",
        {"Tagging": {"TagSet": [{"Key": k, "Value": v} for k, v in pairs]}},
    )
    import base64
    import hashlib

    md5 = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()
    return await client.request("PUT", f"{B}?{query}", body, {"Content-MD5": md5})


def policy(*statements: dict[str, object]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


async def user_with(owner: Client, name: str, *statements: dict[str, object]) -> Client:
    user = await owner.iam_user(name)
    assert owner.identity is not None
    await owner.identity.put_user_policy(owner.tenant_id, name, "p", policy(*statements))
    return user


async def test_abac_is_disabled_by_default_and_round_trips_through_botocore(
    owner: Client,
) -> None:
    assert await abac_status(owner) == "Disabled"
    assert (await put_abac(owner, "Enabled")).status == 200
    assert await abac_status(owner) == "Enabled"
    assert (await put_abac(owner, "Disabled")).status == 200
    assert await abac_status(owner) == "Disabled"


@pytest.mark.parametrize(
    "body",
    [
        b"<AbacStatus><Status>enabled</Status></AbacStatus>",
        b"<AbacStatus><Status>Enabled</Status><Status>Disabled</Status></AbacStatus>",
        b"<Abac><Status>Enabled</Status></Abac>",
        b"not xml",
    ],
)
async def test_a_status_s3_does_not_know_is_malformed_and_changes_nothing(
    owner: Client, body: bytes
) -> None:
    reply = await owner.request("PUT", f"{B}?abac", body)
    assert (reply.status, reply.error_code()) == (400, "MalformedXML")
    assert await abac_status(owner) == "Disabled"


async def test_the_calls_take_their_own_actions_and_a_missing_bucket_is_404(
    owner: Client,
) -> None:
    reader = await user_with(
        owner,
        "reader",
        {"Effect": "Allow", "Action": "s3:GetBucketABAC", "Resource": f"arn:aws:s3:::{BUCKET}"},
    )
    assert await abac_status(reader) == "Disabled"
    reply = await put_abac(reader, "Enabled")
    assert (reply.status, reply.error_code()) == (403, "AccessDenied")
    other = await owner.other_tenant("stranger")
    reply = await other.request("GET", f"{B}?abac")
    assert (reply.status, reply.error_code()) == (403, "AccessDenied")
    reply = await owner.request("GET", "/no-such-bucket-abac?abac")
    assert (reply.status, reply.error_code()) == (404, "NoSuchBucket")


async def test_put_and_delete_bucket_tagging_are_refused_while_abac_is_enabled(
    owner: Client,
) -> None:
    assert (await put_bucket_tags(owner, ("team", "blue"))).status == 204
    assert (await put_abac(owner, "Enabled")).status == 200
    reply = await put_bucket_tags(owner, ("team", "red"))
    assert (reply.status, reply.error_code()) == (400, "InvalidRequest")
    assert b"TagResource" in reply.body
    reply = await owner.request("DELETE", f"{B}?tagging")
    assert (reply.status, reply.error_code()) == (400, "InvalidRequest")
    # The tags are unchanged, and still read by GetBucketTagging.
    reply = await owner.request("GET", f"{B}?tagging")
    assert reply.status == 200 and b"<Value>blue</Value>" in reply.body
    assert (await put_abac(owner, "Disabled")).status == 200
    assert (await owner.request("DELETE", f"{B}?tagging")).status == 204


TEAM_BLUE = {
    "Effect": "Allow",
    "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
    "Resource": ["arn:aws:s3:::*"],
    "Condition": {"StringEquals": {"aws:ResourceTag/team": "blue"}},
}


async def test_an_identity_policy_on_the_bucket_tag_decides_data_requests_with_abac_only(
    owner: Client,
) -> None:
    assert owner.objects is not None
    assert (await owner.request("PUT", f"{B}/report", b"figures")).status == 200
    blue = await user_with(owner, "blue", TEAM_BLUE)
    assert (await put_bucket_tags(owner, ("team", "blue"))).status == 204
    # Disabled: the tag is a label for billing only, and the condition finds no key.
    for method, path in (("GET", f"{B}/report"), ("PUT", f"{B}/new"), ("GET", B)):
        reply = await blue.request(method, path, b"x" if method == "PUT" else b"")
        assert reply.status == 403, (method, path)
    assert (await put_abac(owner, "Enabled")).status == 200
    assert (await blue.request("GET", f"{B}/report")).body == b"figures"
    assert (await blue.request("PUT", f"{B}/new", b"written")).status == 200
    assert (await blue.request("GET", B)).status == 200
    # Retagged through S3 Control's TagResource (the same tag set): the next request sees it.
    await owner.objects.set_bucket_tags(BUCKET, (("team", "red"),))
    for method, path in (("GET", f"{B}/report"), ("PUT", f"{B}/new")):
        reply = await blue.request(method, path, b"x" if method == "PUT" else b"")
        assert (reply.status, reply.error_code()) == (403, "AccessDenied"), (method, path)
    await owner.objects.set_bucket_tags(BUCKET, (("team", "blue"),))
    assert (await blue.request("GET", f"{B}/report")).body == b"figures"
    # Disabled again: the tags no longer count.
    assert (await put_abac(owner, "Disabled")).status == 200
    assert (await blue.request("GET", f"{B}/report")).status == 403


async def test_a_deny_on_the_bucket_tag_holds_in_identity_and_bucket_policies(
    owner: Client,
) -> None:
    assert (await owner.request("PUT", f"{B}/payroll", b"secret")).status == 200
    analyst = await user_with(
        owner,
        "analyst",
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {
            "Effect": "Deny",
            "Action": "s3:GetObject",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:ResourceTag/classification": "secret"}},
        },
    )
    assert (await analyst.request("GET", f"{B}/payroll")).body == b"secret"
    assert (await put_bucket_tags(owner, ("classification", "secret"))).status == 204
    assert (await put_abac(owner, "Enabled")).status == 200
    reply = await analyst.request("GET", f"{B}/payroll")
    assert (reply.status, reply.error_code()) == (403, "AccessDenied")
    # Another account, let in by the bucket policy as long as the bucket is tagged shared.
    other = await owner.other_tenant("partner")
    document = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{other.tenant_id}:root"},
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{BUCKET}/*",
            "Condition": {"StringEquals": {"s3:BucketTag/share": "partner"}},
        }
    )
    assert (await owner.request("PUT", f"{B}?policy", document.encode())).status == 204
    assert (await other.request("GET", f"{B}/payroll")).status == 403
    assert owner.objects is not None
    await owner.objects.set_bucket_tags(BUCKET, (("share", "partner"),))
    assert (await other.request("GET", f"{B}/payroll")).body == b"secret"


def create_body(tags: list[dict[str, str]]) -> bytes:
    operation = _MODEL.operation_model("CreateBucket")
    request = serialize.create_serializer("rest-xml").serialize_to_request(
        {"Bucket": "made-tagged", "CreateBucketConfiguration": {"Tags": tags}}, operation
    )
    body = request["body"]
    return body if isinstance(body, bytes) else body.encode()


async def test_create_bucket_tags_take_tag_resource_and_count_once_abac_is_enabled(
    owner: Client,
) -> None:
    tags = [{"Key": "team", "Value": "blue"}]
    creator = await user_with(
        owner,
        "creator",
        {
            "Effect": "Allow",
            "Action": "s3:CreateBucket",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:RequestTag/team": "blue"}},
        },
    )
    reply = await creator.request("PUT", "/made-tagged", create_body(tags))
    assert (reply.status, reply.error_code()) == (403, "AccessDenied")  # no s3:TagResource
    assert (await owner.request("HEAD", "/made-tagged")).status == 404
    assert owner.identity is not None
    await owner.identity.put_user_policy(
        owner.tenant_id,
        "creator",
        "tagging",
        policy({"Effect": "Allow", "Action": "s3:TagResource", "Resource": "*"}),
    )
    reply = await creator.request(
        "PUT", "/made-tagged", create_body([{"Key": "team", "Value": "red"}])
    )
    assert (reply.status, reply.error_code()) == (403, "AccessDenied")  # aws:RequestTag
    assert (await creator.request("PUT", "/made-tagged", create_body(tags))).status == 200
    reply = await owner.request("GET", "/made-tagged?tagging")
    assert reply.status == 200 and b"<Key>team</Key><Value>blue</Value>" in reply.body
    reply = await owner.request(
        "PUT", "/made-bad", create_body([{"Key": "aws:reserved", "Value": "v"}])
    )
    assert (reply.status, reply.error_code()) == (400, "InvalidTag")
    assert (await owner.request("HEAD", "/made-bad")).status == 404
