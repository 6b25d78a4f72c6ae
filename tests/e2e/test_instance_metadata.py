"""Instance profiles and the metadata service end to end.

boto3's ``iam`` client manages instance profiles on a real ``andromede serve``. Then the
metadata server runs in this process, over the server's own database (as the operator command
line does), with a directory in which this test's loopback address is an instance launched with
the profile: botocore's own IMDS client (``InstanceMetadataFetcher`` behind the credential chain,
``InstanceMetadataRegionFetcher``) gets a token, the region and the role's credentials from it,
and those credentials then work on the real server's S3 — within the role's policy only.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import botocore.session
import pytest
import uvicorn
from botocore.config import Config
from botocore.credentials import CredentialResolver, InstanceMetadataProvider
from botocore.exceptions import ClientError
from botocore.utils import InstanceMetadataFetcher, InstanceMetadataRegionFetcher

from andromede.app import open_identity
from andromede.imds.app import ImdsLimits, create_metadata_app
from andromede.imds.instances import InstanceMetadata
from andromede.settings import load_settings
from e2e.helpers import create_bucket, unique_bucket
from e2e.iam_helpers import Tenant, client_for, new_tenant
from support.server import REGION, ServerProcess, free_port

pytestmark = pytest.mark.e2e

INSTANCE_ID = "i-0e2e0000000000001"


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


EC2_TRUST = policy(
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
)


def error(caught: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


@pytest.fixture
def tenant(server: ServerProcess) -> Tenant:
    return new_tenant(server)


@pytest.fixture
def iam(server: ServerProcess, tenant: Tenant) -> Any:
    return client_for(server, "iam", tenant.access_key_id, tenant.secret_access_key)


def test_instance_profile_lifecycle(iam: Any, tenant: Tenant) -> None:
    created = iam.create_instance_profile(InstanceProfileName="web", Path="/apps/")
    profile = created["InstanceProfile"]
    assert profile["Arn"] == f"arn:aws:iam::{tenant.account}:instance-profile/apps/web"
    assert profile["InstanceProfileId"].startswith("AIPA") and profile["Roles"] == []
    with pytest.raises(ClientError) as caught:
        iam.create_instance_profile(InstanceProfileName="WEB")
    assert error(caught) == (409, "EntityAlreadyExists")
    iam.create_role(RoleName="reader", AssumeRolePolicyDocument=EC2_TRUST)
    iam.create_role(RoleName="writer", AssumeRolePolicyDocument=EC2_TRUST)
    iam.add_role_to_instance_profile(InstanceProfileName="web", RoleName="reader")
    with pytest.raises(ClientError) as caught:
        iam.add_role_to_instance_profile(InstanceProfileName="web", RoleName="writer")
    assert error(caught) == (409, "LimitExceeded")
    got = iam.get_instance_profile(InstanceProfileName="web")["InstanceProfile"]
    assert [role["RoleName"] for role in got["Roles"]] == ["reader"]
    assert got["Roles"][0]["AssumeRolePolicyDocument"] == json.loads(EC2_TRUST)
    for name in ("b", "a"):
        iam.create_instance_profile(InstanceProfileName=name)
    pages = list(
        iam.get_paginator("list_instance_profiles").paginate(PaginationConfig={"PageSize": 2})
    )
    names = [p["InstanceProfileName"] for page in pages for p in page["InstanceProfiles"]]
    assert names == ["a", "b", "web"] and len(pages) == 2
    for_role = iam.list_instance_profiles_for_role(RoleName="reader")["InstanceProfiles"]
    assert [p["InstanceProfileName"] for p in for_role] == ["web"]
    with pytest.raises(ClientError) as caught:
        iam.delete_role(RoleName="reader")
    assert error(caught) == (409, "DeleteConflict")
    with pytest.raises(ClientError) as caught:
        iam.delete_instance_profile(InstanceProfileName="web")
    assert error(caught) == (409, "DeleteConflict")
    with pytest.raises(ClientError) as caught:
        iam.remove_role_from_instance_profile(InstanceProfileName="web", RoleName="writer")
    assert error(caught) == (404, "NoSuchEntity")
    iam.remove_role_from_instance_profile(InstanceProfileName="web", RoleName="reader")
    iam.delete_instance_profile(InstanceProfileName="web")
    iam.delete_role(RoleName="reader")
    with pytest.raises(ClientError) as caught:
        iam.get_instance_profile(InstanceProfileName="web")
    assert error(caught) == (404, "NoSuchEntity")


def test_putting_a_role_in_a_profile_needs_pass_role(
    server: ServerProcess, iam: Any, tenant: Tenant
) -> None:
    iam.create_role(RoleName="admin", AssumeRolePolicyDocument=EC2_TRUST)
    iam.create_instance_profile(InstanceProfileName="web")
    manage_profiles = {"Effect": "Allow", "Action": "iam:*InstanceProfile*", "Resource": "*"}
    pass_role = {
        "Effect": "Allow",
        "Action": "iam:PassRole",
        "Resource": f"arn:aws:iam::{tenant.account}:role/admin",
    }
    clients = {}
    for name, statements in (("dev", [manage_profiles]), ("ops", [manage_profiles, pass_role])):
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy(*statements))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        clients[name] = client_for(server, "iam", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as caught:
        clients["dev"].add_role_to_instance_profile(InstanceProfileName="web", RoleName="admin")
    assert error(caught) == (403, "AccessDenied")
    assert "iam:PassRole" in caught.value.response["Error"]["Message"]
    clients["ops"].add_role_to_instance_profile(InstanceProfileName="web", RoleName="admin")


@dataclass
class OneInstance:
    """The metadata service's directory: this process's loopback address is the instance."""

    instance: InstanceMetadata

    async def by_address(self, address: str) -> InstanceMetadata | None:
        return self.instance if address == "127.0.0.1" else None


@pytest.fixture
async def metadata_endpoint(server: ServerProcess, tenant: Tenant) -> AsyncIterator[str]:
    instance = InstanceMetadata(
        instance_id=INSTANCE_ID,
        account_id=tenant.account,
        instance_type="t3.micro",
        image_id="ami-0e2e0000000000001",
        region=REGION,
        availability_zone=f"{REGION}a",
        private_ip="10.0.0.7",
        mac="02:00:0a:00:00:07",
        launched_at=datetime.now(UTC),
        local_hostname="ip-10-0-0-7.internal",
        instance_profile=f"arn:aws:iam::{tenant.account}:instance-profile/app",
    )
    settings = load_settings(None, data_dir=server.data_dir)
    async with open_identity(settings) as identity:
        app = create_metadata_app(
            OneInstance(instance), identity, ImdsLimits.from_settings(settings)
        )
        port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", ws="none", lifespan="on"
        )
        metadata_server = uvicorn.Server(config)
        serving = asyncio.create_task(metadata_server.serve())
        while not metadata_server.started:
            await asyncio.sleep(0.01)
        try:
            yield f"http://127.0.0.1:{port}/"
        finally:
            metadata_server.should_exit = True
            await serving


def instance_session(endpoint: str) -> boto3.session.Session:
    """A boto3 session whose only credential source is the metadata service, as on an EC2
    instance with nothing configured."""
    fetcher = InstanceMetadataFetcher(timeout=5, num_attempts=1, base_url=endpoint)
    core = botocore.session.Session()
    core.register_component(
        "credential_provider", CredentialResolver([InstanceMetadataProvider(fetcher)])
    )
    region = InstanceMetadataRegionFetcher(timeout=5, base_url=endpoint).retrieve_region()
    assert region == REGION
    return boto3.session.Session(botocore_session=core, region_name=region)


async def test_botocore_gets_role_credentials_from_imds_and_they_work_on_s3(
    server: ServerProcess, tenant: Tenant, iam: Any, metadata_endpoint: str
) -> None:
    own, other = unique_bucket(), unique_bucket()
    s3_root = client_for(server, "s3", tenant.access_key_id, tenant.secret_access_key)
    for name in (own, other):
        create_bucket(s3_root, name)
    iam.create_role(RoleName="app-role", AssumeRolePolicyDocument=EC2_TRUST)
    one_bucket = policy(
        {
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:GetObject", "s3:ListBucket"],
            "Resource": [f"arn:aws:s3:::{own}", f"arn:aws:s3:::{own}/*"],
        }
    )
    iam.put_role_policy(RoleName="app-role", PolicyName="bucket", PolicyDocument=one_bucket)
    iam.create_instance_profile(InstanceProfileName="app")
    iam.add_role_to_instance_profile(InstanceProfileName="app", RoleName="app-role")

    def inside_the_instance() -> None:
        session = instance_session(metadata_endpoint)
        credentials = session.get_credentials()
        assert credentials is not None and credentials.method == "iam-role"
        assert credentials.access_key.startswith("ASIA")
        config = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1})
        s3 = session.client("s3", endpoint_url=server.endpoint, config=config)
        s3.put_object(Bucket=own, Key="from-the-vm.txt", Body=b"no stored keys")
        body = s3.get_object(Bucket=own, Key="from-the-vm.txt")["Body"].read()
        assert body == b"no stored keys"
        with pytest.raises(ClientError) as caught:
            s3.put_object(Bucket=other, Key="x", Body=b"x")
        assert error(caught) == (403, "AccessDenied")
        sts = session.client("sts", endpoint_url=server.endpoint)
        arn = sts.get_caller_identity()["Arn"]
        assert arn == f"arn:aws:sts::{tenant.account}:assumed-role/app-role/{INSTANCE_ID}"

    await asyncio.to_thread(inside_the_instance)


async def test_a_role_that_does_not_trust_ec2_gives_the_instance_nothing(
    server: ServerProcess, iam: Any, tenant: Tenant, metadata_endpoint: str
) -> None:
    trust_the_account = policy(
        {"Effect": "Allow", "Principal": {"AWS": tenant.account}, "Action": "sts:AssumeRole"}
    )
    iam.create_role(RoleName="app-role", AssumeRolePolicyDocument=trust_the_account)
    iam.create_instance_profile(InstanceProfileName="app")
    iam.add_role_to_instance_profile(InstanceProfileName="app", RoleName="app-role")

    def inside_the_instance() -> None:
        fetcher = InstanceMetadataFetcher(timeout=5, num_attempts=1, base_url=metadata_endpoint)
        assert fetcher.retrieve_iam_role_credentials() == {}

    await asyncio.to_thread(inside_the_instance)
