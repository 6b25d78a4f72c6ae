"""IAM SAML providers and STS AssumeRoleWithSAML in process (decision 0095), through
botocore's serializer and parser: CRUD and IAM's errors; unsigned calls with assertions signed
by xmlsec1; the trust policy's ``saml:`` keys; the Role attribute's pair; a replay; another
tenant's provider; session tags and source identity; AWS's answer; the audit record; and
GetAccessKeyInfo."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.credentials import Credentials

from support.queryapp import ApiError, Client, World
from support.saml import ATTRIBUTE, XMLSEC1, IdentityProvider, b64

pytestmark = pytest.mark.skipif(XMLSEC1 is None, reason="xmlsec1 is not installed")

SUBJECT = "alice@example.org"


@pytest.fixture(scope="module")
def idp() -> IdentityProvider:
    return IdentityProvider()


def trust(provider_arn: str, **conditions: str) -> str:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Federated": provider_arn},
        "Action": "sts:AssumeRoleWithSAML",
    }
    if conditions:
        statement["Condition"] = {
            "StringEquals": {f"saml:{key}": value for key, value in conditions.items()}
        }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


async def setup_role(
    root: Client, idp: IdentityProvider, *, name: str = "dev", **conditions: str
) -> tuple[str, str]:
    created = await root.call(
        "iam", "CreateSAMLProvider", Name="corp", SAMLMetadataDocument=idp.metadata()
    )
    arn = created["SAMLProviderArn"]
    role = await root.call(
        "iam",
        "CreateRole",
        RoleName=name,
        AssumeRolePolicyDocument=trust(arn, **conditions),
    )
    return arn, role["Role"]["Arn"]


def assertion(world: World, idp: IdentityProvider, role: str, provider: str, **kw: Any) -> str:
    return b64(idp.response(now=world.clock.now, roles=[f"{role},{provider}"], **kw))


async def assume(
    world: World, role: str, provider: str, saml: str, **params: Any
) -> dict[str, Any]:
    return await world.client(None).call(
        "sts",
        "AssumeRoleWithSAML",
        RoleArn=role,
        PrincipalArn=provider,
        SAMLAssertion=saml,
        **params,
    )


async def refused(world: World, role: str, provider: str, saml: str, **params: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        await assume(world, role, provider, saml, **params)
    return caught.value


async def test_saml_provider_crud_as_iam_answers_it(
    world: World, root: Client, idp: IdentityProvider
) -> None:
    metadata = idp.metadata()
    created = await root.call(
        "iam",
        "CreateSAMLProvider",
        Name="corp",
        SAMLMetadataDocument=metadata,
        Tags=[{"Key": "team", "Value": "ops"}],
    )
    arn = created["SAMLProviderArn"]
    assert arn == f"arn:aws:iam::{world.tenant_id}:saml-provider/corp"
    got = await root.call("iam", "GetSAMLProvider", SAMLProviderArn=arn)
    assert got["SAMLMetadataDocument"] == metadata
    assert got["Tags"] == [{"Key": "team", "Value": "ops"}]
    assert len(got["SAMLProviderUUID"]) >= 22
    assert got["CreateDate"]
    listed = await root.call("iam", "ListSAMLProviders")
    assert [p["Arn"] for p in listed["SAMLProviderList"]] == [arn]
    rotated = idp.metadata(idp.key, idp.new_key())
    updated = await root.call(
        "iam", "UpdateSAMLProvider", SAMLProviderArn=arn, SAMLMetadataDocument=rotated
    )
    assert updated["SAMLProviderArn"] == arn
    got = await root.call("iam", "GetSAMLProvider", SAMLProviderArn=arn)
    assert got["SAMLMetadataDocument"] == rotated
    await root.call(
        "iam", "TagSAMLProvider", SAMLProviderArn=arn, Tags=[{"Key": "a", "Value": "b"}]
    )
    await root.call("iam", "UntagSAMLProvider", SAMLProviderArn=arn, TagKeys=["team"])
    tags = await root.call("iam", "ListSAMLProviderTags", SAMLProviderArn=arn)
    assert tags["Tags"] == [{"Key": "a", "Value": "b"}]
    with pytest.raises(ApiError) as caught:
        await root.call("iam", "CreateSAMLProvider", Name="corp", SAMLMetadataDocument=metadata)
    assert caught.value.code == "EntityAlreadyExists"
    await root.call("iam", "DeleteSAMLProvider", SAMLProviderArn=arn)
    with pytest.raises(ApiError) as caught:
        await root.call("iam", "GetSAMLProvider", SAMLProviderArn=arn)
    assert (caught.value.status, caught.value.code) == (404, "NoSuchEntity")


@pytest.mark.parametrize(
    "extra",
    [
        {"AssertionEncryptionMode": "Required"},
        {"AddPrivateKey": "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----"},
    ],
)
async def test_encrypted_assertions_are_refused_not_dropped(
    root: Client, idp: IdentityProvider, extra: dict[str, str]
) -> None:
    with pytest.raises(ApiError) as caught:
        await root.call(
            "iam", "CreateSAMLProvider", Name="corp", SAMLMetadataDocument=idp.metadata(), **extra
        )
    assert caught.value.code == "InvalidParameterValue"
    assert (await root.call("iam", "ListSAMLProviders"))["SAMLProviderList"] == []


async def test_bad_metadata_and_names_are_invalid_input(
    root: Client, idp: IdentityProvider
) -> None:
    for name, metadata in (
        ("corp", idp.metadata().replace('use="signing"', 'use="encryption"')),
        ("bad name!", idp.metadata()),
    ):
        with pytest.raises(ApiError) as caught:
            await root.call("iam", "CreateSAMLProvider", Name=name, SAMLMetadataDocument=metadata)
        assert caught.value.code in ("InvalidInput", "ValidationError")


async def test_a_trusted_assertion_gets_the_roles_credentials_as_aws_answers_them(
    world: World, root: Client, idp: IdentityProvider
) -> None:
    provider, role = await setup_role(root, idp, sub=SUBJECT)
    answer = await assume(world, role, provider, assertion(world, idp, role, provider))
    session = f"arn:aws:sts::{world.tenant_id}:assumed-role/dev/alice"
    assert answer["AssumedRoleUser"]["Arn"] == session
    assert answer["Subject"] == SUBJECT
    assert answer["SubjectType"] == "persistent"
    assert answer["Issuer"] == idp.entity_id
    assert answer["Audience"] == "https://signin.aws.amazon.com/saml"
    assert len(answer["NameQualifier"]) == 28
    credentials = answer["Credentials"]
    lasts = credentials["Expiration"].timestamp() - world.clock.now
    assert 3500 < lasts <= 3600
    acting = world.client(
        Credentials(credentials["AccessKeyId"], credentials["SecretAccessKey"]),
        credentials["SessionToken"],
    )
    assert (await acting.call("sts", "GetCallerIdentity"))["Arn"] == session


async def test_the_trust_policy_decides_on_the_saml_keys(
    world: World, root: Client, idp: IdentityProvider
) -> None:
    provider, role = await setup_role(root, idp, sub="bob@example.org")
    denied = await refused(world, role, provider, assertion(world, idp, role, provider))
    assert (denied.status, denied.code) == (403, "AccessDenied")
    assert SUBJECT not in denied.message
    await root.call(
        "iam",
        "UpdateAssumeRolePolicy",
        RoleName="dev",
        PolicyDocument=trust(provider, aud="https://signin.aws.amazon.com/saml"),
    )
    assert await assume(world, role, provider, assertion(world, idp, role, provider))


async def test_the_role_attribute_must_hold_the_pair(
    world: World, root: Client, idp: IdentityProvider
) -> None:
    provider, role = await setup_role(root, idp)
    other_role = role.replace("/dev", "/admin")
    saml = assertion(world, idp, other_role, provider)
    assert (await refused(world, role, provider, saml)).code == "AccessDenied"
    # AWS takes the pair in either order
    reversed_pair = b64(idp.response(now=world.clock.now, roles=[f"{provider},{role}"]))
    assert await assume(world, role, provider, reversed_pair)


async def test_an_assertion_is_taken_once(
    world: World, root: Client, idp: IdentityProvider
) -> None:
    provider, role = await setup_role(root, idp)
    saml = assertion(world, idp, role, provider)
    assert await assume(world, role, provider, saml)
    replayed = await refused(world, role, provider, saml)
    assert replayed.code == "InvalidIdentityToken"
    assert "already been used" in replayed.message


async def test_errors_are_stss_codes(world: World, root: Client, idp: IdentityProvider) -> None:
    provider, role = await setup_role(root, idp)
    expired = b64(
        idp.response(now=world.clock.now - 3600, roles=[f"{role},{provider}"], lifetime=300)
    )
    assert (await refused(world, role, provider, expired)).code == "ExpiredTokenException"
    forged = b64(idp.response(now=world.clock.now, roles=[f"{role},{provider}"], sign="none"))
    assert (await refused(world, role, provider, forged)).code == "InvalidIdentityToken"
    empty = assertion(world, idp, role, provider, subject="")
    assert (await refused(world, role, provider, empty)).code == "IDPRejectedClaim"
    saml = assertion(world, idp, role, provider)
    bad = await refused(world, role, provider, saml, Policy="{not json")
    assert bad.code == "MalformedPolicyDocument"
    large = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::b{i}/*"}
                for i in range(40)
            ],
        }
    )
    too_large = await refused(
        world, role, provider, assertion(world, idp, role, provider), Policy=large
    )
    assert too_large.code in ("PackedPolicyTooLarge", "ValidationError")


async def test_another_tenants_provider_never_opens_a_role(
    world: World, root: Client, idp: IdentityProvider
) -> None:
    """The intruder registers the same IdP in its own account; the victim's role trusts its
    own provider. Neither the intruder's provider ARN nor the victim's with the intruder's
    registration opens it."""
    _, role = await setup_role(root, idp)
    _, intruder_credentials = await world.new_tenant("intruder")
    intruder = world.client(intruder_credentials)
    theirs = (
        await intruder.call(
            "iam", "CreateSAMLProvider", Name="corp", SAMLMetadataDocument=idp.metadata()
        )
    )["SAMLProviderArn"]
    saml = assertion(world, idp, role, theirs)
    assert (await refused(world, role, theirs, saml)).code == "AccessDenied"


async def test_session_tags_and_source_identity_need_their_actions(
    world: World, root: Client, idp: IdentityProvider
) -> None:
    provider, role = await setup_role(root, idp)
    attributes = {
        ATTRIBUTE + "PrincipalTag:team": ["ops"],
        ATTRIBUTE + "SourceIdentity": ["alice"],
    }
    saml = assertion(world, idp, role, provider, attributes=attributes)
    assert (await refused(world, role, provider, saml)).code == "AccessDenied"
    document = json.loads(trust(provider))
    document["Statement"][0]["Action"] = [
        "sts:AssumeRoleWithSAML",
        "sts:TagSession",
        "sts:SetSourceIdentity",
    ]
    await root.call(
        "iam", "UpdateAssumeRolePolicy", RoleName="dev", PolicyDocument=json.dumps(document)
    )
    saml = assertion(world, idp, role, provider, attributes=attributes)
    answer = await assume(world, role, provider, saml)
    assert answer["SourceIdentity"] == "alice"


async def test_session_duration_caps_the_session(
    world: World, root: Client, idp: IdentityProvider
) -> None:
    provider, role = await setup_role(root, idp)
    saml = assertion(
        world, idp, role, provider, attributes={ATTRIBUTE + "SessionDuration": ["900"]}
    )
    answer = await assume(world, role, provider, saml, DurationSeconds=3600)
    assert answer["Credentials"]["Expiration"].timestamp() - world.clock.now <= 900


async def test_the_audit_record_names_the_provider_and_subject_never_the_assertion(
    world: World, root: Client, idp: IdentityProvider
) -> None:
    provider, role = await setup_role(root, idp)
    saml = assertion(world, idp, role, provider)
    await assume(world, role, provider, saml)
    await world.audit.flush()
    records = [
        e
        for _, e in await world.audit_store.list_events(None, after_id=0, limit=100)
        if e.action == "sts:AssumeRoleWithSAML"
    ]
    assert len(records) == 1
    assert records[0].principal == provider
    assert records[0].tenant_id == world.tenant_id
    assert records[0].details["subject"] == SUBJECT
    assert saml[:40] not in json.dumps(records[0].details)


async def test_get_access_key_info_tells_only_of_the_callers_own_keys(
    world: World, root: Client
) -> None:
    own = await root.call("sts", "GetAccessKeyInfo", AccessKeyId=world.root.access_key)
    assert own["Account"] == world.tenant_id
    _, intruder_credentials = await world.new_tenant("intruder")
    intruder = world.client(intruder_credentials)
    answers = []
    for key in (world.root.access_key, "AKIA" + "Z" * 16):
        with pytest.raises(ApiError) as caught:
            await intruder.call("sts", "GetAccessKeyInfo", AccessKeyId=key)
        answers.append((caught.value.status, caught.value.code))
        assert world.tenant_id not in caught.value.message
    assert answers[0] == answers[1]  # another tenant's key and none at all: one answer
