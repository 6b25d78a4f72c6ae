"""Decision 0302's layers through botocore's ``lambda`` model in process: publishing (numbers
from 1, never reused), reading (``Content.Location`` serving the zip, by name or ARN),
listing with filters and pages, deleting, the version's policy (another account reads and
uses a layer only while it is shared), functions' ``Layers`` (the bound, the combined
unzipped size, versions pinning them) and their audit."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from andromede.functions.layer_model import FunctionLayer
from support.lambdaapp import World, lambda_world


def layer_zip(files: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in (files or {"python/helper.py": "VALUE = 1\n"}).items():
            archive.writestr(name, text)
    return buffer.getvalue()


async def publish(world: World, name: str = "libs", **params: object) -> dict[str, object]:
    return await world.client(
        "PublishLayerVersion",
        LayerName=name,
        Content=params.pop("Content", {"ZipFile": layer_zip()}),
        **params,
    )


async def download(world: World, location: str) -> tuple[int, bytes]:
    url = urlsplit(location)
    reply = await world.raw("GET", url.path, query=url.query)
    return reply.status, reply.body


async def test_publish_get_and_content_location(world: World) -> None:
    data = layer_zip()
    first = await publish(
        world,
        Content={"ZipFile": data},
        Description="helpers",
        CompatibleRuntimes=["python3.11", "python3.12"],
        CompatibleArchitectures=["x86_64"],
        LicenseInfo="MIT",
    )
    arn = f"arn:aws:lambda:eu-fr-1:{world.tenant_id}:layer:libs"
    assert first["LayerArn"] == arn and first["LayerVersionArn"] == f"{arn}:1"
    assert first["Version"] == 1 and first["Description"] == "helpers"
    assert first["CompatibleRuntimes"] == ["python3.11", "python3.12"]
    assert first["CompatibleArchitectures"] == ["x86_64"] and first["LicenseInfo"] == "MIT"
    content = first["Content"]
    assert isinstance(content, dict)
    assert content["CodeSha256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert content["CodeSize"] == len(data)
    assert await download(world, content["Location"]) == (200, data)
    # The token is bound to its version: moved to another, it opens nothing.
    moved = content["Location"].replace("/versions/1/", "/versions/2/")
    assert (await download(world, moved))[0] == 403
    second = await publish(world)
    assert second["Version"] == 2
    got = await world.client("GetLayerVersion", LayerName="libs", VersionNumber=1)
    assert got["LayerVersionArn"] == f"{arn}:1" and got["Description"] == "helpers"
    by_arn = await world.client("GetLayerVersionByArn", Arn=f"{arn}:2")
    assert by_arn["Version"] == 2 and by_arn["LayerArn"] == arn
    by_layer_arn = await world.client("GetLayerVersion", LayerName=arn, VersionNumber=2)
    assert by_layer_arn["Version"] == 2
    await world.fails("GetLayerVersion", "ResourceNotFoundException",
        LayerName="libs", VersionNumber=9)  # fmt: skip
    await world.fails("GetLayerVersionByArn", "InvalidParameterValueException",
        Arn=f"{arn}")  # fmt: skip


async def test_bad_content_and_parameters_get_aws_errors(world: World) -> None:
    await world.fails("PublishLayerVersion", "InvalidParameterValueException",
        LayerName="bad", Content={"ZipFile": b"not a zip"})  # fmt: skip
    await world.fails("PublishLayerVersion", "InvalidParameterValueException",
        LayerName="bad", Content={})  # fmt: skip
    await world.fails("PublishLayerVersion", "InvalidParameterValueException",
        LayerName="bad", Content={"ZipFile": layer_zip()},
        CompatibleRuntimes=["cobol85"])  # fmt: skip
    reply = await world.raw("POST", "/2018-10-31/layers/bad%20name/versions", b"{}")
    assert reply.status == 400 and reply.headers["x-amzn-errortype"].startswith("InvalidParam")


async def test_numbers_are_never_reused_and_delete_is_idempotent(world: World) -> None:
    await publish(world)
    await publish(world)
    await world.client("DeleteLayerVersion", LayerName="libs", VersionNumber=2)
    await world.client("DeleteLayerVersion", LayerName="libs", VersionNumber=2)
    await world.fails("GetLayerVersion", "ResourceNotFoundException",
        LayerName="libs", VersionNumber=2)  # fmt: skip
    assert (await publish(world))["Version"] == 3
    listed = await world.client("ListLayerVersions", LayerName="libs")
    assert [v["Version"] for v in listed["LayerVersions"]] == [3, 1]
    # The live versions' archives count in the account's code storage, as AWS's.
    usage = (await world.client("GetAccountSettings"))["AccountUsage"]
    assert usage["TotalCodeSize"] == 2 * len(layer_zip())


async def test_lists_filter_and_page(world: World) -> None:
    await publish(world, "alpha", CompatibleRuntimes=["python3.11"])
    await publish(world, "alpha", CompatibleRuntimes=["python3.12"])
    await publish(world, "beta", CompatibleRuntimes=["python3.11"],
        CompatibleArchitectures=["arm64"])  # fmt: skip
    await publish(world, "gamma")
    every = await world.client("ListLayers")
    assert [layer["LayerName"] for layer in every["Layers"]] == ["alpha", "beta", "gamma"]
    assert every["Layers"][0]["LatestMatchingVersion"]["Version"] == 2
    py311 = await world.client("ListLayers", CompatibleRuntime="python3.11")
    assert [(x["LayerName"], x["LatestMatchingVersion"]["Version"]) for x in py311["Layers"]] == [
        ("alpha", 1),
        ("beta", 1),
    ]
    arm = await world.client("ListLayers", CompatibleArchitecture="arm64")
    assert [x["LayerName"] for x in arm["Layers"]] == ["beta"]
    page = await world.client("ListLayers", MaxItems=2)
    assert len(page["Layers"]) == 2 and page["NextMarker"]
    rest = await world.client("ListLayers", Marker=page["NextMarker"])
    assert [x["LayerName"] for x in rest["Layers"]] == ["gamma"] and "NextMarker" not in rest
    versions = await world.client("ListLayerVersions", LayerName="alpha", MaxItems=1)
    assert [v["Version"] for v in versions["LayerVersions"]] == [2]
    older = await world.client(
        "ListLayerVersions", LayerName="alpha", Marker=versions["NextMarker"]
    )
    assert [v["Version"] for v in older["LayerVersions"]] == [1]
    filtered = await world.client(
        "ListLayerVersions", LayerName="alpha", CompatibleRuntime="python3.12"
    )
    assert [v["Version"] for v in filtered["LayerVersions"]] == [2]
    await world.fails("ListLayers", "InvalidParameterValueException", MaxItems=51)


async def test_layer_policy_shares_a_version_with_another_account(world: World) -> None:
    made = await publish(world)
    arn = str(made["LayerVersionArn"])
    other = await world.other_tenant("partner")
    await other.fails("GetLayerVersionByArn", "AccessDeniedException", Arn=arn)
    await world.fails("GetLayerVersionPolicy", "ResourceNotFoundException",
        LayerName="libs", VersionNumber=1)  # fmt: skip
    await world.fails("AddLayerVersionPermission", "InvalidParameterValueException",
        LayerName="libs", VersionNumber=1, StatementId="x", Action="lambda:InvokeFunction",
        Principal=other.tenant_id)  # fmt: skip
    await world.fails("AddLayerVersionPermission", "InvalidParameterValueException",
        LayerName="libs", VersionNumber=1, StatementId="x", Action="lambda:GetLayerVersion",
        Principal=other.tenant_id, OrganizationId="o-abc123")  # fmt: skip
    added = await world.client(
        "AddLayerVersionPermission", LayerName="libs", VersionNumber=1, StatementId="partner",
        Action="lambda:GetLayerVersion", Principal=other.tenant_id,
    )  # fmt: skip
    statement = json.loads(added["Statement"])
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{other.tenant_id}:root"}
    assert statement["Resource"] == arn and statement["Action"] == "lambda:GetLayerVersion"
    await world.fails("AddLayerVersionPermission", "PreconditionFailedException",
        LayerName="libs", VersionNumber=1, StatementId="again", Action="lambda:GetLayerVersion",
        Principal="*", RevisionId="stale")  # fmt: skip
    await world.fails("AddLayerVersionPermission", "ResourceConflictException",
        LayerName="libs", VersionNumber=1, StatementId="partner", Action="lambda:GetLayerVersion",
        Principal="*")  # fmt: skip
    policy = await world.client("GetLayerVersionPolicy", LayerName="libs", VersionNumber=1)
    assert policy["RevisionId"] == added["RevisionId"]
    assert [s["Sid"] for s in json.loads(policy["Policy"])["Statement"]] == ["partner"]
    shared = await other.client("GetLayerVersionByArn", Arn=arn)
    assert shared["Version"] == 1
    status, body = await download(other, shared["Content"]["Location"])
    assert status == 200 and zipfile.is_zipfile(io.BytesIO(body))
    # Another account reads, never changes: its policy, its deletion are the owner's.
    await other.fails("DeleteLayerVersion", "AccessDeniedException",
        LayerName=arn.rsplit(":", 1)[0], VersionNumber=1)  # fmt: skip
    await other.fails("GetLayerVersionPolicy", "AccessDeniedException",
        LayerName=arn.rsplit(":", 1)[0], VersionNumber=1)  # fmt: skip
    # A function of the other account uses the shared layer.
    role = await other.role()
    used = await other.function("consumer", Role=role, Layers=[arn])
    assert used["Layers"] == [{"Arn": arn, "CodeSize": made["Content"]["CodeSize"]}]
    await world.fails("RemoveLayerVersionPermission", "PreconditionFailedException",
        LayerName="libs", VersionNumber=1, StatementId="partner", RevisionId="stale")  # fmt: skip
    await world.client(
        "RemoveLayerVersionPermission", LayerName="libs", VersionNumber=1, StatementId="partner"
    )
    await other.fails("GetLayerVersionByArn", "AccessDeniedException", Arn=arn)
    await other.fails("CreateFunction", "AccessDeniedException", FunctionName="late",
        Runtime="python3.11", Role=role, Handler="app.handler",
        Code={"ZipFile": layer_zip({"app.py": "def handler(e, c): return 1\n"})},
        Layers=[arn])  # fmt: skip
    # The function made while it was shared keeps it, as AWS's do.
    kept = await other.client("GetFunctionConfiguration", FunctionName="consumer")
    assert kept["Layers"][0]["Arn"] == arn
    # Shared with an organisation: no principal of this platform belongs to one yet.
    org = await world.client(
        "AddLayerVersionPermission", LayerName="libs", VersionNumber=1, StatementId="org",
        Action="lambda:GetLayerVersion", Principal="*", OrganizationId="o-abc123",
    )  # fmt: skip
    assert json.loads(org["Statement"])["Condition"] == {
        "StringEquals": {"aws:PrincipalOrgID": "o-abc123"}
    }
    await other.fails("GetLayerVersionByArn", "AccessDeniedException", Arn=arn)
    # Principal "*" shares with every account.
    await world.client(
        "AddLayerVersionPermission", LayerName="libs", VersionNumber=1, StatementId="all",
        Action="lambda:GetLayerVersion", Principal="*",
    )  # fmt: skip
    assert (await other.client("GetLayerVersionByArn", Arn=arn))["Version"] == 1


async def test_a_user_needs_get_layer_version_to_use_a_layer(world: World) -> None:
    made = await publish(world)
    user = await world.iam_user("dev")
    await world.identity.put_user_policy(
        world.tenant_id, "dev", "fn", json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["lambda:CreateFunction", "iam:PassRole"],
             "Resource": "*"}]}),
    )  # fmt: skip
    role = await world.role("dev-fn")
    await user.fails("CreateFunction", "AccessDeniedException", FunctionName="f",
        Runtime="python3.11", Role=role, Handler="app.handler",
        Code={"ZipFile": layer_zip({"app.py": "x = 1\n"})},
        Layers=[made["LayerVersionArn"]])  # fmt: skip
    made_fn = await user.client("CreateFunction", FunctionName="f", Runtime="python3.11",
        Role=role, Handler="app.handler",
        Code={"ZipFile": layer_zip({"app.py": "x = 1\n"})})  # fmt: skip
    assert "Layers" not in made_fn


async def test_functions_layers_bound_sizes_and_versions(tmp_path: Path) -> None:
    async for world in lambda_world(tmp_path, lambda_max_unzipped_bytes=4096):
        small = await publish(world, "small")
        arn = str(small["LayerVersionArn"])
        big = await publish(world, "big", Content={"ZipFile": layer_zip({"blob": "x" * 4070})})
        made = await world.function("fn", Layers=[arn])
        assert made["Layers"] == [{"Arn": arn, "CodeSize": small["Content"]["CodeSize"]}]
        error = await world.fails("UpdateFunctionConfiguration", "InvalidParameterValueException",
            FunctionName="fn", Layers=[arn, str(big["LayerVersionArn"])])  # fmt: skip
        assert "exceeds the maximum allowed size of 4096 bytes" in error.message
        await world.fails("UpdateFunctionConfiguration", "InvalidParameterValueException",
            FunctionName="fn", Layers=[arn.rsplit(":", 1)[0] + ":7"])  # fmt: skip
        await world.fails("UpdateFunctionConfiguration", "InvalidParameterValueException",
            FunctionName="fn", Layers=[arn, arn])  # fmt: skip
        await world.fails("UpdateFunctionConfiguration", "InvalidParameterValueException",
            FunctionName="fn",
            Layers=[arn.replace("eu-fr-1", "eu-de-1")])  # fmt: skip
        # Within the bound alone, beyond it with the layer (32 + 4060 + 10 > 4096).
        grown = layer_zip({"app.py": "def handler(e, c):\n    return 1\n" + "#" * 4060})
        error = await world.fails("UpdateFunctionCode", "InvalidParameterValueException",
            FunctionName="fn", ZipFile=grown)  # fmt: skip
        assert "Function code combined with layers" in error.message
        published = await world.client("PublishVersion", FunctionName="fn")
        assert published["Layers"][0]["Arn"] == arn
        cleared = await world.client("UpdateFunctionConfiguration", FunctionName="fn", Layers=[])
        assert "Layers" not in cleared
        # Version 1 pins the layer; $LATEST has none now, so a new version is made.
        pinned = await world.client("GetFunctionConfiguration", FunctionName="fn", Qualifier="1")
        assert pinned["Layers"][0]["Arn"] == arn
        assert (await world.client("PublishVersion", FunctionName="fn"))["Version"] == "2"


async def test_the_bound_on_a_functions_layers_is_a_setting(tmp_path: Path) -> None:
    async for world in lambda_world(tmp_path, lambda_max_function_layers=2):
        arns = [str((await publish(world, f"l{i}"))["LayerVersionArn"]) for i in range(3)]
        assert (await world.function("two", Layers=arns[:2]))["Layers"]
        await world.fails("CreateFunction", "InvalidParameterValueException", FunctionName="three",
            Runtime="python3.11", Role=await world.role("r3"), Handler="app.handler",
            Code={"ZipFile": layer_zip({"app.py": "x = 1\n"})}, Layers=arns)  # fmt: skip


async def test_layer_calls_are_audited(world: World) -> None:
    made = await publish(world)
    await world.client("GetLayerVersion", LayerName="libs", VersionNumber=1)
    await world.client("DeleteLayerVersion", LayerName="libs", VersionNumber=1)
    await world.audit.flush()
    listed = await world.audit_store.list_events(None, after_id=0, limit=500)
    records = [(e.action, e.resource) for _, e in listed]
    arn = made["LayerVersionArn"]
    assert ("lambda:PublishLayerVersion", arn) in records
    assert ("lambda:GetLayerVersion", arn) in records
    assert ("lambda:DeleteLayerVersion", arn) in records


async def test_a_deleted_layer_still_serves_the_functions_using_it(world: World) -> None:
    made = await publish(world)
    arn = str(made["LayerVersionArn"])
    await world.function("fn", Layers=[arn])
    await world.client("DeleteLayerVersion", LayerName="libs", VersionNumber=1)
    version = await world.store.version(world.tenant_id, "fn", "$LATEST")
    assert version is not None and world.layers is not None
    assert version.layers == (FunctionLayer(arn, made["Content"]["CodeSize"], 10),)
    opened = await world.layers.contents(version.layers)
    assert zipfile.ZipFile(io.BytesIO(opened[0])).read("python/helper.py") == b"VALUE = 1\n"
    # A new function may no longer be given it.
    await world.fails("UpdateFunctionConfiguration", "InvalidParameterValueException",
        FunctionName="fn", Layers=[arn])  # fmt: skip


RUNS_LAYERS = """
import json, os, sys
import helper, shared

