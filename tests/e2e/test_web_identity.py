"""Web identity federation end to end (decision 0087): a real local HTTPS identity provider
(a trustme certificate, its discovery document and JWKS, tokens signed with a key the test
makes), a real ``andromede serve`` trusting the IdP's CA through ``oidc_ca_bundle``; the provider
and the role made with boto3; AssumeRoleWithWebIdentity unsigned with boto3, through boto3's own
web-identity credential flow (``AWS_ROLE_ARN`` + ``AWS_WEB_IDENTITY_TOKEN_FILE``, as Kubernetes
IRSA sets them) and with the aws CLI without credentials; the session at work on S3."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import trustme
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from e2e.helpers import client_binary, create_bucket, run_cli, unique_bucket
from e2e.iam_helpers import Tenant, client_for, new_tenant
from support.oidc import IdentityProvider, https_idp, write_ca
from support.server import REGION, ServerProcess, running_server

pytestmark = pytest.mark.e2e

SUB = "repo:acme/site:ref:refs/heads/main"
OIDC_TIMEOUT = 2.0


@pytest.fixture(scope="module")
def idp_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def idp(idp_ca: trustme.CA) -> Iterator[IdentityProvider]:
    with https_idp(idp_ca, path="/realms/ops") as served:
        yield served


@pytest.fixture(scope="module")
def oidc_server(
    tmp_path_factory: pytest.TempPathFactory, idp_ca: trustme.CA
) -> Iterator[ServerProcess]:
    """A server of its own: it trusts the IdP's CA, and gives an IdP two seconds."""
    base = tmp_path_factory.mktemp("oidc")
    bundle = write_ca(idp_ca, base / "idp-ca.pem")
    env = {
        "ANDROMEDE_OIDC_CA_BUNDLE": str(bundle),
        "ANDROMEDE_OIDC_TIMEOUT": str(OIDC_TIMEOUT),
        # The test's IdP listens on loopback, an internal address a tenant's provider may not
        # make the gateway reach unless the operator allows it (decision 0087).
        "ANDROMEDE_OIDC_ALLOWED_NETWORKS": json.dumps(["127.0.0.0/8"]),
    }
    with running_server(base / "data", extra_env=env) as process:
        yield process


@pytest.fixture
def tenant(oidc_server: ServerProcess) -> Tenant:
    return new_tenant(oidc_server)


def root(server: ServerProcess, tenant: Tenant, service: str) -> Any:
    return client_for(server, service, tenant.access_key_id, tenant.secret_access_key)


def unsigned_sts(server: ServerProcess) -> Any:
    return boto3.session.Session(region_name=REGION).client(
        "sts",
        endpoint_url=server.endpoint,
        # One attempt: botocore retries IDPCommunicationError (its STS special case), and
        # "max_attempts" counts retries, so a timed-out IdP would be waited for twice.
        config=Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1}),
    )


def trust(provider_arn: str, url: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": provider_arn},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "StringEquals": {f"{url}:aud": "sts.amazonaws.com", f"{url}:sub": SUB},
                    },
                }
            ],
        }
    )


def federated_role(server: ServerProcess, tenant: Tenant, idp: IdentityProvider) -> str:
    """The tenant's provider of ``idp``, and a role "deploy" trusting it for ``SUB`` that may
    read ``<bucket>/allowed/*``; returns the bucket (with allowed/a and denied/b in it)."""
    iam = root(server, tenant, "iam")
    provider = iam.create_open_id_connect_provider(
        Url=idp.issuer, ClientIDList=["sts.amazonaws.com"]
    )["OpenIDConnectProviderArn"]
    assert provider == f"arn:aws:iam::{tenant.account}:oidc-provider/{idp.url}"
    iam.create_role(RoleName="deploy", AssumeRolePolicyDocument=trust(provider, idp.url))
    bucket = unique_bucket()
    s3 = root(server, tenant, "s3")
    create_bucket(s3, bucket)
    s3.put_object(Bucket=bucket, Key="allowed/a", Body=b"yes")
    s3.put_object(Bucket=bucket, Key="denied/b", Body=b"no")
    iam.put_role_policy(
        RoleName="deploy",
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
    return bucket


def role_arn(tenant: Tenant) -> str:
    return f"arn:aws:iam::{tenant.account}:role/deploy"


def test_boto3_assumes_a_role_with_a_token_and_uses_it_on_s3(
    oidc_server: ServerProcess, tenant: Tenant, idp: IdentityProvider
) -> None:
    bucket = federated_role(oidc_server, tenant, idp)
    answer = unsigned_sts(oidc_server).assume_role_with_web_identity(
        RoleArn=role_arn(tenant), RoleSessionName="ci-42", WebIdentityToken=idp.token(sub=SUB)
    )
    session_arn = f"arn:aws:sts::{tenant.account}:assumed-role/deploy/ci-42"
    assert answer["AssumedRoleUser"]["Arn"] == session_arn
    assert answer["SubjectFromWebIdentityToken"] == SUB
    assert (answer["Provider"], answer["Audience"]) == (idp.url, "sts.amazonaws.com")
    credentials = answer["Credentials"]
    s3 = client_for(
        oidc_server,
        "s3",
        credentials["AccessKeyId"],
        credentials["SecretAccessKey"],
        credentials["SessionToken"],
    )
    assert s3.get_object(Bucket=bucket, Key="allowed/a")["Body"].read() == b"yes"
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=bucket, Key="denied/b")
    assert caught.value.response["Error"]["Code"] == "AccessDenied"


