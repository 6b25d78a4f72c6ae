"""The Storage Lens configuration calls through the S3 Control app in process (decision
0415): requests serialised and answers parsed by botocore's own model, AWS's errors, IAM on
the configuration's ARN with its tag condition keys, the quota a setting."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.serialize import create_serializer

from andromede.db.database import open_database
from andromede.s3control.app import S3ControlApp
from andromede.settings import Settings
from andromede.storage.batch_jobs import BatchJobStore
from support.s3app import REGION, in_process_client
from support.schema import migrated_sqlite
from unit.s3control.test_object_lambda_calls import World, call, code_of, parsed

_MODEL = botocore.session.get_session().get_service_model("s3control")
_BASE = "/v20180820/storagelens"


def body_of(operation: str, params: dict[str, Any]) -> bytes:
    """The request body botocore's serializer makes of ``params``."""
    request = create_serializer("rest-xml").serialize_to_request(
        {"AccountId": "111111111111", **params}, _MODEL.operation_model(operation)
    )
    body: bytes = request["body"]
    return body


def configuration(config_id: str = "dash", **extra: Any) -> dict[str, Any]:
    return {
        "Id": config_id,
        "AccountLevel": {
            "ActivityMetrics": {"IsEnabled": True},
            "BucketLevel": {
                "ActivityMetrics": {"IsEnabled": True},
                "PrefixLevel": {
                    "StorageMetrics": {
                        "IsEnabled": True,
                        "SelectionCriteria": {
                            "Delimiter": "/",
                            "MaxDepth": 5,
                            "MinStorageBytesPercentage": 1.5,
                        },
                    }
                },
            },
        },
        "Include": {"Buckets": ["arn:aws:s3:::data-bucket"]},
        "DataExport": {
            "S3BucketDestination": {
                "Format": "CSV",
                "OutputSchemaVersion": "V_1",
                "AccountId": "111111111111",
                "Arn": "arn:aws:s3:::reports",
                "Prefix": "lens",
                "Encryption": {"SSES3": {}},
            },
            "CloudWatchMetrics": {"IsEnabled": True},
        },
        "IsEnabled": True,
        **extra,
    }


def put_body(config: dict[str, Any], tags: list[dict[str, str]] | None = None) -> bytes:
    params: dict[str, Any] = {"ConfigId": config["Id"], "StorageLensConfiguration": config}
    if tags is not None:
        params["Tags"] = tags
    return body_of("PutStorageLensConfiguration", params)


