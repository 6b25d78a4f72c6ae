"""The access point calls through the S3 Control app in process (decision 0157): IAM
authorises them on the access point's ARN, and each is audited with that ARN."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from andromede.db.database import open_database
from andromede.s3control.app import S3ControlApp
from andromede.settings import Settings
from andromede.storage.access_points import MemoryAccessPointStore
from andromede.storage.batch_jobs import BatchJobStore
from support.s3app import REGION, Client, in_process_client
from support.schema import migrated_sqlite

_CREATE = b"<CreateAccessPointRequest><Bucket>data-bucket</Bucket></CreateAccessPointRequest>"


@dataclass
class World:
    s3: Client
    app: S3ControlApp


@pytest.fixture
async def world(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[World]:
    overrides = getattr(request, "param", {})
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    async with in_process_client(tmp_path) as s3:
        assert (await s3.request("PUT", "/data-bucket")).status == 200
        assert s3.identity is not None and s3.objects is not None
        app = S3ControlApp(
            s3.objects,
            s3.identity,
            s3.audit,
            Settings(data_dir=tmp_path, region=REGION, **overrides),
            BatchJobStore(db),
            access_points=MemoryAccessPointStore(),
        )
        yield World(s3, app)
    await db.close()


async def call(
    world: World, credentials: Credentials, method: str, path: str, body: bytes = b""
) -> tuple[int, bytes]:
    url = f"http://127.0.0.1:9000{path}"
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
        "raw_path": path.encode(),
        "query_string": b"",
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


async def test_calls_are_audited_with_the_access_points_arn(world: World) -> None:
    root = world.s3.credentials
    assert root is not None
    assert (await call(world, root, "PUT", "/v20180820/accesspoint/app", _CREATE))[0] == 200
    status, _ = await call(world, root, "GET", "/v20180820/accesspoint/nope")
    assert status == 404
    await world.s3.audit.flush()
    events = [e for _, e in await world.s3.audit_store.list_events(None, after_id=0, limit=50)]
    arn = f"arn:aws:s3:{REGION}:{world.s3.tenant_id}:accesspoint"
    mine = [(e.action, e.resource, e.outcome.value) for e in events if "accesspoint" in e.resource]
    assert mine == [
        ("s3:CreateAccessPoint", f"{arn}/app", "success"),
        ("s3:GetAccessPoint", f"{arn}/nope", "failure"),
    ]


async def test_iam_decides_on_the_access_points_arn(world: World) -> None:
    root = world.s3.credentials
    assert root is not None and world.s3.identity is not None
    assert (await call(world, root, "PUT", "/v20180820/accesspoint/app", _CREATE))[0] == 200
    assert (await call(world, root, "PUT", "/v20180820/accesspoint/other", _CREATE))[0] == 200
    user = await world.s3.iam_user("ops")
    assert user.credentials is not None
    arn = f"arn:aws:s3:{REGION}:{world.s3.tenant_id}:accesspoint/app"
    await world.s3.identity.put_user_policy(
        world.s3.tenant_id,
        "ops",
        "p",
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": '
        f'"s3:GetAccessPoint", "Resource": "{arn}"}}]}}',
    )
    ops = user.credentials
    assert (await call(world, ops, "GET", "/v20180820/accesspoint/app"))[0] == 200
    assert (await call(world, ops, "GET", "/v20180820/accesspoint/other"))[0] == 403
    assert (await call(world, ops, "DELETE", "/v20180820/accesspoint/app"))[0] == 403
    assert (await call(world, ops, "GET", "/v20180820/accesspoint"))[0] == 403


@pytest.mark.parametrize("world", [{"max_access_points_per_account": 1}], indirect=True)
async def test_the_quota_is_a_setting(world: World) -> None:
    root = world.s3.credentials
    assert root is not None
    assert (await call(world, root, "PUT", "/v20180820/accesspoint/app", _CREATE))[0] == 200
    status, body = await call(world, root, "PUT", "/v20180820/accesspoint/second", _CREATE)
    assert status == 400
    assert b"<Code>InvalidRequest</Code>" in body
    assert b"quota of 1 access points" in body
    assert (await call(world, root, "DELETE", "/v20180820/accesspoint/app"))[0] == 204
    assert (await call(world, root, "PUT", "/v20180820/accesspoint/second", _CREATE))[0] == 200


@pytest.mark.parametrize("world", [{"access_point_list_max": 1}], indirect=True)
async def test_the_page_is_a_setting(world: World) -> None:
    root = world.s3.credentials
    assert root is not None
    for name in ("first", "second"):
        assert (await call(world, root, "PUT", f"/v20180820/accesspoint/{name}", _CREATE))[0] == 200
    status, body = await call(world, root, "GET", "/v20180820/accesspoint")
    assert status == 200
    assert body.count(b"<Name>") == 1
    assert b"<NextToken>" in body


async def test_scope_is_for_directory_buckets_access_points_only(world: World) -> None:
    # Decision 0392: Put/Get/DeleteAccessPointScope are S3 Express's (directory buckets),
    # which are not served; a general purpose bucket's access point has no scope.
    root = world.s3.credentials
    assert root is not None
    assert (await call(world, root, "PUT", "/v20180820/accesspoint/app", _CREATE))[0] == 200
    scope = (
        b'<PutAccessPointScopeRequest xmlns="http://awss3control.amazonaws.com/doc/2018-08-20/">'
        b"<Scope><Prefixes><Prefix>a/</Prefix></Prefixes></Scope></PutAccessPointScopeRequest>"
    )
    for method, body in (("PUT", scope), ("GET", b""), ("DELETE", b"")):
        status, answer = await call(world, root, method, "/v20180820/accesspoint/app/scope", body)
        assert (status, b"<Code>NoSuchAccessPoint</Code>" in answer) == (404, True), method
    status, answer = await call(
        world, root, "GET", "/v20180820/accesspoint/data--use1-az4--xa-s3/scope"
    )
    assert (status, b"<Code>NotImplemented</Code>" in answer) == (501, True)
    await world.s3.audit.flush()
    events = [e for _, e in await world.s3.audit_store.list_events(None, after_id=0, limit=50)]
    assert "s3express:PutAccessPointScope" in {e.action for e in events}
