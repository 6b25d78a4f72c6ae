"""Decision 0286's functions through botocore's ``lambda`` model in process: CreateFunction
(runtime, role, handler, zip, timeout, memory, environment sealed), GetFunction,
GetFunctionConfiguration, ListFunctions' pages, UpdateFunctionCode and
UpdateFunctionConfiguration with their RevisionId, PublishVersion and
ListVersionsByFunction, DeleteFunction — and the errors in Lambda's shape."""

from __future__ import annotations

import base64
import hashlib
import time
from unittest import mock
from urllib.parse import urlsplit

from andromede.api_routing import api_service
from andromede.functions.model import LATEST
from andromede.wiring.functions import role_sessions
from support.lambdaapp import CallFailed, World, handler_zip


async def test_create_get_and_list(world: World) -> None:
    made = await world.function(
        "echo",
        Description="says it back",
        Timeout=30,
        MemorySize=256,
        Environment={"Variables": {"STAGE": "test", "TOKEN": "s3cr3t"}},
        Tags={"team": "web"},
    )
    zipped = handler_zip()
    assert made["FunctionName"] == "echo"
    assert made["FunctionArn"] == f"arn:aws:lambda:eu-fr-1:{world.tenant_id}:function:echo"
    assert made["CodeSha256"] == base64.b64encode(hashlib.sha256(zipped).digest()).decode()
    assert made["CodeSize"] == len(zipped)
    assert (made["Version"], made["State"], made["LastUpdateStatus"]) == (
        LATEST,
        "Active",
        "Successful",
    )
    assert (made["Timeout"], made["MemorySize"], made["Runtime"]) == (30, 256, "python3.11")
    assert made["Environment"]["Variables"] == {"STAGE": "test", "TOKEN": "s3cr3t"}
    assert made["Architectures"] == ["x86_64"]
    got = await world.client("GetFunction", FunctionName="echo")
    assert got["Configuration"]["RevisionId"] == made["RevisionId"]
    assert got["Tags"] == {"team": "web"}
    assert got["Code"]["RepositoryType"] == "S3"
    by_arn = await world.client("GetFunctionConfiguration", FunctionName=made["FunctionArn"])
    assert by_arn["Description"] == "says it back"
    for name in ("b-fn", "c-fn", "d-fn"):
        await world.function(name)
    first = await world.client("ListFunctions", MaxItems=2)
    assert [f["FunctionName"] for f in first["Functions"]] == ["b-fn", "c-fn"]
    rest = await world.client("ListFunctions", Marker=first["NextMarker"])
    assert [f["FunctionName"] for f in rest["Functions"]] == ["d-fn", "echo"]
    assert "NextMarker" not in rest


async def test_environment_and_code_are_sealed_at_rest(world: World) -> None:
    await world.function("sealed", Environment={"Variables": {"TOKEN": "s3cr3t-value"}})
    latest = await world.store.version(world.tenant_id, "sealed", LATEST)
    assert latest is not None and latest.sealed_environment
    assert b"s3cr3t-value" not in latest.sealed_environment
    sealed = await world.store.code(world.tenant_id, "sealed", latest.code_sha256)
    assert sealed is not None and b"def handler" not in sealed
    assert await world.functions.code(latest) == handler_zip()


async def test_refusals_in_lambdas_words(world: World) -> None:
    await world.function("taken")
    conflict = await world.fails("CreateFunction", "ResourceConflictException",
        FunctionName="taken", Runtime="python3.11", Role=await world.role("r2"),
        Handler="app.handler", Code={"ZipFile": handler_zip()})  # fmt: skip
    assert conflict.status == 409
    assert conflict.headers["x-amzn-errortype"] == "ResourceConflictException"
    assert conflict.body["Type"] == "User" and conflict.body["message"]
    missing = await world.fails("GetFunction", "ResourceNotFoundException", FunctionName="nope")
    assert missing.status == 404
    assert missing.message.startswith("Function not found: arn:aws:lambda:eu-fr-1:")
    runtime = await world.fails(
        "CreateFunction", "InvalidParameterValueException", FunctionName="old",
        Runtime="python3.7", Role=await world.role("r3"), Handler="app.handler",
        Code={"ZipFile": handler_zip()},
    )  # fmt: skip
    assert "python3.7" in runtime.message and "python3.11" in runtime.message
    untrusting = await world.role("untrusting", trust=_trust("ec2.amazonaws.com"))
    role = await world.fails("CreateFunction", "InvalidParameterValueException",
        FunctionName="x", Runtime="python3.11", Role=untrusting, Handler="app.handler",
        Code={"ZipFile": handler_zip()})  # fmt: skip
    assert role.message == "The role defined for the function cannot be assumed by Lambda."
    await world.fails("CreateFunction", "InvalidParameterValueException", FunctionName="x",
        Runtime="python3.11", Role=untrusting.replace("untrusting", "fn"), Handler="app.handler",
        Code={"ZipFile": b"not a zip"})  # fmt: skip
    for bad in ({"Timeout": 901}, {"MemorySize": 10_241}, {"Architectures": ["arm64"]}):
        await world.fails("CreateFunction", "InvalidParameterValueException", FunctionName="y",
            Runtime="python3.11", Role=untrusting.replace("untrusting", "fn"),
            Handler="app.handler", Code={"ZipFile": handler_zip()}, **bad)  # fmt: skip
    reserved = await world.fails("CreateFunction", "InvalidParameterValueException",
        FunctionName="y", Runtime="python3.11", Role=untrusting.replace("untrusting", "fn"),
        Handler="app.handler", Code={"ZipFile": handler_zip()},
        Environment={"Variables": {"AWS_REGION": "x", "SECRET": "hunter2"}})  # fmt: skip
    assert "AWS_REGION" in reserved.message and "hunter2" not in reserved.message