@pytest.fixture
async def world(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[World]:
    overrides = getattr(request, "param", {})
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    async with in_process_client(tmp_path) as s3:
        assert s3.identity is not None and s3.objects is not None
        app = S3ControlApp(
            s3.objects,
            s3.identity,
            s3.audit,
            Settings(data_dir=tmp_path, region=REGION, **overrides),
            BatchJobStore(db),
        )
        yield World(s3, app)
    await db.close()


async def test_put_get_list_and_delete(world: World) -> None:
    root = world.s3.credentials
    assert root is not None
    sent = configuration()
    status, body = await call(world, root, "PUT", f"{_BASE}/dash", put_body(sent))
    assert status == 200, body
    status, body = await call(world, root, "GET", f"{_BASE}/dash")
    got = parsed("GetStorageLensConfiguration", status, body)["StorageLensConfiguration"]
    arn = f"arn:aws:s3:{REGION}:{world.account}:storage-lens/dash"
    assert got == {**sent, "StorageLensArn": arn}

    # Put again replaces the document; a second configuration; the listing pages by one.
    replaced = configuration(IsEnabled=False)
    del replaced["DataExport"]
    assert (await call(world, root, "PUT", f"{_BASE}/dash", put_body(replaced)))[0] == 200
    status, body = await call(world, root, "GET", f"{_BASE}/dash")
    got = parsed("GetStorageLensConfiguration", status, body)["StorageLensConfiguration"]
    assert got["IsEnabled"] is False and "DataExport" not in got
    other = configuration("a-first_one")
    assert (await call(world, root, "PUT", f"{_BASE}/a-first_one", put_body(other)))[0] == 200
    world.app.storage_lens._page_max = 1
    status, body = await call(world, root, "GET", _BASE)
    page = parsed("ListStorageLensConfigurations", status, body)
    assert page["StorageLensConfigurationList"] == [
        {
            "Id": "a-first_one",
            "StorageLensArn": f"arn:aws:s3:{REGION}:{world.account}:storage-lens/a-first_one",
            "HomeRegion": REGION,
            "IsEnabled": True,
        }
    ]
    status, body = await call(world, root, "GET", _BASE, query=f"nextToken={page['NextToken']}")
    page = parsed("ListStorageLensConfigurations", status, body)
    assert [c["Id"] for c in page["StorageLensConfigurationList"]] == ["dash"]
    assert page["StorageLensConfigurationList"][0]["IsEnabled"] is False
    assert "NextToken" not in page

    assert (await call(world, root, "DELETE", f"{_BASE}/dash"))[0] == 204
    status, body = await call(world, root, "GET", f"{_BASE}/dash")
    assert (status, code_of(body)) == (404, "NoSuchConfiguration")
    status, body = await call(world, root, "DELETE", f"{_BASE}/dash")
    assert (status, code_of(body)) == (404, "NoSuchConfiguration")
    status, body = await call(world, root, "GET", _BASE, query="nextToken=%21%21")
    assert (status, code_of(body)) == (400, "InvalidRequest")


async def test_tags_set_with_the_configuration_and_by_the_tagging_calls(world: World) -> None:
    root = world.s3.credentials
    assert root is not None
    tags = [{"Key": "team", "Value": "data"}]
    assert (await call(world, root, "PUT", f"{_BASE}/dash", put_body(configuration(), tags)))[
        0
    ] == 200
    status, body = await call(world, root, "GET", f"{_BASE}/dash/tagging")
    assert parsed("GetStorageLensConfigurationTagging", status, body)["Tags"] == tags
    # A replacement without Tags keeps them.
    assert (await call(world, root, "PUT", f"{_BASE}/dash", put_body(configuration())))[0] == 200
    status, body = await call(world, root, "GET", f"{_BASE}/dash/tagging")
    assert parsed("GetStorageLensConfigurationTagging", status, body)["Tags"] == tags

    new = [{"Key": "env", "Value": "prod"}, {"Key": "cost", "Value": ""}]
    tagging = body_of("PutStorageLensConfigurationTagging", {"ConfigId": "dash", "Tags": new})
    assert (await call(world, root, "PUT", f"{_BASE}/dash/tagging", tagging))[0] == 200
    status, body = await call(world, root, "GET", f"{_BASE}/dash/tagging")
    assert parsed("GetStorageLensConfigurationTagging", status, body)["Tags"] == new
    assert (await call(world, root, "DELETE", f"{_BASE}/dash/tagging"))[0] == 204
    status, body = await call(world, root, "GET", f"{_BASE}/dash/tagging")
    assert parsed("GetStorageLensConfigurationTagging", status, body)["Tags"] == []

    bad = body_of(
        "PutStorageLensConfigurationTagging",
        {"ConfigId": "dash", "Tags": [{"Key": "aws:x", "Value": "v"}]},
    )
    status, body = await call(world, root, "PUT", f"{_BASE}/dash/tagging", bad)
    assert (status, code_of(body)) == (400, "InvalidTagError")
    status, body = await call(world, root, "PUT", f"{_BASE}/nobody/tagging", tagging)
    assert (status, code_of(body)) == (404, "NoSuchConfiguration")
    status, body = await call(world, root, "GET", f"{_BASE}/nobody/tagging")
    assert (status, code_of(body)) == (404, "NoSuchConfiguration")


@pytest.mark.parametrize(
    ("config", "path_id", "code"),
    [
        (
            configuration(
                AwsOrg={"Arn": "arn:aws:organizations::111111111111:organization/o-abcdefghij"}
            ),
            "dash",
            "InvalidRequest",
        ),
        (configuration(Exclude={"Regions": ["eu-west-1"]}), "dash", "InvalidRequest"),
        (configuration(), "other", "InvalidRequest"),
        ({**configuration(), "DataExport": {}}, "dash", "InvalidRequest"),
        (
            {
                **configuration(),
                "DataExport": {
                    "S3BucketDestination": {
                        "Format": "CSV",
                        "OutputSchemaVersion": "V_1",
                        "AccountId": "111111111111",
                        "Arn": "arn:aws:s3:::reports/below",
                    }
                },
            },
            "dash",
            "InvalidRequest",
        ),
    ],
)
async def test_the_service_refusals(
    world: World, config: dict[str, Any], path_id: str, code: str
) -> None:
    root = world.s3.credentials
    assert root is not None
    status, body = await call(world, root, "PUT", f"{_BASE}/{path_id}", put_body(config))
    assert (status, code_of(body)) == (400, code), body


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<nope/>",
        b"<PutStorageLensConfigurationRequest/>",
        # A member the model does not have.
        b"<PutStorageLensConfigurationRequest><StorageLensConfiguration><Id>dash</Id>"
        b"<AccountLevel><BucketLevel/></AccountLevel><IsEnabled>true</IsEnabled>"
        b"<Colour>red</Colour></StorageLensConfiguration></PutStorageLensConfigurationRequest>",
        # A required member missing (AccountLevel's BucketLevel).
        b"<PutStorageLensConfigurationRequest><StorageLensConfiguration><Id>dash</Id>"
        b"<AccountLevel/><IsEnabled>true</IsEnabled>"
        b"</StorageLensConfiguration></PutStorageLensConfigurationRequest>",
        # A bad boolean, a MaxDepth out of bounds, an unknown Format.
        b"<PutStorageLensConfigurationRequest><StorageLensConfiguration><Id>dash</Id>"
        b"<AccountLevel><BucketLevel/></AccountLevel><IsEnabled>yes</IsEnabled>"
        b"</StorageLensConfiguration></PutStorageLensConfigurationRequest>",
        b"<PutStorageLensConfigurationRequest><StorageLensConfiguration><Id>dash</Id>"
        b"<AccountLevel><BucketLevel><PrefixLevel><StorageMetrics><SelectionCriteria>"
        b"<MaxDepth>11</MaxDepth></SelectionCriteria></StorageMetrics></PrefixLevel>"
        b"</BucketLevel></AccountLevel><IsEnabled>true</IsEnabled>"
        b"</StorageLensConfiguration></PutStorageLensConfigurationRequest>",
        b"<PutStorageLensConfigurationRequest><StorageLensConfiguration><Id>dash</Id>"
        b"<AccountLevel><BucketLevel/></AccountLevel><DataExport><S3BucketDestination>"
        b"<Format>JSON</Format><OutputSchemaVersion>V_1</OutputSchemaVersion>"
        b"<AccountId>111111111111</AccountId><Arn>arn:aws:s3:::r</Arn></S3BucketDestination>"
        b"</DataExport><IsEnabled>true</IsEnabled>"
        b"</StorageLensConfiguration></PutStorageLensConfigurationRequest>",
    ],
)
async def test_a_document_the_model_refuses_is_malformed(world: World, body: bytes) -> None:
    root = world.s3.credentials
    assert root is not None
    status, answer = await call(world, root, "PUT", f"{_BASE}/dash", body)
    assert (status, code_of(answer)) == (400, "MalformedXML")
    status, answer = await call(world, root, "GET", f"{_BASE}/not%20an%20id")
    assert (status, code_of(answer)) == (400, "InvalidRequest")


