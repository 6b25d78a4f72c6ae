"""S3 Control's Multi-Region Access Point calls (decision 0385) on the memory twins: their
routes and IAM actions; Create's request token read back by Describe, the same token again
for a retried call (its ClientToken) with nothing made twice; AWS's refusals (a bad name,
no bucket, another account's bucket named as one's own, two buckets in one Region, a name
taken, the quota); the policy's resources and BlockPublicPolicy; the routes' dials (0 or
100, a Bucket or Region of the access point, never all passive)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import defusedxml.ElementTree as ElementTree
import pytest

from andromede.app import storage_limits
from andromede.s3control.errors import S3ControlError
from andromede.s3control.multi_region_access_points import MultiRegionCalls
from andromede.s3control.operations import S3ControlOperation as Op
from andromede.s3control.operations import multi_region_of, route
from andromede.settings import Settings
from andromede.storage.blob_memory import MemoryBlobStore
from andromede.storage.multi_region_access_points import MemoryMultiRegionAccessPointStore
from andromede.storage.service import ObjectService
from andromede.storage.store_memory import MemoryMetadataStore
from support.keys import cipher_in

NS = "{http://awss3control.amazonaws.com/doc/2018-08-20/}"
ACCOUNT = "111111111111"
NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)
V = "/v20180820"
ARN = "arn:aws:s3::111111111111:accesspoint/mfzwi23gnjvgw.mrap"


@pytest.mark.parametrize(
    ("method", "path", "operation"),
    [
        ("POST", f"{V}/async-requests/mrap/create", Op.CreateMultiRegionAccessPoint),
        ("POST", f"{V}/async-requests/mrap/delete", Op.DeleteMultiRegionAccessPoint),
        ("POST", f"{V}/async-requests/mrap/put-policy", Op.PutMultiRegionAccessPointPolicy),
        (
            "GET",
            f"{V}/async-requests/mrap/arn:aws:s3:eu-fr-1:1:async-request/mrap/create/ab",
            Op.DescribeMultiRegionAccessPointOperation,
        ),
        ("GET", f"{V}/mrap/instances", Op.ListMultiRegionAccessPoints),
        ("GET", f"{V}/mrap/instances/docs", Op.GetMultiRegionAccessPoint),
        ("GET", f"{V}/mrap/instances/docs/policy", Op.GetMultiRegionAccessPointPolicy),
        ("GET", f"{V}/mrap/instances/docs/policystatus", Op.GetMultiRegionAccessPointPolicyStatus),
        ("GET", f"{V}/mrap/instances/{ARN}/routes", Op.GetMultiRegionAccessPointRoutes),
        ("PATCH", f"{V}/mrap/instances/{ARN}/routes", Op.SubmitMultiRegionAccessPointRoutes),
        ("DELETE", f"{V}/mrap/instances/docs", Op.Unknown),
    ],
)
def test_routes(method: str, path: str, operation: Op) -> None:
    assert route(method, path) is operation


def test_what_the_path_names_and_the_actions() -> None:
    assert multi_region_of(f"{V}/mrap/instances/docs/policy") == "docs"
    assert multi_region_of(f"{V}/mrap/instances/{ARN}/routes") == ARN
    assert multi_region_of(f"{V}/async-requests/mrap/arn:x/y") == "arn:x/y"
    assert multi_region_of(f"{V}/accesspoint/app") == ""
    assert Op.SubmitMultiRegionAccessPointRoutes.action == "s3:SubmitMultiRegionAccessPointRoutes"
    assert Op.CreateMultiRegionAccessPoint.implemented


@pytest.fixture
async def calls(tmp_path: Path) -> AsyncIterator[MultiRegionCalls]:
    settings = Settings(data_dir=tmp_path, region="eu-fr-1")
    objects = ObjectService(
        MemoryMetadataStore(),
        MemoryBlobStore(),
        dataclasses.replace(storage_limits(settings), deletion_grace=0),
        cipher_in(tmp_path / "keys"),
    )
    for bucket, tenant, region in [
        ("fr1", ACCOUNT, "eu-fr-1"),
        ("fr2", ACCOUNT, "eu-fr-1"),
        ("de1", ACCOUNT, "eu-de-1"),
        ("theirs", "222222222222", "eu-de-1"),
    ]:
        await objects.create_bucket(bucket, tenant_id=tenant, owner_id=tenant, region=region)
    yield MultiRegionCalls(
        MemoryMultiRegionAccessPointStore(), objects, region="eu-fr-1", quota=2, page_max=1000
    )


def create_body(name: str, *buckets: str, retry_id: str = "t1", extra: str = "") -> bytes:
    regions = "".join(f"<Region><Bucket>{b}</Bucket></Region>" for b in buckets)
    return (
        f'<CreateMultiRegionAccessPointRequest xmlns="{NS[1:-1]}"><ClientToken>{retry_id}'
        f"</ClientToken><Details><Name>{name}</Name>{extra}<Regions>{regions}</Regions>"
        "</Details></CreateMultiRegionAccessPointRequest>"
    ).encode()


def xml(body: bytes) -> ElementTree.Element:
    return ElementTree.fromstring(body)


async def test_create_describe_get_and_idempotency(calls: MultiRegionCalls) -> None:
    block = "<PublicAccessBlock><BlockPublicAcls>true</BlockPublicAcls></PublicAccessBlock>"
    made = await calls.create(ACCOUNT, create_body("docs", "fr1", "de1", extra=block), NOW)
    token = xml(made.body).findtext(f"{NS}RequestTokenARN")
    assert token is not None and token.startswith(f"arn:aws:s3:eu-fr-1:{ACCOUNT}:async-request/")
    again = await calls.create(ACCOUNT, create_body("docs", "fr1", "de1", extra=block), NOW)
    assert xml(again.body).findtext(f"{NS}RequestTokenARN") == token  # nothing made twice

    described = xml((await calls.describe(ACCOUNT, token)).body).find(f"{NS}AsyncOperation")
    assert described is not None
    assert described.findtext(f"{NS}Operation") == "CreateMultiRegionAccessPoint"
    assert described.findtext(f"{NS}RequestStatus") == "SUCCEEDED"
    request = described.find(f"{NS}RequestParameters/{NS}CreateMultiRegionAccessPointRequest")
    assert request is not None and request.findtext(f"{NS}Name") == "docs"
    assert [b.text for b in request.iter(f"{NS}Bucket")] == ["fr1", "de1"]
    with pytest.raises(S3ControlError) as unknown:
        await calls.describe(ACCOUNT, token + "0")
    assert unknown.value.code == "NoSuchAsyncRequest"

    got = xml((await calls.get(ACCOUNT, "docs")).body).find(f"{NS}AccessPoint")
    assert got is not None and got.findtext(f"{NS}Status") == "READY"
    alias = got.findtext(f"{NS}Alias") or ""
    assert alias.endswith(".mrap")
    assert got.findtext(f"{NS}PublicAccessBlock/{NS}BlockPublicAcls") == "true"
    assert got.findtext(f"{NS}PublicAccessBlock/{NS}BlockPublicPolicy") == "false"
    regions = {
        r.findtext(f"{NS}Region"): r.findtext(f"{NS}Bucket")
        for r in got.iter(f"{NS}Region")
        if r.find(f"{NS}Bucket") is not None
    }
    assert regions == {"eu-fr-1": "fr1", "eu-de-1": "de1"}
    listed = xml((await calls.list(ACCOUNT, {})).body)
    assert [a.findtext(f"{NS}Name") for a in listed.iter(f"{NS}AccessPoint")] == ["docs"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (create_body("Docs", "fr1"), "InvalidRequest"),
        (create_body("docs"), "InvalidRequest"),
        (create_body("docs", "nothing"), "NoSuchBucket"),
        (create_body("docs", "fr1", "fr2"), "InvalidRequest"),  # two in one Region
        (b"<CreateMultiRegionAccessPointRequest/>", "InvalidRequest"),
        (b"<Other/>", "MalformedXML"),
    ],
)
async def test_create_refusals(calls: MultiRegionCalls, body: bytes, code: str) -> None:
    with pytest.raises(S3ControlError) as caught:
        await calls.create(ACCOUNT, body, NOW)
    assert caught.value.code == code


async def test_names_taken_and_the_quota(calls: MultiRegionCalls) -> None:
    await calls.create(ACCOUNT, create_body("one", "fr1", retry_id="a"), NOW)
    with pytest.raises(S3ControlError) as taken:
        await calls.create(ACCOUNT, create_body("one", "de1", retry_id="b"), NOW)
    assert taken.value.code == "AccessPointAlreadyOwnedByYou"
    await calls.create(ACCOUNT, create_body("two", "de1", retry_id="c"), NOW)
    with pytest.raises(S3ControlError) as quota:
        await calls.create(ACCOUNT, create_body("three", "de1", retry_id="d"), NOW)
    assert quota.value.code == "InvalidRequest"
    # Another account's bucket, with the BucketAccountId it does not have: as if none.
    other = (
        b"<CreateMultiRegionAccessPointRequest><ClientToken>e</ClientToken><Details><Name>xyz"
        b"</Name><Regions><Region><Bucket>theirs</Bucket><BucketAccountId>111111111111"
        b"</BucketAccountId></Region></Regions></Details></CreateMultiRegionAccessPointRequest>"
    )
    with pytest.raises(S3ControlError) as hidden:
        await calls.create("333333333333", other, NOW)
    assert hidden.value.code == "NoSuchBucket"


def policy_body(name: str, policy: str, retry_id: str = "p1") -> bytes:
    return (
        f"<PutMultiRegionAccessPointPolicyRequest><ClientToken>{retry_id}</ClientToken><Details>"
        f"<Name>{name}</Name><Policy>{policy}</Policy></Details>"
        "</PutMultiRegionAccessPointPolicyRequest>"
    ).encode()


async def test_policy_resources_and_block_public_policy(calls: MultiRegionCalls) -> None:
    await calls.create(ACCOUNT, create_body("docs", "fr1"), NOW)
    alias = xml((await calls.get(ACCOUNT, "docs")).body).findtext(f"{NS}AccessPoint/{NS}Alias")
    arn = f"arn:aws:s3::{ACCOUNT}:accesspoint/{alias}"

    def policy(resource: str, principal: object) -> str:
        statement = {"Effect": "Allow", "Principal": principal, "Action": "s3:GetObject",
                     "Resource": resource}  # fmt: skip
        return json.dumps({"Version": "2012-10-17", "Statement": [statement]})

    with pytest.raises(S3ControlError) as wrong:
        await calls.put_policy(ACCOUNT, policy_body("docs", policy("arn:aws:s3:::fr1/*", "*")), NOW)
    assert wrong.value.code == "MalformedPolicy"
    with pytest.raises(S3ControlError) as public:
        await calls.put_policy(ACCOUNT, policy_body("docs", policy(f"{arn}/object/*", "*")), NOW)
    assert public.value.code == "AccessDenied"  # Block Public Access on by default
    named = policy(f"{arn}/object/*", {"AWS": "arn:aws:iam::222222222222:root"})
    await calls.put_policy(ACCOUNT, policy_body("docs", named), NOW)
    got = xml((await calls.get_policy(ACCOUNT, "docs")).body)
    assert got.findtext(f"{NS}Policy/{NS}Established/{NS}Policy") == named
    status = xml((await calls.policy_status(ACCOUNT, "docs")).body)
    assert status.findtext(f"{NS}Established/{NS}IsPublic") == "false"
    with pytest.raises(S3ControlError) as missing:
        await calls.put_policy(ACCOUNT, policy_body("nothing", named, retry_id="p2"), NOW)
    assert missing.value.code == "NoSuchMultiRegionAccessPoint"


def routes_body(*routes: tuple[str, str, str]) -> bytes:
    inner = "".join(
        "<Route>"
        + (f"<Bucket>{b}</Bucket>" if b else "")
        + (f"<Region>{r}</Region>" if r else "")
        + f"<TrafficDialPercentage>{d}</TrafficDialPercentage></Route>"
        for b, r, d in routes
    )
    return (
        "<SubmitMultiRegionAccessPointRoutesRequest><RouteUpdates>"
        f"{inner}</RouteUpdates></SubmitMultiRegionAccessPointRoutesRequest>"
    ).encode()


async def test_routes_dial_regions(calls: MultiRegionCalls) -> None:
    await calls.create(ACCOUNT, create_body("docs", "fr1", "de1"), NOW)
    alias = xml((await calls.get(ACCOUNT, "docs")).body).findtext(f"{NS}AccessPoint/{NS}Alias")
    arn = f"arn:aws:s3::{ACCOUNT}:accesspoint/{alias}"

    async def dials() -> dict[str | None, str | None]:
        got = xml((await calls.routes(ACCOUNT, arn)).body)
        return {
            r.findtext(f"{NS}Region"): r.findtext(f"{NS}TrafficDialPercentage")
            for r in got.iter(f"{NS}Route")
        }

    assert await dials() == {"eu-fr-1": "100", "eu-de-1": "100"}
    await calls.submit_routes(ACCOUNT, arn, routes_body(("fr1", "", "0")))
    assert await dials() == {"eu-fr-1": "0", "eu-de-1": "100"}
    for body in [
        routes_body(("", "eu-de-1", "0")),  # every Region passive
        routes_body(("", "eu-de-1", "50")),  # neither 0 nor 100
        routes_body(("", "eu-es-1", "100")),  # not one of its Regions
        routes_body(("fr1", "eu-de-1", "100")),  # the bucket is not in that Region
        routes_body(("", "", "100")),
    ]:
        with pytest.raises(S3ControlError) as refused:
            await calls.submit_routes(ACCOUNT, arn, body)
        assert refused.value.code == "InvalidRequest", body
    assert await dials() == {"eu-fr-1": "0", "eu-de-1": "100"}
    for other in (f"arn:aws:s3::222222222222:accesspoint/{alias}", "nothing.mrap", "docs"):
        with pytest.raises(S3ControlError) as missing:
            await calls.routes(ACCOUNT, other)
        assert missing.value.code == "NoSuchMultiRegionAccessPoint"


async def test_delete(calls: MultiRegionCalls) -> None:
    await calls.create(ACCOUNT, create_body("docs", "fr1"), NOW)
    body = (
        b"<DeleteMultiRegionAccessPointRequest><ClientToken>d1</ClientToken><Details><Name>docs"
        b"</Name></Details></DeleteMultiRegionAccessPointRequest>"
    )
    token = xml((await calls.delete(ACCOUNT, body, NOW)).body).findtext(f"{NS}RequestTokenARN")
    assert token is not None and "/mrap/delete/" in token
    with pytest.raises(S3ControlError) as gone:
        await calls.get(ACCOUNT, "docs")
    assert gone.value.code == "NoSuchMultiRegionAccessPoint"
    # The retried delete answers its token again rather than NoSuchMultiRegionAccessPoint.
    again = await calls.delete(ACCOUNT, body, NOW)
    assert xml(again.body).findtext(f"{NS}RequestTokenARN") == token


async def test_the_resource_iam_sees(calls: MultiRegionCalls) -> None:
    body = create_body("docs", "fr1")
    # Not made yet: the ARN with its name; once made: its ARN (by alias), from the path or
    # the document alike.
    assert await calls.resource(ACCOUNT, "", body) == f"arn:aws:s3::{ACCOUNT}:accesspoint/docs"
    await calls.create(ACCOUNT, body, NOW)
    alias = xml((await calls.get(ACCOUNT, "docs")).body).findtext(f"{NS}AccessPoint/{NS}Alias")
    arn = f"arn:aws:s3::{ACCOUNT}:accesspoint/{alias}"
    assert await calls.resource(ACCOUNT, "docs", b"") == arn
    assert await calls.resource(ACCOUNT, "", policy_body("docs", "{}")) == arn
    assert await calls.resource(ACCOUNT, arn, b"") == arn
    assert await calls.resource(ACCOUNT, "", b"") == "*"  # ListMultiRegionAccessPoints
    assert await calls.resource(ACCOUNT, "", b"<not xml") == "*"
