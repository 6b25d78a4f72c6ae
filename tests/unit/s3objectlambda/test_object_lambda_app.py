"""GetObject through an Object Lambda access point, in process (decision 0384): the function
(a coroutine standing for the sandbox, behind the same ``FunctionRuns`` interface) gets AWS's
event, reads the object through ``inputS3Url`` from the S3 app — presigned with the caller's
key, judged by the supporting access point — and answers with WriteGetObjectResponse, whose
status, headers and body the caller gets; every way of not answering is AWS's error."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from andromede.s3objectlambda.app import FunctionMissing, FunctionOutcome, ObjectLambdaApp
from andromede.settings import Settings
from andromede.storage.access_points import AccessPoint, MemoryAccessPointStore
from andromede.storage.model import PublicAccessBlock
from andromede.storage.object_lambda_points import (
    MemoryObjectLambdaStore,
    ObjectLambdaAccessPoint,
    ObjectLambdaConfiguration,
    Transformation,
)
from andromede.wiring.object_lambda import supporting_s3
from support.s3app import REGION, Client, Reply, in_process_client

Handler = Callable[[dict[str, Any]], Awaitable[FunctionOutcome]]


@dataclass
class World:
    s3: Client
    app: ObjectLambdaApp
    points: MemoryObjectLambdaStore
    make: Callable[[Path | None], ObjectLambdaApp]
    access_points: MemoryAccessPointStore
    handler: list[Handler] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    function_policies: dict[str, str] = field(default_factory=dict)  # the functions' own

    @property
    def host(self) -> str:
        return f"upper-{self.s3.tenant_id}.s3.localhost:9000"


async def signed(
    app: ObjectLambdaApp,
    credentials: Credentials,
    method: str,
    host: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> Reply:
    """One request to the app, signed for ``s3-object-lambda`` as botocore signs it."""
    request = AWSRequest(method=method, url=f"http://{host}{path}", data=body,
        headers=headers or {})  # fmt: skip
    request.headers["x-amz-content-sha256"] = hashlib.sha256(body).hexdigest()
    S3SigV4Auth(credentials, "s3-object-lambda", REGION).add_auth(request)
    prepared = request.prepare()
    path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "scheme": "http",
        "headers": [(b"host", host.encode())]
        + [
            (k.lower().encode(), str(v).encode())
            for k, v in prepared.headers.items()
            if k.lower() != "host"
        ],
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await asyncio.create_task(app(scope, receive, send))
    return Reply(
        status=sent[0]["status"],
        headers={k.decode().lower(): v.decode() for k, v in sent[0]["headers"]},
        body=b"".join(m.get("body", b"") for m in sent[1:]),
    )


async def fetch_input(world: World, url: str) -> Reply:
    """The function's GET of ``inputS3Url``, sent to the S3 app as the relay carries it."""
    parts = urlsplit(url)
    headers = {"x-amz-content-sha256": "UNSIGNED-PAYLOAD"}
    return await world.s3.request(
        "GET", f"{parts.path}?{parts.query}", headers=headers, sign=False, host=parts.netloc
    )


async def write_response(
    world: World,
    event: dict[str, Any],
    body: bytes,
    headers: dict[str, str] | None = None,
    token: str | None = None,
    to: ObjectLambdaApp | None = None,
) -> Reply:
    """The function's WriteGetObjectResponse, as boto3 sends it (no host prefix)."""
    context = event["getObjectContext"]
    sent = {
        "x-amz-request-route": context["outputRoute"],
        "x-amz-request-token": token or context["outputToken"],
        **(headers or {}),
    }
    credentials = world.s3.credentials
    assert credentials is not None
    return await signed(to or world.app, credentials, "POST", "127.0.0.1:9001",
        "/WriteGetObjectResponse", body, sent)  # fmt: skip


