"""SAML federation end to end (decision 0095): a real ``andromede serve``; the SAML provider
and the role made with boto3; Responses signed by ``xmlsec1``; AssumeRoleWithSAML unsigned with
boto3 and with the aws CLI without credentials; the session at work on S3 (its prefix, not
another); a replay refused; GetAccessKeyInfo."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from e2e.helpers import client_binary, create_bucket, run_cli, unique_bucket
from e2e.iam_helpers import Tenant, client_for, new_tenant
from support.saml import XMLSEC1, IdentityProvider, b64
from support.server import REGION, ServerProcess

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(XMLSEC1 is None, reason="xmlsec1 is not installed"),
]


@pytest.fixture(scope="module")
def idp() -> IdentityProvider:
    return IdentityProvider("https://adfs.example.fr/adfs/services/trust")


def root(server: ServerProcess, tenant: Tenant, service: str) -> Any:
    return client_for(server, service, tenant.access_key_id, tenant.secret_access_key)


def saml_role(server: ServerProcess, tenant: Tenant, idp: IdentityProvider) -> tuple[str, str, str]:
    """(provider ARN, role ARN, bucket): the role trusts the provider for alice's NameID and
    may read ``<bucket>/allowed/*``."""
    iam = root(server, tenant, "iam")
    provider = iam.create_saml_provider(Name="adfs", SAMLMetadataDocument=idp.metadata())[
        "SAMLProviderArn"
    ]
    assert provider == f"arn:aws:iam::{tenant.account}:saml-provider/adfs"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider},
                "Action": "sts:AssumeRoleWithSAML",
                "Condition": {"StringEquals": {"saml:sub": "alice@example.org"}},
            }
        ],
    }
    role = iam.create_role(RoleName="staff", AssumeRolePolicyDocument=json.dumps(trust))
    bucket = unique_bucket()
    s3 = root(server, tenant, "s3")
    create_bucket(s3, bucket)
    s3.put_object(Bucket=bucket, Key="allowed/a", Body=b"yes")
    s3.put_object(Bucket=bucket, Key="denied/b", Body=b"no")
    iam.put_role_policy(
        RoleName="staff",
        PolicyName="read-allowed",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{bucket}/allowed/*",
                    }
                ],
            }
        ),
    )
    return provider, role["Role"]["Arn"], bucket


def unsigned_sts(server: ServerProcess) -> Any:
    return boto3.session.Session(region_name=REGION).client(
        "sts",
        endpoint_url=server.endpoint,
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}),
    )


def test_boto3_assumes_the_role_and_the_session_reads_its_prefix_only(
    server: ServerProcess, idp: IdentityProvider
) -> None:
    tenant = new_tenant(server)
    provider, role, bucket = saml_role(server, tenant, idp)
    saml = b64(idp.response(now=time.time(), roles=[f"{role},{provider}"]))
    sts = unsigned_sts(server)
    answer = sts.assume_role_with_saml(RoleArn=role, PrincipalArn=provider, SAMLAssertion=saml)
    assert answer["AssumedRoleUser"]["Arn"].endswith(":assumed-role/staff/alice")
    assert answer["Subject"] == "alice@example.org"
    assert answer["Issuer"] == idp.entity_id
    credentials = answer["Credentials"]
    s3 = client_for(
        server,
        "s3",
        credentials["AccessKeyId"],
        credentials["SecretAccessKey"],
        credentials["SessionToken"],
    )
    assert s3.get_object(Bucket=bucket, Key="allowed/a")["Body"].read() == b"yes"
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=bucket, Key="denied/b")
    assert caught.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError) as caught:
        sts.assume_role_with_saml(RoleArn=role, PrincipalArn=provider, SAMLAssertion=saml)
    assert caught.value.response["Error"]["Code"] == "InvalidIdentityToken"
    # The account's root asks of the session's key: its own account's.
    info = root(server, tenant, "sts").get_access_key_info(AccessKeyId=credentials["AccessKeyId"])
    assert info["Account"] == tenant.account


def test_the_aws_cli_assumes_the_role_without_credentials(
    server: ServerProcess, idp: IdentityProvider, tmp_path: Path
) -> None:
    tenant = new_tenant(server)
    provider, role, _ = saml_role(server, tenant, idp)
    binary = client_binary("aws", in_venv=True)
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.update(
        HOME=str(tmp_path),
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_DEFAULT_REGION=REGION,
        AWS_PAGER="",
    )
    saml = b64(idp.response(now=time.time(), roles=[f"{provider},{role}"]))
    done = run_cli(
        "aws",
        [
            str(binary),
            "--endpoint-url",
            server.endpoint,
            "--output",
            "json",
            "sts",
            "assume-role-with-saml",
            "--role-arn",
            role,
            "--principal-arn",
            provider,
            "--saml-assertion",
            saml,
        ],
        env,
    )
    answer = json.loads(done.stdout)
    assert answer["AssumedRoleUser"]["Arn"].endswith(":assumed-role/staff/alice")
    assert answer["Credentials"]["AccessKeyId"].startswith("ASIA")


def test_another_tenant_learns_nothing_of_a_key(server: ServerProcess) -> None:
    victim, intruder = new_tenant(server), new_tenant(server)
    sts = root(server, intruder, "sts")
    with pytest.raises(ClientError) as caught:
        sts.get_access_key_info(AccessKeyId=victim.access_key_id)
    assert victim.account not in json.dumps(caught.value.response, default=str)