async def test_iam_decides_on_the_configurations_arn_and_tags(world: World) -> None:
    root = world.s3.credentials
    assert root is not None and world.s3.identity is not None
    for name in ("dash", "other"):
        assert (await call(world, root, "PUT", f"{_BASE}/{name}", put_body(configuration(name))))[
            0
        ] == 200
    user = await world.s3.iam_user("ops")
    assert user.credentials is not None
    arn = f"arn:aws:s3:{REGION}:{world.account}:storage-lens/dash"
    await world.s3.identity.put_user_policy(
        world.account,
        "ops",
        "p",
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": '
        f'["s3:GetStorageLensConfiguration", "s3:PutStorageLensConfigurationTagging"], '
        f'"Resource": "{arn}"}}, {{"Effect": "Deny", "Action": '
        '"s3:PutStorageLensConfigurationTagging", "Resource": "*", "Condition": '
        '{"ForAnyValue:StringEquals": {"aws:TagKeys": ["owner"]}}}]}',
    )
    ops = user.credentials
    assert (await call(world, ops, "GET", f"{_BASE}/dash"))[0] == 200
    assert (await call(world, ops, "GET", f"{_BASE}/other"))[0] == 403
    assert (await call(world, ops, "DELETE", f"{_BASE}/dash"))[0] == 403
    assert (await call(world, ops, "GET", _BASE))[0] == 403
    allowed = body_of(
        "PutStorageLensConfigurationTagging",
        {"ConfigId": "dash", "Tags": [{"Key": "team", "Value": "x"}]},
    )
    denied = body_of(
        "PutStorageLensConfigurationTagging",
        {"ConfigId": "dash", "Tags": [{"Key": "owner", "Value": "x"}]},
    )
    assert (await call(world, ops, "PUT", f"{_BASE}/dash/tagging", allowed))[0] == 200
    assert (await call(world, ops, "PUT", f"{_BASE}/dash/tagging", denied))[0] == 403
    await world.s3.audit.flush()
    events = [e for _, e in await world.s3.audit_store.list_events(None, after_id=0, limit=50)]
    assert ("s3:GetStorageLensConfiguration", arn) in [(e.action, e.resource) for e in events]


@pytest.mark.parametrize("world", [{"s3_max_storage_lens_configurations": 1}], indirect=True)
async def test_the_quota_is_a_setting(world: World) -> None:
    root = world.s3.credentials
    assert root is not None
    assert (await call(world, root, "PUT", f"{_BASE}/dash", put_body(configuration())))[0] == 200
    # Replacing the one it has is not a new one.
    assert (await call(world, root, "PUT", f"{_BASE}/dash", put_body(configuration())))[0] == 200
    status, body = await call(world, root, "PUT", f"{_BASE}/more", put_body(configuration("more")))
    assert (status, code_of(body)) == (400, "TooManyConfigurations")
    assert (await call(world, root, "DELETE", f"{_BASE}/dash"))[0] == 204
    assert (await call(world, root, "PUT", f"{_BASE}/more", put_body(configuration("more"))))[
        0
    ] == 200