def test_a_wrong_subject_is_refused_by_the_trust_policy(
    oidc_server: ServerProcess, tenant: Tenant, idp: IdentityProvider
) -> None:
    federated_role(oidc_server, tenant, idp)
    with pytest.raises(ClientError) as caught:
        unsigned_sts(oidc_server).assume_role_with_web_identity(
            RoleArn=role_arn(tenant),
            RoleSessionName="ci-42",
            WebIdentityToken=idp.token(sub="repo:acme/site:pull_request"),
        )
    response = caught.value.response
    assert (response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]) == (
        403,
        "AccessDenied",
    )
    assert response["ResponseMetadata"]["RequestId"]


def test_boto3s_own_web_identity_flow(
    oidc_server: ServerProcess, tenant: Tenant, idp: IdentityProvider, tmp_path: Path
) -> None:
    """What a pod with IRSA does: no keys, a role ARN and a token file in the environment."""
    bucket = federated_role(oidc_server, tenant, idp)
    token_file = tmp_path / "token"
    token_file.write_text(idp.token(sub=SUB))
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.update(
        HOME=str(tmp_path),
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_DEFAULT_REGION=REGION,
        AWS_ENDPOINT_URL=oidc_server.endpoint,
        AWS_ROLE_ARN=role_arn(tenant),
        AWS_WEB_IDENTITY_TOKEN_FILE=str(token_file),
        AWS_ROLE_SESSION_NAME="irsa-pod",
    )
    script = (
        "import boto3, botocore.config, sys\n"
        "c = botocore.config.Config(s3={'addressing_style': 'path'})\n"
        "print(boto3.client('sts').get_caller_identity()['Arn'])\n"
        f"print(boto3.client('s3', config=c).get_object(Bucket='{bucket}', Key='allowed/a')"
        "['Body'].read().decode())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        f"arn:aws:sts::{tenant.account}:assumed-role/deploy/irsa-pod",
        "yes",
    ]


def test_the_aws_cli_assumes_the_role_without_credentials(
    oidc_server: ServerProcess, tenant: Tenant, idp: IdentityProvider, tmp_path: Path
) -> None:
    federated_role(oidc_server, tenant, idp)
    binary = client_binary("aws", in_venv=True)
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.update(
        HOME=str(tmp_path),
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_DEFAULT_REGION=REGION,
        AWS_PAGER="",
    )
    argv = [str(binary), "--endpoint-url", oidc_server.endpoint, "--output", "json"]
    done = run_cli(
        "aws",
        [
            *argv,
            "sts",
            "assume-role-with-web-identity",
            "--role-arn",
            role_arn(tenant),
            "--role-session-name",
            "cli-run",
            "--web-identity-token",
            idp.token(sub=SUB),
        ],
        env,
    )
    answer = json.loads(done.stdout)
    assert answer["AssumedRoleUser"]["Arn"].endswith(":assumed-role/deploy/cli-run")
    assert answer["Credentials"]["AccessKeyId"].startswith("ASIA")


def test_an_idp_that_does_not_answer_is_a_communication_error_within_the_timeout(
    oidc_server: ServerProcess, tenant: Tenant, idp: IdentityProvider
) -> None:
    # A port that accepts connections (the kernel's backlog) and never says a word.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        issuer = IdentityProvider(f"https://127.0.0.1:{silent.getsockname()[1]}")
        issuer.keys = idp.keys
        iam = root(oidc_server, tenant, "iam")
        provider = iam.create_open_id_connect_provider(
            Url=issuer.issuer, ClientIDList=["sts.amazonaws.com"]
        )["OpenIDConnectProviderArn"]
        iam.create_role(RoleName="deploy", AssumeRolePolicyDocument=trust(provider, issuer.url))
        started = time.monotonic()
        with pytest.raises(ClientError) as caught:
            unsigned_sts(oidc_server).assume_role_with_web_identity(
                RoleArn=role_arn(tenant),
                RoleSessionName="ci-42",
                WebIdentityToken=issuer.token(sub=SUB),
            )
        elapsed = time.monotonic() - started
    finally:
        silent.close()
    assert caught.value.response["Error"]["Code"] == "IDPCommunicationError"
    assert OIDC_TIMEOUT * 0.9 <= elapsed < OIDC_TIMEOUT + 3


