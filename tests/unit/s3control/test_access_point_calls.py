"""S3 Control's access point calls (decision 0157): their routes and actions, the request
documents, AWS's name rules, and each call on the memory twins — the alias and ARN, the
defaults (Block Public Access all on, origin Internet), AccessPointAlreadyOwnedByYou, the
quota, ListAccessPoints' pages and bucket filter, the policy's checks and BlockPublicPolicy."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import defusedxml.ElementTree as ElementTree
import pytest

from andromede.app import storage_limits
from andromede.s3control.access_points import AccessPointCalls, parse_create
from andromede.s3control.errors import S3ControlError
from andromede.s3control.operations import S3ControlOperation as Op
from andromede.s3control.operations import access_point_of, route
from andromede.settings import Settings
from andromede.storage.access_points import (
    MemoryAccessPointStore,
    access_point_name_problem,
    new_alias,
)
from andromede.storage.blob_memory import MemoryBlobStore
from andromede.storage.model import PublicAccessBlock
from andromede.storage.service import ObjectService
from andromede.storage.store_memory import MemoryMetadataStore
from support.keys import cipher_in

NS = "{http://awss3control.amazonaws.com/doc/2018-08-20/}"
ACCOUNT = "111111111111"
REGION = "eu-fr-1"
NOW = datetime(2026, 12, 5, 12, tzinfo=UTC)
AP = "/v20180820/accesspoint"
OL = "/v20180820/accesspointforobjectlambda"


@pytest.mark.parametrize(
    ("method", "path", "operation"),
    [
        ("PUT", f"{AP}/app", Op.CreateAccessPoint),
        ("GET", f"{AP}/app", Op.GetAccessPoint),
        ("DELETE", f"{AP}/app", Op.DeleteAccessPoint),
        ("GET", AP, Op.ListAccessPoints),
        ("PUT", f"{AP}/app/policy", Op.PutAccessPointPolicy),
        ("GET", f"{AP}/app/policy", Op.GetAccessPointPolicy),
        ("DELETE", f"{AP}/app/policy", Op.DeleteAccessPointPolicy),
        ("GET", f"{AP}/app/policyStatus", Op.GetAccessPointPolicyStatus),
        ("POST", f"{AP}/app", Op.Unknown),
        # Object Lambda access points (decision 0384).
        ("PUT", f"{OL}/olap", Op.CreateAccessPointForObjectLambda),
        ("GET", f"{OL}/olap", Op.GetAccessPointForObjectLambda),
        ("DELETE", f"{OL}/olap", Op.DeleteAccessPointForObjectLambda),
        ("GET", OL, Op.ListAccessPointsForObjectLambda),
        ("GET", f"{OL}/olap/configuration", Op.GetAccessPointConfigurationForObjectLambda),
        ("PUT", f"{OL}/olap/configuration", Op.PutAccessPointConfigurationForObjectLambda),
        ("PUT", f"{OL}/olap/policy", Op.PutAccessPointPolicyForObjectLambda),
        ("GET", f"{OL}/olap/policy", Op.GetAccessPointPolicyForObjectLambda),
        ("DELETE", f"{OL}/olap/policy", Op.DeleteAccessPointPolicyForObjectLambda),
        ("GET", f"{OL}/olap/policyStatus", Op.GetAccessPointPolicyStatusForObjectLambda),
        ("POST", f"{OL}/olap", Op.Unknown),
        ("DELETE", f"{OL}/olap/configuration", Op.Unknown),
    ],
)
def test_routes(method: str, path: str, operation: Op) -> None:
    assert route(method, path) is operation


def test_actions_and_the_name_in_the_path() -> None:
    assert Op.CreateAccessPoint.action == "s3:CreateAccessPoint"
    assert Op.GetAccessPointPolicyStatus.action == "s3:GetAccessPointPolicyStatus"
    assert Op.ListAccessPoints.action == "s3:ListAccessPoints"
    assert access_point_of(f"{AP}/app/policy") == "app"
    assert access_point_of(AP) == ""


@pytest.mark.parametrize(
    "name", ["ab", "a" * 51, "App", "-app", "app-", "xn--app", "app-s3alias", "10.0.0.1", "a_b"]
)
def test_names_aws_refuses(name: str) -> None:
    assert access_point_name_problem(name) is not None


@pytest.mark.parametrize("name", ["abc", "a" * 50, "my-access-point-1", "0ap"])
def test_names_aws_takes(name: str) -> None:
    assert access_point_name_problem(name) is None
    alias = new_alias(name)
    assert alias.endswith("-s3alias")
    assert len(alias) <= 63
    assert alias != new_alias(name)


def test_create_document_defaults_and_refusals() -> None:
    parsed = parse_create(
        b"<CreateAccessPointRequest><Bucket>b1</Bucket></CreateAccessPointRequest>"
    )
    assert (parsed.bucket, parsed.bucket_account, parsed.block) == ("b1", None, PublicAccessBlock())
    off = parse_create(
        b'<CreateAccessPointRequest xmlns="http://awss3control.amazonaws.com/doc/2018-08-20/">'
        b"<Bucket>b1</Bucket><BucketAccountId>1</BucketAccountId>"
        b"<PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls>"
        b"</PublicAccessBlockConfiguration></CreateAccessPointRequest>"
    )
    assert (off.bucket_account, off.block) == ("1", PublicAccessBlock(True, False, False, False))
    empty = (
        b"<CreateAccessPointRequest><Bucket>b1</Bucket><Tags/><Scope></Scope>"
        b"</CreateAccessPointRequest>"
    )
    assert parse_create(empty).bucket == "b1"
    # Tags are the access point's first ones (decision 0392).
    tagged = (
        b"<CreateAccessPointRequest><Bucket>b</Bucket><Tags><Tag><Key>k</Key><Value>v</Value>"
        b"</Tag></Tags></CreateAccessPointRequest>"
    )
    assert parse_create(tagged).tags == (("k", "v"),)
    for body, code in [
        (b"", "MalformedXML"),
        (b"<CreateAccessPointRequest/>", "InvalidRequest"),
        (b"<Other><Bucket>b</Bucket></Other>", "MalformedXML"),
        (
            b"<CreateAccessPointRequest><Bucket>b</Bucket><X/></CreateAccessPointRequest>",
            "MalformedXML",
        ),
        (
            b"<CreateAccessPointRequest><Bucket>b</Bucket><VpcConfiguration><VpcId>vpc-1</VpcId>"
            b"</VpcConfiguration></CreateAccessPointRequest>",
            "InvalidRequest",
        ),
        (
            b"<CreateAccessPointRequest><Bucket>b</Bucket><Scope><Prefixes><Prefix>a/</Prefix>"
            b"</Prefixes></Scope></CreateAccessPointRequest>",
            "NotImplemented",
        ),
    ]:
        with pytest.raises(S3ControlError) as caught:
            parse_create(body)
        assert caught.value.code == code, body


@pytest.fixture
async def calls(tmp_path: Path) -> AsyncIterator[AccessPointCalls]:
    settings = Settings(data_dir=tmp_path, region=REGION)
    objects = ObjectService(
        MemoryMetadataStore(),
        MemoryBlobStore(),
        dataclasses.replace(storage_limits(settings), deletion_grace=0),
        cipher_in(tmp_path / "keys"),
    )
    for bucket, tenant in [("bk1", ACCOUNT), ("bk2", ACCOUNT), ("theirs", "222222222222")]:
        await objects.create_bucket(bucket, tenant_id=tenant, owner_id=tenant, region=REGION)
    yield AccessPointCalls(
        MemoryAccessPointStore(),
        objects,
        region=REGION,
        endpoint="s3.example",
        quota=3,
        page_max=2,
    )


def _create(bucket: str) -> bytes:
    return (
        f"<CreateAccessPointRequest><Bucket>{bucket}</Bucket></CreateAccessPointRequest>".encode()
    )


async def _code(call: object) -> str:
    with pytest.raises(S3ControlError) as caught:
        await call  # type: ignore[misc]
    return caught.value.code


async def test_create_get_delete(calls: AccessPointCalls) -> None:
    created = ElementTree.fromstring((await calls.create(ACCOUNT, "app", _create("bk1"), NOW)).body)
    arn = f"arn:aws:s3:{REGION}:{ACCOUNT}:accesspoint/app"
    assert created.findtext(f"{NS}AccessPointArn") == arn
    alias = created.findtext(f"{NS}Alias")
    assert alias is not None and alias.startswith("app-") and alias.endswith("-s3alias")
    got = ElementTree.fromstring((await calls.get(ACCOUNT, "app")).body)
    assert got.findtext(f"{NS}Name") == "app"
    assert got.findtext(f"{NS}Bucket") == "bk1"
    assert got.findtext(f"{NS}NetworkOrigin") == "Internet"
    assert got.findtext(f"{NS}Alias") == alias
    assert got.findtext(f"{NS}AccessPointArn") == arn
    assert got.findtext(f"{NS}BucketAccountId") == ACCOUNT
    assert got.findtext(f"{NS}CreationDate") == "2026-12-05T12:00:00.000Z"
    assert got.findtext(f"{NS}PublicAccessBlockConfiguration/{NS}RestrictPublicBuckets") == "true"
    assert got.findtext(f"{NS}Endpoints/{NS}entry/{NS}value") == "s3.example"
    assert await _code(calls.create(ACCOUNT, "app", _create("bk2"), NOW)) == (
        "AccessPointAlreadyOwnedByYou"
    )
    assert await _code(calls.get("222222222222", "app")) == "NoSuchAccessPoint"
    assert (await calls.delete(ACCOUNT, "app")).status == 204
    assert await _code(calls.delete(ACCOUNT, "app")) == "NoSuchAccessPoint"


async def test_create_refusals_and_the_quota(calls: AccessPointCalls) -> None:
    assert await _code(calls.create(ACCOUNT, "Bad_Name", _create("bk1"), NOW)) == "InvalidRequest"
    assert await _code(calls.create(ACCOUNT, "app", _create("nope"), NOW)) == "NoSuchBucket"
    wrong_owner = (
        b"<CreateAccessPointRequest><Bucket>bk1</Bucket><BucketAccountId>999999999999"
        b"</BucketAccountId></CreateAccessPointRequest>"
    )
    assert await _code(calls.create(ACCOUNT, "app", wrong_owner, NOW)) == "NoSuchBucket"
    # Another account's bucket: allowed (its policy must then delegate, as on AWS).
    await calls.create(ACCOUNT, "cross", _create("theirs"), NOW)
    await calls.create(ACCOUNT, "ap2", _create("bk1"), NOW)
    await calls.create(ACCOUNT, "ap3", _create("bk1"), NOW)
    assert await _code(calls.create(ACCOUNT, "ap4", _create("bk1"), NOW)) == "InvalidRequest"


async def test_list_pages_and_bucket_filter(calls: AccessPointCalls) -> None:
    for name, bucket in [("cc1", "bk1"), ("aa1", "bk2"), ("bb1", "bk1")]:
        await calls.create(ACCOUNT, name, _create(bucket), NOW)

    async def page(query: str) -> tuple[list[str], str | None]:
        root = ElementTree.fromstring((await calls.list(ACCOUNT, query)).body)
        names = [e.text or "" for e in root.iter(f"{NS}Name")]
        return names, root.findtext(f"{NS}NextToken")

    first, token = await page("")
    assert first == ["aa1", "bb1"]  # page_max 2
    assert token is not None
    second, last = await page(f"nextToken={token}")
    assert (second, last) == (["cc1"], None)
    assert (await page("maxResults=1"))[0] == ["aa1"]
    assert (await page("bucket=bk1"))[0] == ["bb1", "cc1"]
    assert await _code(calls.list(ACCOUNT, "maxResults=0")) == "InvalidRequest"
    assert await _code(calls.list(ACCOUNT, "nextToken=%%%")) == "InvalidRequest"
    assert (await page("bucket=bk1"))[0] == ["bb1", "cc1"]
    other = ElementTree.fromstring((await calls.list("222222222222", "")).body)
    assert list(other.iter(f"{NS}Name")) == []


def _policy_body(document: dict[str, object]) -> bytes:
    text = json.dumps(document).replace("&", "&amp;").replace("<", "&lt;")
    wrapped = f"<PutAccessPointPolicyRequest><Policy>{text}</Policy></PutAccessPointPolicyRequest>"
    return wrapped.encode()


async def test_the_policy_round_trip_status_and_checks(calls: AccessPointCalls) -> None:
    await calls.create(ACCOUNT, "app", _create("bk1"), NOW)
    arn = f"arn:aws:s3:{REGION}:{ACCOUNT}:accesspoint/app"
    assert await _code(calls.get_policy(ACCOUNT, "app")) == "NoSuchAccessPointPolicy"
    private = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/u"},
                "Action": "s3:GetObject",
                "Resource": f"{arn}/object/*",
            }
        ],
    }
    assert (await calls.put_policy(ACCOUNT, "app", _policy_body(private))).status == 200
    got = ElementTree.fromstring((await calls.get_policy(ACCOUNT, "app")).body)
    assert json.loads(got.findtext(f"{NS}Policy") or "") == private
    status = ElementTree.fromstring((await calls.policy_status(ACCOUNT, "app")).body)
    assert status.findtext(f"{NS}PolicyStatus/{NS}IsPublic") == "false"
    public = json.loads(json.dumps(private))
    public["Statement"][0]["Principal"] = "*"
    # BlockPublicPolicy (on by default) refuses a public policy.
    assert await _code(calls.put_policy(ACCOUNT, "app", _policy_body(public))) == "AccessDenied"
    elsewhere = json.loads(json.dumps(private))
    elsewhere["Statement"][0]["Resource"] = "arn:aws:s3:::b1/*"
    assert await _code(calls.put_policy(ACCOUNT, "app", _policy_body(elsewhere))) == (
        "MalformedPolicy"
    )
    assert await _code(calls.put_policy(ACCOUNT, "app", _policy_body({"x": 1}))) == (
        "MalformedPolicy"
    )
    assert await _code(calls.put_policy(ACCOUNT, "app", b"<Other/>")) == "MalformedXML"
    assert (await calls.delete_policy(ACCOUNT, "app")).status == 204
    assert await _code(calls.get_policy(ACCOUNT, "app")) == "NoSuchAccessPointPolicy"
    assert await _code(calls.put_policy(ACCOUNT, "nope", _policy_body(private))) == (
        "NoSuchAccessPoint"
    )


async def test_a_public_policy_on_an_access_point_that_blocks_nothing(
    calls: AccessPointCalls,
) -> None:
    body = (
        b"<CreateAccessPointRequest><Bucket>bk1</Bucket><PublicAccessBlockConfiguration>"
        b"</PublicAccessBlockConfiguration></CreateAccessPointRequest>"
    )
    await calls.create(ACCOUNT, "open", body, NOW)
    arn = f"arn:aws:s3:{REGION}:{ACCOUNT}:accesspoint/open"
    public = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"{arn}/object/*",
            }
        ],
    }
    assert (await calls.put_policy(ACCOUNT, "open", _policy_body(public))).status == 200
    status = ElementTree.fromstring((await calls.policy_status(ACCOUNT, "open")).body)
    assert status.findtext(f"{NS}PolicyStatus/{NS}IsPublic") == "true"