@pytest.fixture
async def world(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[World]:
    overrides = getattr(request, "param", {})
    access_points = MemoryAccessPointStore()
    async with in_process_client(tmp_path, access_points=access_points) as s3:
        assert (await s3.request("PUT", "/data-bucket")).status == 200
        assert (await s3.request("PUT", "/data-bucket/notes.txt", b"hello object")).status == 200
        assert s3.identity is not None
        now = datetime.now(UTC)
        await access_points.create(
            AccessPoint(s3.tenant_id, "data-ap", "data-bucket", s3.tenant_id,
                "data-ap-abcdefghijklmn-s3alias", PublicAccessBlock(), now),
            quota=10,
        )  # fmt: skip
        points = MemoryObjectLambdaStore()
        function = f"arn:aws:lambda:{REGION}:{s3.tenant_id}:function:upper"
        configuration = ObjectLambdaConfiguration(
            f"arn:aws:s3:{REGION}:{s3.tenant_id}:accesspoint/data-ap",
            (Transformation(("GetObject",), function, '{"k":"v"}'),),
        )
        await points.create(
            ObjectLambdaAccessPoint(s3.tenant_id, "upper", "upper-x--ol-s3", configuration, now),
            quota=10,
        )
        settings = Settings(data_dir=tmp_path, region=REGION, s3_domain="s3.localhost",
            **overrides)  # fmt: skip
        holder: list[World] = []

        async def runs(function_arn: str, event: bytes) -> FunctionOutcome:
            assert function_arn == function
            found = holder[0]
            decoded = json.loads(event)
            found.events.append(decoded)
            return await found.handler[0](decoded)

        async def policies(function_arn: str) -> str | None:
            if function_arn != function:
                raise FunctionMissing(function_arn)
            return holder[0].function_policies.get(function_arn)

        identity = s3.identity

        def make(folder: Path | None) -> ObjectLambdaApp:
            return ObjectLambdaApp(points, access_points, identity, s3.audit, settings, runs,
                sandbox_endpoint="http://127.0.0.1:9001", exchange_folder=folder,
                supporting_s3=supporting_s3(s3.app, settings),
                function_policies=policies)  # fmt: skip

        holder.append(World(s3, make(None), points, make, access_points))
        s3.app.object_lambda = holder[0].app  # the alias as a bucket name (decision 0399)
        yield holder[0]


async def test_the_function_transforms_the_object(world: World) -> None:
    async def upper(event: dict[str, Any]) -> FunctionOutcome:
        original = await fetch_input(world, event["getObjectContext"]["inputS3Url"])
        assert original.status == 200, original.body
        answer = await write_response(world, event, original.body.upper(),
            {"x-amz-fwd-header-Content-Type": "text/plain", "x-amz-meta-done": "yes"})  # fmt: skip
        assert answer.status == 200, answer.body
        return FunctionOutcome(ok=True)

    world.handler.append(upper)
    credentials = world.s3.credentials
    assert credentials is not None
    reply = await signed(world.app, credentials, "GET", world.host, "/notes.txt")
    assert reply.status == 200, reply.body
    assert reply.body == b"HELLO OBJECT"
    assert reply.headers["content-type"] == "text/plain"
    assert reply.headers["x-amz-meta-done"] == "yes"
    assert reply.headers["content-length"] == "12"
    (event,) = world.events
    account = world.s3.tenant_id
    assert event["configuration"] == {
        "accessPointArn": f"arn:aws:s3-object-lambda:{REGION}:{account}:accesspoint/upper",
        "supportingAccessPointArn": f"arn:aws:s3:{REGION}:{account}:accesspoint/data-ap",
        "payload": '{"k":"v"}',
    }
    assert event["userRequest"]["url"] == f"http://{world.host}/notes.txt"
    assert "Authorization" not in event["userRequest"]["headers"]
    assert event["userIdentity"]["accountId"] == account
    assert event["userIdentity"]["type"] == "Root"
    assert event["protocolVersion"] == "1.00"
    assert event["getObjectContext"]["outputRoute"].startswith("io-")
    assert "/data-ap-abcdefghijklmn-s3alias/notes.txt?" in event["getObjectContext"]["inputS3Url"]
    assert len(world.app.rendezvous) == 0  # nothing left waiting


async def test_a_second_answer_and_a_wrong_token_are_refused(world: World) -> None:
    async def twice(event: dict[str, Any]) -> FunctionOutcome:
        wrong = await write_response(world, event, b"x", token="not-the-token")
        assert wrong.status == 400 and b"<Code>InvalidRequest</Code>" in wrong.body
        assert (await write_response(world, event, b"first")).status == 200
        again = await write_response(world, event, b"second")
        assert again.status == 400
        return FunctionOutcome(ok=True)

    world.handler.append(twice)
    assert world.s3.credentials is not None
    reply = await signed(world.app, world.s3.credentials, "GET", world.host, "/notes.txt")
    assert (reply.status, reply.body) == (200, b"first")


async def test_the_functions_error_is_the_callers(world: World) -> None:
    async def refuse(event: dict[str, Any]) -> FunctionOutcome:
        headers = {
            "x-amz-fwd-status": "403",
            "x-amz-fwd-error-code": "RequestDenied",
            "x-amz-fwd-error-message": "Not for you",
        }
        assert (await write_response(world, event, b"", headers)).status == 200
        return FunctionOutcome(ok=True)

    world.handler.append(refuse)
    assert world.s3.credentials is not None
    reply = await signed(world.app, world.s3.credentials, "GET", world.host, "/notes.txt")
    assert reply.status == 403
    assert b"<Code>RequestDenied</Code>" in reply.body
    assert b"<Message>Not for you</Message>" in reply.body
    assert reply.headers["x-amz-request-id"]


@pytest.mark.parametrize(
    ("outcome", "status", "code"),
    [
        (FunctionOutcome(ok=True), 500, "LambdaResponseNotReceived"),
        (FunctionOutcome(ok=False, error_type="ValueError"), 500, "LambdaRuntimeError"),
        (FunctionOutcome(ok=False, error_type="Sandbox.Timedout"), 500, "LambdaTimeout"),
    ],
)
async def test_a_function_that_does_not_answer(
    world: World, outcome: FunctionOutcome, status: int, code: str
) -> None:
    async def silent(event: dict[str, Any]) -> FunctionOutcome:
        return outcome

    world.handler.append(silent)
    assert world.s3.credentials is not None
    reply = await signed(world.app, world.s3.credentials, "GET", world.host, "/notes.txt")
    assert reply.status == status
    assert f"<Code>{code}</Code>".encode() in reply.body


async def test_a_missing_function(world: World) -> None:
    async def gone(event: dict[str, Any]) -> FunctionOutcome:
        raise FunctionMissing("upper")

    world.handler.append(gone)
    assert world.s3.credentials is not None
    reply = await signed(world.app, world.s3.credentials, "GET", world.host, "/notes.txt")
    assert reply.status == 404
    assert b"<Code>LambdaNotFound</Code>" in reply.body


@pytest.mark.parametrize("world", [{"s3_object_lambda_response_timeout": 0.2}], indirect=True)
async def test_the_wait_is_a_setting(world: World) -> None:
    async def slow(event: dict[str, Any]) -> FunctionOutcome:
        await asyncio.sleep(30)
        return FunctionOutcome(ok=True)

    world.handler.append(slow)
    assert world.s3.credentials is not None
    started = asyncio.get_running_loop().time()
    reply = await signed(world.app, world.s3.credentials, "GET", world.host, "/notes.txt")
    assert reply.status == 500
    assert b"<Code>LambdaResponseNotReceived</Code>" in reply.body
    assert asyncio.get_running_loop().time() - started < 20


async def test_a_body_not_the_one_signed_is_not_answered(world: World) -> None:
    async def forged(event: dict[str, Any]) -> FunctionOutcome:
        context = event["getObjectContext"]
        headers = {
            "x-amz-request-route": context["outputRoute"],
            "x-amz-request-token": context["outputToken"],
        }
        # Signed over another body of the same length, then sent with these bytes.
        request = AWSRequest(method="POST", url="http://127.0.0.1:9001/WriteGetObjectResponse",
            data=b"honest", headers=headers)  # fmt: skip
        assert world.s3.credentials is not None
        S3SigV4Auth(world.s3.credentials, "s3-object-lambda", REGION).add_auth(request)
        prepared = request.prepare()
        scope = {
            "type": "http", "method": "POST", "path": "/WriteGetObjectResponse",
            "raw_path": b"/WriteGetObjectResponse", "query_string": b"", "scheme": "http",
            "headers": [(b"host", b"127.0.0.1:9001")] + [(k.lower().encode(), str(v).encode())
                for k, v in prepared.headers.items() if k.lower() != "host"],
        }  # fmt: skip
        messages = [{"type": "http.request", "body": b"forged", "more_body": False}]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return messages.pop(0)

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await world.app(scope, receive, send)
        assert sent[0]["status"] == 400
        return FunctionOutcome(ok=True)

    world.handler.append(forged)
    assert world.s3.credentials is not None
    # Refused before any byte was passed on (decision 0417): the caller is not answered
    # with the forged bytes but with AWS's error for a function that did not answer.
    reply = await signed(world.app, world.s3.credentials, "GET", world.host, "/notes.txt")
    assert reply.status == 500 and b"forged" not in reply.body
    assert b"<Code>LambdaResponseNotReceived</Code>" in reply.body


async def test_permissions(world: World) -> None:
    async def upper(event: dict[str, Any]) -> FunctionOutcome:
        original = await fetch_input(world, event["getObjectContext"]["inputS3Url"])
        await write_response(world, event, original.body.upper(),
            {"x-amz-fwd-status": str(original.status)})  # fmt: skip
        return FunctionOutcome(ok=True)

    world.handler.append(upper)
    identity = world.s3.identity
    assert identity is not None
    user = await world.s3.iam_user("reader")
    assert user.credentials is not None
    account = world.s3.tenant_id
    point = f"arn:aws:s3-object-lambda:{REGION}:{account}:accesspoint/upper"
    function = f"arn:aws:lambda:{REGION}:{account}:function:upper"

    async def allow(*statements: tuple[str, str]) -> None:
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": a, "Resource": r} for a, r in statements],
        }
        await identity.put_user_policy(account, "reader", "p", json.dumps(policy))

    async def get() -> Reply:
        assert user.credentials is not None
        return await signed(world.app, user.credentials, "GET", world.host, "/notes.txt")

    assert (await get()).status == 403  # nothing allowed
    await allow(("s3-object-lambda:GetObject", point))
    reply = await get()
    assert (reply.status, b"<Code>LambdaPermissionError</Code>" in reply.body) == (403, True)
    await allow(("s3-object-lambda:GetObject", point), ("lambda:InvokeFunction", function))
    reply = await get()
    # The function's read is the caller's own: without s3:GetObject it is refused too (the
    # function passes S3's answer on, status and document).
    assert reply.status == 403
    assert b"<CODE>ACCESSDENIED</CODE>" in reply.body
    await allow(
        ("s3-object-lambda:GetObject", point),
        ("lambda:InvokeFunction", function),
        ("s3:GetObject", f"arn:aws:s3:{REGION}:{account}:accesspoint/data-ap/object/*"),
        ("s3:GetObject", "arn:aws:s3:::data-bucket/*"),
    )
    reply = await get()
    assert (reply.status, reply.body) == (200, b"HELLO OBJECT")