def test_providers_through_boto3_and_other_unsigned_sts_calls_refused(
    oidc_server: ServerProcess, tenant: Tenant, idp: IdentityProvider
) -> None:
    iam = root(oidc_server, tenant, "iam")
    arn = iam.create_open_id_connect_provider(
        Url=idp.issuer,
        ClientIDList=["sts.amazonaws.com"],
        Tags=[{"Key": "team", "Value": "ops"}],
    )["OpenIDConnectProviderArn"]
    with pytest.raises(ClientError) as caught:
        iam.create_open_id_connect_provider(Url=idp.issuer, ClientIDList=["x"])
    assert caught.value.response["Error"]["Code"] == "EntityAlreadyExists"
    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="cli")
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert (got["Url"], got["ClientIDList"]) == (idp.url, ["sts.amazonaws.com", "cli"])
    listed = iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    assert [entry["Arn"] for entry in listed] == [arn]
    tags = iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn)["Tags"]
    assert tags == [{"Key": "team", "Value": "ops"}]
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert iam.list_open_id_connect_providers()["OpenIDConnectProviderList"] == []
    with pytest.raises(ClientError) as refused:
        unsigned_sts(oidc_server).get_caller_identity()
    assert refused.value.response["Error"]["Code"] == "MissingAuthenticationToken"


def test_the_tokens_tags_and_source_identity_shape_the_session(
    oidc_server: ServerProcess, tenant: Tenant, idp: IdentityProvider
) -> None:
    """Decision 0089: the IdP's ``https://aws.amazon.com/tags`` claim gives the session its
    ``aws:PrincipalTag/team``, and its source identity claim the session's source identity;
    the trust policy allows ``sts:TagSession`` and ``sts:SetSourceIdentity`` too."""
    iam = root(oidc_server, tenant, "iam")
    provider = iam.create_open_id_connect_provider(
        Url=idp.issuer, ClientIDList=["sts.amazonaws.com"]
    )["OpenIDConnectProviderArn"]
    statement = {
        "Effect": "Allow",
        "Principal": {"Federated": provider},
        "Action": [
            "sts:AssumeRoleWithWebIdentity",
            "sts:TagSession",
            "sts:SetSourceIdentity",
        ],
        "Condition": {"StringEquals": {f"{idp.url}:sub": SUB}},
    }
    iam.create_role(
        RoleName="teams",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )
    bucket = unique_bucket("teams")
    s3 = root(oidc_server, tenant, "s3")
    create_bucket(s3, bucket)
    s3.put_object(Bucket=bucket, Key="blue/a", Body=b"blue")
    s3.put_object(Bucket=bucket, Key="red/b", Body=b"red")
    iam.put_role_policy(
        RoleName="teams",
        PolicyName="own-team",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{bucket}/${{aws:PrincipalTag/team}}/*",
                        "Condition": {"StringEquals": {"aws:SourceIdentity": "alice"}},
                    }
                ],
            }
        ),
    )
    token = idp.token(
        sub=SUB,
        **{
            "https://aws.amazon.com/tags": {
                "principal_tags": {"team": ["blue"]},
                "transitive_tag_keys": ["team"],
            },
            "https://aws.amazon.com/source_identity": "alice",
        },
    )
    answer = unsigned_sts(oidc_server).assume_role_with_web_identity(
        RoleArn=f"arn:aws:iam::{tenant.account}:role/teams",
        RoleSessionName="ci-42",
        WebIdentityToken=token,
    )
    assert answer["SourceIdentity"] == "alice"
    assert 0 < answer["PackedPolicySize"] < 100
    credentials = answer["Credentials"]
    session_s3 = client_for(
        oidc_server,
        "s3",
        credentials["AccessKeyId"],
        credentials["SecretAccessKey"],
        credentials["SessionToken"],
    )
    assert session_s3.get_object(Bucket=bucket, Key="blue/a")["Body"].read() == b"blue"
    with pytest.raises(ClientError) as caught:
        session_s3.get_object(Bucket=bucket, Key="red/b")
    assert caught.value.response["Error"]["Code"] == "AccessDenied"
    malformed = idp.token(
        sub=SUB, **{"https://aws.amazon.com/tags": {"principal_tags": {"team": "blue"}}}
    )
    with pytest.raises(ClientError) as caught:
        unsigned_sts(oidc_server).assume_role_with_web_identity(
            RoleArn=f"arn:aws:iam::{tenant.account}:role/teams",
            RoleSessionName="ci-42",
            WebIdentityToken=malformed,
        )
    assert caught.value.response["Error"]["Code"] == "InvalidIdentityToken"