def handler(event, context):
    try:
        open("/opt/python/written.txt", "w")
        writable = True
    except OSError:
        writable = False
    return {"helper": helper.VALUE, "shared": shared.WHO, "pythonpath": os.environ["PYTHONPATH"],
            "opt_writable": writable, "task_first": sys.path[0]}
"""


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
async def test_a_function_runs_with_its_layers_merged_at_opt(world: World) -> None:
    first = await publish(world, "first", Content={"ZipFile": layer_zip({
        "python/lib/python3.11/site-packages/helper.py": "VALUE = 'site-packages'\n",
        "python/shared.py": "WHO = 'first'\n",
    })})  # fmt: skip
    second = await publish(world, "second", Content={"ZipFile": layer_zip({
        "python/shared.py": "WHO = 'second'\n",
    })})  # fmt: skip
    await world.function(
        "uses",
        Code={"ZipFile": layer_zip({"app.py": RUNS_LAYERS})},
        Layers=[first["LayerVersionArn"], second["LayerVersionArn"]],
    )
    done = await world.client("Invoke", FunctionName="uses", Payload=b"{}")
    answer = json.loads(done["Payload"].read())
    assert "FunctionError" not in done, answer
    assert answer["helper"] == "site-packages" and answer["shared"] == "second"
    assert answer["pythonpath"] == ("/opt/python/lib/python3.11/site-packages:/opt/python")
    assert answer["opt_writable"] is False and answer["task_first"] == "/var/task"
    # The layers' files are removed with the sandbox, as the function's code.
    await world.pool.close()
    assert not [p for p in world.pool.work_dir.iterdir() if p.name.startswith("andromede-lambda-")]


async def test_layers_count_in_the_accounts_code_storage(tmp_path: Path) -> None:
    size = len(layer_zip())
    async for world in lambda_world(tmp_path, lambda_code_storage_bytes=2 * size + 1):
        await publish(world)
        await publish(world)
        await world.fails("PublishLayerVersion", "CodeStorageExceededException",
            LayerName="libs", Content={"ZipFile": layer_zip()})  # fmt: skip
        await world.client("DeleteLayerVersion", LayerName="libs", VersionNumber=2)
        assert (await publish(world))["Version"] == 3


async def test_a_layer_of_another_region_is_refused(world: World) -> None:
    made = await publish(world)
    elsewhere = str(made["LayerVersionArn"]).replace(":eu-fr-1:", ":eu-de-1:")
    await world.fails("GetLayerVersionByArn", "InvalidParameterValueException", Arn=elsewhere)
    await world.fails("GetLayerVersion", "InvalidParameterValueException",
        LayerName=elsewhere.rsplit(":", 1)[0], VersionNumber=1)  # fmt: skip
    await world.fails("GetLayerVersion", "InvalidParameterValueException",
        LayerName="libs", VersionNumber=0)  # fmt: skip