async def test_another_accounts_caller(world: World) -> None:
    """Decision 0411: a caller of another account gets through when the Object Lambda access
    point's policy, the function's resource-based policy, and the supporting access point's
    and the bucket's policies (which judge the function's read, made as the caller) all grant
    it; refused by the first that does not."""

    async def upper(event: dict[str, Any]) -> FunctionOutcome:
        original = await fetch_input(world, event["getObjectContext"]["inputS3Url"])
        await write_response(world, event, original.body.upper(),
            {"x-amz-fwd-status": str(original.status)})  # fmt: skip
        return FunctionOutcome(ok=True)

    world.handler.append(upper)
    other = await world.s3.other_tenant("other")
    assert other.credentials is not None
    account, caller = world.s3.tenant_id, f"arn:aws:iam::{other.tenant_id}:root"
    point = f"arn:aws:s3-object-lambda:{REGION}:{account}:accesspoint/upper"
    function = f"arn:aws:lambda:{REGION}:{account}:function:upper"

    def granting(action: str, *resources: str) -> str:
        statement = {"Effect": "Allow", "Principal": {"AWS": caller}, "Action": action,
            "Resource": list(resources)}  # fmt: skip
        return json.dumps({"Version": "2012-10-17", "Statement": [statement]})

    async def get() -> Reply:
        assert other.credentials is not None
        return await signed(world.app, other.credentials, "GET", world.host, "/notes.txt")

    reply = await get()
    assert (reply.status, b"<Code>AccessDenied</Code>" in reply.body) == (403, True)
    await world.points.set_policy(account, "upper", granting("s3-object-lambda:GetObject", point))
    reply = await get()
    assert (reply.status, b"<Code>LambdaPermissionError</Code>" in reply.body) == (403, True)
    world.function_policies[function] = granting("lambda:InvokeFunction", function)
    assert world.events == []  # not run for a caller it does not let in
    reply = await get()
    # The function's read, made as the caller: neither the supporting access point's policy
    # nor the bucket's grants it.
    assert reply.status == 403 and b"<CODE>ACCESSDENIED</CODE>" in reply.body
    supporting = f"arn:aws:s3:{REGION}:{account}:accesspoint/data-ap"
    assert await world.access_points.set_policy(
        account, "data-ap", granting("s3:GetObject", f"{supporting}/object/*")
    )
    reply = await get()
    assert reply.status == 403  # the bucket's policy does not grant it yet
    bucket_policy = granting("s3:GetObject", "arn:aws:s3:::data-bucket/*")
    assert (
        await world.s3.request("PUT", "/data-bucket?policy", bucket_policy.encode())
    ).status in (
        200,
        204,
    )
    reply = await get()
    assert (reply.status, reply.body) == (200, b"HELLO OBJECT")
    assert world.events[-1]["userIdentity"]["accountId"] == other.tenant_id