def _trust(service: str) -> str:
    return (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"'
        + service
        + '"},"Action":"sts:AssumeRole"}]}'
    )


async def test_updates_guarded_by_revision(world: World) -> None:
    made = await world.function("fn1")
    new_zip = handler_zip("def handler(event, context):\n    return 2\n")
    stale = await world.fails("UpdateFunctionCode", "PreconditionFailedException",
        FunctionName="fn1", ZipFile=new_zip, RevisionId="nope")  # fmt: skip
    assert stale.status == 412
    code = await world.client(
        "UpdateFunctionCode", FunctionName="fn1", ZipFile=new_zip, RevisionId=made["RevisionId"]
    )
    assert code["CodeSha256"] != made["CodeSha256"] and code["RevisionId"] != made["RevisionId"]
    config = await world.client(
        "UpdateFunctionConfiguration",
        FunctionName="fn1",
        Timeout=60,
        Environment={"Variables": {"AB": "1"}},
        RevisionId=code["RevisionId"],
    )
    assert config["Timeout"] == 60 and config["Environment"]["Variables"] == {"AB": "1"}
    assert config["CodeSha256"] == code["CodeSha256"]
    await world.fails("UpdateFunctionConfiguration", "PreconditionFailedException",
        FunctionName="fn1", Timeout=5, RevisionId=code["RevisionId"])  # fmt: skip
    latest = await world.store.version(world.tenant_id, "fn1", LATEST)
    assert latest is not None
    # The first zip is no longer used by any version: it is not kept.
    assert await world.store.code(world.tenant_id, "fn1", made["CodeSha256"]) is None


async def test_versions_published_listed_and_deleted(world: World) -> None:
    made = await world.function("ver", Publish=True)
    assert made["Version"] == "1"
    assert made["FunctionArn"].endswith(":function:ver:1")
    again = await world.client("PublishVersion", FunctionName="ver")
    assert again["Version"] == "1"  # nothing changed since: the same version, as AWS
    await world.client("UpdateFunctionConfiguration", FunctionName="ver", MemorySize=512)
    second = await world.client("PublishVersion", FunctionName="ver", Description="v2")
    assert (second["Version"], second["Description"], second["MemorySize"]) == ("2", "v2", 512)
    await world.fails("PublishVersion", "InvalidParameterValueException",
        FunctionName="ver", CodeSha256="AAAA")  # fmt: skip
    listed = await world.client("ListVersionsByFunction", FunctionName="ver")
    assert [v["Version"] for v in listed["Versions"]] == [LATEST, "1", "2"]
    one = await world.client("GetFunctionConfiguration", FunctionName="ver", Qualifier="1")
    assert one["MemorySize"] == 128
    await world.client("DeleteFunction", FunctionName="ver", Qualifier="1")
    await world.fails("GetFunction", "ResourceNotFoundException", FunctionName="ver:1")
    await world.fails("DeleteFunction", "InvalidParameterValueException",
        FunctionName="ver", Qualifier=LATEST)  # fmt: skip
    await world.client("DeleteFunction", FunctionName="ver")
    await world.fails("GetFunction", "ResourceNotFoundException", FunctionName="ver")
    assert await world.store.versions(world.tenant_id, "ver") == []


