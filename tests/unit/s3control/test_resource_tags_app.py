"""Access point and bucket tags through the S3 Control app in process (decision 0392):
CreateAccessPoint's ``Tags``, TagResource merging, UntagResource, ListTagsForResource; a
bucket's tags are S3's own tag set; IAM decides on the tagged resource's ARN with
``aws:ResourceTag/…``, ``aws:RequestTag/…`` and ``aws:TagKeys``; each call is audited with
that ARN."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from defusedxml import ElementTree as SafeET

from andromede.db.database import open_database
from andromede.s3control.app import S3ControlApp
from andromede.settings import Settings
from andromede.storage.access_points import MemoryAccessPointStore
from andromede.storage.batch_jobs import BatchJobStore
from support.s3app import REGION, Client, in_process_client
from support.schema import migrated_sqlite

NS = "http://awss3control.amazonaws.com/doc/2018-08-20/"


def create_body(*tags: tuple[str, str]) -> bytes:
    inner = "".join(f"<Tag><Key>{k}</Key><Value>{v}</Value></Tag>" for k, v in tags)
    listed = f"<Tags>{inner}</Tags>" if tags else ""
    return (
        f'<CreateAccessPointRequest xmlns="{NS}"><Bucket>data-bucket</Bucket>{listed}'
        "</CreateAccessPointRequest>"
    ).encode()


def tag_body(*tags: tuple[str, str]) -> bytes:
    inner = "".join(f"<Tag><Key>{k}</Key><Value>{v}</Value></Tag>" for k, v in tags)
    return f'<TagResourceRequest xmlns="{NS}"><Tags>{inner}</Tags></TagResourceRequest>'.encode()


@dataclass
class World:
    s3: Client
    app: S3ControlApp

    @property
    def root(self) -> Credentials:
        assert self.s3.credentials is not None
        return self.s3.credentials

    def arn(self, name: str) -> str:
        return f"arn:aws:s3:{REGION}:{self.s3.tenant_id}:accesspoint/{name}"


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    async with in_process_client(tmp_path) as s3:
        assert (await s3.request("PUT", "/data-bucket")).status == 200
        assert s3.identity is not None and s3.objects is not None
        app = S3ControlApp(
            s3.objects,
            s3.identity,
            s3.audit,
            Settings(data_dir=tmp_path, region=REGION),
            BatchJobStore(db),
            access_points=MemoryAccessPointStore(),
        )
        yield World(s3, app)
    await db.close()


async def call(
    world: World,
    credentials: Credentials,
    method: str,
    path: str,
    body: bytes = b"",
    query: str = "",
) -> tuple[int, bytes]:
    url = f"http://127.0.0.1:9000{path}" + (f"?{query}" if query else "")
    headers = {
        "x-amz-account-id": world.s3.tenant_id,
        "x-amz-content-sha256": hashlib.sha256(body).hexdigest(),
    }
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    S3SigV4Auth(credentials, "s3", REGION).add_auth(request)
    prepared = request.prepare()
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": quote(path, safe="/:").encode(),
        "query_string": query.encode(),
        "scheme": "http",
        "headers": [(b"host", b"127.0.0.1:9000")]
        + [(k.lower().encode(), str(v).encode()) for k, v in prepared.headers.items()],
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await world.app(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def listed(body: bytes) -> list[tuple[str, str]]:
    root = SafeET.fromstring(body)
    return [
        (t.findtext(f"{{{NS}}}Key") or "", t.findtext(f"{{{NS}}}Value") or "")
        for t in root.iter(f"{{{NS}}}Tag")
    ]


async def test_tags_of_an_access_point_from_creation_to_removal(world: World) -> None:
    create = create_body(("team", "blue"), ("env", "dev"))
    assert (await call(world, world.root, "PUT", "/v20180820/accesspoint/app", create))[0] == 200
    path = f"/v20180820/tags/{world.arn('app')}"
    status, body = await call(world, world.root, "GET", path)
    assert status == 200
    assert listed(body) == [("team", "blue"), ("env", "dev")]
    assert (await call(world, world.root, "POST", path, tag_body(("env", "prod"), ("a", "b"))))[
        0
    ] == 204
    assert listed((await call(world, world.root, "GET", path))[1]) == [
        ("team", "blue"),
        ("env", "prod"),
        ("a", "b"),
    ]
    status, _ = await call(world, world.root, "DELETE", path, query="tagKeys=team&tagKeys=zz")
    assert status == 204
    assert listed((await call(world, world.root, "GET", path))[1]) == [("env", "prod"), ("a", "b")]


async def test_errors_of_the_tagging_calls(world: World) -> None:
    assert (await call(world, world.root, "PUT", "/v20180820/accesspoint/app", create_body()))[
        0
    ] == 200
    path = f"/v20180820/tags/{world.arn('app')}"
    status, body = await call(world, world.root, "POST", path, tag_body(("aws:x", "v")))
    assert (status, b"<Code>InvalidTagError</Code>" in body) == (400, True)
    many = tuple((f"k{i}", "v") for i in range(50))
    assert (await call(world, world.root, "POST", path, tag_body(*many)))[0] == 204
    status, body = await call(world, world.root, "POST", path, tag_body(("one-more", "v")))
    assert (status, b"<Code>TooManyTagsException</Code>" in body) == (400, True)
    assert len(listed((await call(world, world.root, "GET", path))[1])) == 50
    status, body = await call(world, world.root, "GET", f"/v20180820/tags/{world.arn('nope')}")
    assert (status, b"<Code>NoSuchAccessPoint</Code>" in body) == (404, True)
    other = f"/v20180820/tags/arn:aws:s3:{REGION}:999999999999:accesspoint/app"
    assert (await call(world, world.root, "GET", other))[0] == 403
    status, body = await call(world, world.root, "GET", "/v20180820/tags/arn:aws:s3:::no-bucket-x")
    assert (status, b"<Code>NoSuchBucket</Code>" in body) == (404, True)
    status, body = await call(world, world.root, "POST", path, b"<TagResourceRequest/>")
    assert (status, b"<Code>MalformedXML</Code>" in body) == (400, True)
    status, body = await call(
        world, world.root, "PUT", "/v20180820/accesspoint/bad", create_body(("aws:reserved", "v"))
    )
    assert (status, b"<Code>InvalidTagError</Code>" in body) == (400, True)


async def test_a_buckets_tags_are_its_s3_tag_set(world: World) -> None:
    path = "/v20180820/tags/arn:aws:s3:::data-bucket"
    assert (await call(world, world.root, "POST", path, tag_body(("team", "blue"))))[0] == 204
    got = await world.s3.request("GET", "/data-bucket?tagging")
    assert got.status == 200 and b"<Key>team</Key><Value>blue</Value>" in got.body
    assert (await call(world, world.root, "POST", path, tag_body(("env", "prod"))))[0] == 204
    assert listed((await call(world, world.root, "GET", path))[1]) == [
        ("team", "blue"),
        ("env", "prod"),
    ]
    assert (await call(world, world.root, "DELETE", path, query="tagKeys=team&tagKeys=env"))[
        0
    ] == 204
    # No tag left: S3 has no tag set any more, as after DeleteBucketTagging.
    assert (await world.s3.request("GET", "/data-bucket?tagging")).status == 404
    assert listed((await call(world, world.root, "GET", path))[1]) == []


async def test_iam_sees_the_access_points_tags(world: World) -> None:
    for name, team in (("blue-ap", "blue"), ("red-ap", "red")):
        body = create_body(("team", team))
        assert (await call(world, world.root, "PUT", f"/v20180820/accesspoint/{name}", body))[
            0
        ] == 200
    user = await world.s3.iam_user("ops")
    assert user.credentials is not None and world.s3.identity is not None
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetAccessPoint", "s3:ListTagsForResource", "s3:TagResource"],
                "Resource": f"arn:aws:s3:{REGION}:{world.s3.tenant_id}:accesspoint/*",
                "Condition": {"StringEquals": {"aws:ResourceTag/team": "blue"}},
            },
            {
                "Effect": "Deny",
                "Action": "s3:TagResource",
                "Resource": "*",
                "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": ["team"]}},
            },
        ],
    }
    await world.s3.identity.put_user_policy(world.s3.tenant_id, "ops", "p", json.dumps(policy))
    ops = user.credentials
    assert (await call(world, ops, "GET", "/v20180820/accesspoint/blue-ap"))[0] == 200
    assert (await call(world, ops, "GET", "/v20180820/accesspoint/red-ap"))[0] == 403
    blue = f"/v20180820/tags/{world.arn('blue-ap')}"
    red = f"/v20180820/tags/{world.arn('red-ap')}"
    assert (await call(world, ops, "GET", blue))[0] == 200
    assert (await call(world, ops, "GET", red))[0] == 403
    assert (await call(world, ops, "POST", blue, tag_body(("env", "prod"))))[0] == 204
    # Retagging "team" would take the access point out of the policy's reach: denied.
    assert (await call(world, ops, "POST", blue, tag_body(("team", "red"))))[0] == 403
    await world.s3.audit.flush()
    events = [e for _, e in await world.s3.audit_store.list_events(None, after_id=0, limit=100)]
    tagged = [(e.action, e.resource) for e in events if e.action == "s3:TagResource"]
    assert tagged[-2:] == [("s3:TagResource", world.arn("blue-ap"))] * 2


async def test_an_abac_buckets_tags_are_changed_here_and_decide_its_requests(
    world: World,
) -> None:
    # Decision 0418: with ABAC Enabled, TagResource/UntagResource are the way to retag the
    # bucket, its tags decide S3 requests at once, and its own tagging calls see them too.
    path = "/v20180820/tags/arn:aws:s3:::data-bucket"
    assert (await call(world, world.root, "POST", path, tag_body(("team", "red"))))[0] == 204
    abac = b"<AbacStatus><Status>Enabled</Status></AbacStatus>"
    assert (await world.s3.request("PUT", "/data-bucket?abac", abac)).status == 200
    assert (await world.s3.request("PUT", "/data-bucket/k", b"data")).status == 200
    user = await world.s3.iam_user("blue-team")
    assert user.credentials is not None and world.s3.identity is not None
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:ListTagsForResource"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:ResourceTag/team": "blue"}},
            }
        ],
    }
    await world.s3.identity.put_user_policy(
        world.s3.tenant_id, "blue-team", "p", json.dumps(policy)
    )
    assert (await user.request("GET", "/data-bucket/k")).status == 403
    assert (await call(world, user.credentials, "GET", path))[0] == 403
    assert (await call(world, world.root, "POST", path, tag_body(("team", "blue"))))[0] == 204
    assert (await user.request("GET", "/data-bucket/k")).body == b"data"
    assert listed((await call(world, user.credentials, "GET", path))[1]) == [("team", "blue")]
    assert (await call(world, world.root, "DELETE", path, query="tagKeys=team"))[0] == 204
    assert (await user.request("GET", "/data-bucket/k")).status == 403