async def test_unknown_access_points_and_operations(world: World) -> None:
    credentials = world.s3.credentials
    assert credentials is not None
    host = f"nope-{world.s3.tenant_id}.s3.localhost:9000"
    reply = await signed(world.app, credentials, "GET", host, "/notes.txt")
    assert (reply.status, b"NoSuchAccessPoint" in reply.body) == (404, True)
    # Bucket configuration is not served through an Object Lambda access point (0399).
    reply = await signed(world.app, credentials, "PUT", world.host, "/?policy", b"{}")
    assert (reply.status, b"<Code>InvalidRequest</Code>" in reply.body) == (400, True)
    reply = await signed(world.app, credentials, "HEAD", world.host, "/missing.txt")
    assert (reply.status, reply.body) == (404, b"")  # no document in a HEAD's answer
    reply = await signed(world.app, credentials, "GET", world.host, "/notes.txt",
        headers={"Range": "bytes=0-1"})  # fmt: skip
    assert reply.status == 501  # GetObject-Range not among the allowed features


async def test_an_answer_taken_by_another_worker_reaches_the_waiting_get(
    world: World, tmp_path: Path
) -> None:
    """Two workers of one gateway sharing the exchange's folder: the function's answer lands
    on the worker that does not hold the GET, and is passed on to the one that does."""
    folder = tmp_path / "ol"
    holding, other = world.make(folder), world.make(folder)
    world.app = holding
    ends = [asyncio.create_task(app.serve_exchange()) for app in (holding, other)]
    try:
        for app in (holding, other):
            await wait_for_socket(folder / f"{app.rendezvous.tag}.sock")

        async def upper(event: dict[str, Any]) -> FunctionOutcome:
            original = await fetch_input(world, event["getObjectContext"]["inputS3Url"])
            wrong = await write_response(world, event, b"x", token="not-the-token", to=other)
            assert wrong.status == 400 and b"<Code>InvalidRequest</Code>" in wrong.body
            answer = await write_response(world, event, original.body.upper() * 50_000,
                {"x-amz-fwd-header-Content-Type": "text/plain"}, to=other)  # fmt: skip
            assert answer.status == 200, answer.body
            return FunctionOutcome(ok=True)

        world.handler.append(upper)
        assert world.s3.credentials is not None
        reply = await signed(holding, world.s3.credentials, "GET", world.host, "/notes.txt")
        assert reply.status == 200, reply.body
        assert reply.body == b"HELLO OBJECT" * 50_000
        assert reply.headers["content-type"] == "text/plain"
        # A route of a worker that is not there: not valid, as a wrong token.
        gone = {"getObjectContext": {"outputRoute": "io-abcdef-0123456789abcdef",
            "outputToken": "t"}}  # fmt: skip
        refused = await write_response(world, gone, b"x", to=other)
        assert refused.status == 400 and b"<Code>InvalidRequest</Code>" in refused.body
    finally:
        for end in ends:
            end.cancel()
        await asyncio.gather(*ends, return_exceptions=True)
    assert not folder.exists()  # the last worker's end took the folder with it