async def test_tenants_are_isolated_and_calls_audited(world: World) -> None:
    made = await world.function("mine")
    other = await world.other_tenant("other")
    denied = await other.fails("GetFunction", "AccessDeniedException",
        FunctionName=made["FunctionArn"])  # fmt: skip
    assert denied.status == 403
    await other.fails("GetFunction", "ResourceNotFoundException", FunctionName="mine")
    assert (await other.client("ListFunctions"))["Functions"] == []
    user = await world.iam_user("dev")
    await user.fails("GetFunction", "AccessDeniedException", FunctionName="mine")
    await world.audit.flush()
    listed = await world.audit_store.list_events(None, after_id=0, limit=500)
    events = [e for _, e in listed if e.action == "lambda:CreateFunction"]
    assert events and events[-1].resource == made["FunctionArn"]
    # The status Lambda answered (CreateFunction's 201), as the access log says it too.
    assert events[-1].details.get("status") == "201"


async def test_unsigned_and_unknown(world: World) -> None:
    try:
        await world.anonymous().client("ListFunctions")
    except CallFailed as exc:
        assert exc.code == "MissingAuthenticationTokenException"
    else:
        raise AssertionError("unsigned call answered")
    await world.function("plain")
    not_yet = await world.fails(
        "PutRuntimeManagementConfig",
        "UnsupportedOperationException",
        FunctionName="plain",
        UpdateRuntimeOn="Auto",
    )
    assert not_yet.status == 400


async def test_code_location_serves_the_zip(world: World) -> None:
    await world.function("dl")
    await world.function("other")
    location = urlsplit((await world.client("GetFunction", FunctionName="dl"))["Code"]["Location"])
    assert location.path == f"/2015-03-31/functions/{world.tenant_id}:function:dl/code"
    unsigned = world.anonymous()
    got = await unsigned.raw("GET", location.path, query=location.query)
    assert (got.status, got.headers["content-type"]) == (200, "application/zip")
    assert got.body == handler_zip()
    elsewhere = location.path.replace(":function:dl/", ":function:other/")
    moved = await unsigned.raw("GET", elsewhere, query=location.query)
    assert moved.status == 403 and moved.headers["x-amzn-errortype"] == "AccessDeniedException"
    forged = await unsigned.raw("GET", location.path, query=location.query[:-6] + "AAAAAA")
    assert forged.status == 403
    with_clock = "andromede.lambdaapi.code_location.time.time"
    with mock.patch(with_clock, return_value=time.time() + 601):
        expired = await unsigned.raw("GET", location.path, query=location.query)
    assert expired.status == 403
    routed = {
        "type": "http", "method": "GET", "path": location.path,
        "query_string": location.query.encode(), "headers": [],
    }  # fmt: skip
    assert api_service(routed) == "lambda"


def _trust_if(condition: str) -> str:
    return (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":'
        '"lambda.amazonaws.com"},"Action":"sts:AssumeRole","Condition":' + condition + "}]}"
    )


async def test_lambda_gives_its_account_and_no_source_arn_to_the_trust(world: World) -> None:
    # Decision 0321: Lambda assumes an execution role with the function's account as
    # aws:SourceAccount and, as AWS's Lambda, no aws:SourceArn.
    account = world.tenant_id
    ours = await world.role("ours", trust=_trust_if(
        '{"StringEquals":{"aws:SourceAccount":"' + account + '"}}'))  # fmt: skip
    theirs = await world.role("theirs", trust=_trust_if(
        '{"StringEquals":{"aws:SourceAccount":"444455556666"}}'))  # fmt: skip
    by_arn = await world.role("by-arn", trust=_trust_if(
        '{"ArnLike":{"aws:SourceArn":"arn:aws:lambda:*:' + account + ':function:*"}}'))  # fmt: skip
    if_exists = await world.role("if-exists", trust=_trust_if(
        '{"ArnLikeIfExists":{"aws:SourceArn":"arn:aws:lambda:*:' + account + ':*"}}'))  # fmt: skip
    await world.function("ours", Role=ours)
    await world.function("if-exists", Role=if_exists)
    for name, role in (("theirs", theirs), ("by-arn", by_arn)):
        refused = await world.fails("CreateFunction", "InvalidParameterValueException",
            FunctionName=name, Runtime="python3.11", Role=role, Handler="app.handler",
            Code={"ZipFile": handler_zip()})  # fmt: skip
        assert refused.message == "The role defined for the function cannot be assumed by Lambda."
    # The execution environment's credentials: issued for the account's trust alone.
    credentials = role_sessions(world.identity)
    assert (await credentials(account, ours, "ours"))["AWS_ACCESS_KEY_ID"]
    assert await credentials(account, theirs, "theirs") == {}