async def wait_for_socket(path: Path) -> None:
    for _ in range(400):
        if path.exists():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{path} never appeared")


async def test_head_object_and_listings_answer_with_the_functions_return(world: World) -> None:
    account = world.s3.tenant_id
    function = f"arn:aws:lambda:{REGION}:{account}:function:upper"
    await world.points.set_configuration(
        account,
        "upper",
        ObjectLambdaConfiguration(
            f"arn:aws:s3:{REGION}:{account}:accesspoint/data-ap",
            (
                Transformation(("GetObject", "HeadObject"), function),
                Transformation(("ListObjectsV2",), function),
            ),
        ),
    )

    async def returning(event: dict[str, Any]) -> FunctionOutcome:
        if "headObjectContext" in event:
            url = urlsplit(event["headObjectContext"]["inputS3Url"])
            original = await world.s3.request("HEAD", f"{url.path}?{url.query}",
                headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"}, sign=False,
                host=url.netloc)  # fmt: skip
            assert original.status == 200
            answer = {"statusCode": 200, "headers": {"Content-Length": 12 * 2,
                "Content-Type": "text/plain"}, "metadata": {"Doubled": True}}  # fmt: skip
        else:
            context = event["listObjectsV2Context"]
            assert "getObjectContext" not in event and "outputRoute" not in context
            listing = await fetch_input(world, context["inputS3Url"])
            assert listing.status == 200 and b"<Key>notes.txt</Key>" in listing.body
            answer = {"statusCode": 200, "listResultXml": listing.body.decode().replace(
                "notes.txt", "NOTES.TXT")}  # fmt: skip
        return FunctionOutcome(ok=True, payload=json.dumps(answer).encode())

    world.handler.append(returning)
    credentials = world.s3.credentials
    assert credentials is not None
    head = await signed(world.app, credentials, "HEAD", world.host, "/notes.txt")
    assert (head.status, head.body) == (200, b"")
    assert head.headers["content-length"] == "24"
    assert head.headers["x-amz-meta-doubled"] == "true"
    listed = await signed(world.app, credentials, "GET", world.host, "/?list-type=2&prefix=no")
    assert listed.status == 200, listed.body
    assert b"<Key>NOTES.TXT</Key>" in listed.body
    assert len(world.app.rendezvous) == 0

    async def refusing(event: dict[str, Any]) -> FunctionOutcome:
        answer = {"statusCode": 404, "errorCode": "NoSuchKey", "errorMessage": "gone"}
        return FunctionOutcome(ok=True, payload=json.dumps(answer).encode())

    world.handler[0] = refusing
    head = await signed(world.app, credentials, "HEAD", world.host, "/notes.txt")
    assert (head.status, head.body) == (404, b"")
    listed = await signed(world.app, credentials, "GET", world.host, "/?list-type=2")
    assert listed.status == 404 and b"<Code>NoSuchKey</Code>" in listed.body

    async def garbled(event: dict[str, Any]) -> FunctionOutcome:
        return FunctionOutcome(ok=True, payload=b'{"statusCode": "OK"}')

    world.handler[0] = garbled
    listed = await signed(world.app, credentials, "GET", world.host, "/?list-type=2")
    assert listed.status == 400 and b"<Code>LambdaInvalidResponse</Code>" in listed.body
    # ListObjects (version 1) is not among the transformed actions: the supporting access
    # point answers it, untransformed (decision 0399).
    listed = await signed(world.app, credentials, "GET", world.host, "/")
    assert listed.status == 200, listed.body
    assert b"<Key>notes.txt</Key>" in listed.body
