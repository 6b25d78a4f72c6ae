"""The IAM/STS tenant-isolation recipes: for every action, the parameters that name a victim
tenant's users, groups, roles, policies, keys and devices; and how to build that victim account.
Shared by the in-process matrix (``tests/unit/iamapi/test_isolation.py``) and the end-to-end
suite, which drive them through botocore's serializer and through boto3."""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from support.saml import IdentityProvider

__all__ = [
    "RECIPES",
    "SELF_SERVICE",
    "STS_RECIPES",
    "TRUST_SELF",
    "fill",
    "snapshot_reads",
    "victim_account",
]

ALLOW_S3 = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
)
TRUST_SELF = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "ACCOUNT"}, "Action": "sts:AssumeRole"}
        ],
    }
)
ACCOUNT = "{account}"  # the victim's account id, filled in per test
POLICY_ARN = "arn:aws:iam::{account}:policy/victim-policy"
SERIAL = "arn:aws:iam::{account}:mfa/victim-mfa"
KEY = "{key}"  # the victim user's access key id
OIDC_ARN = "arn:aws:iam::{account}:oidc-provider/idp.victim.example"
SAML_ARN = "arn:aws:iam::{account}:saml-provider/victim-idp"


@functools.cache
def saml_metadata() -> str:
    """A SAML IdP's metadata (one per test process: a key pair is slow to make)."""
    return IdentityProvider("https://idp.victim.example/saml").metadata()


# Filled in where the recipes are used: a SAML metadata document (1,000 characters at least).
METADATA = "{saml-metadata}"
# And a server certificate with its private key (decision 0205).
CERTIFICATE = "{certificate}"
PRIVATE_KEY = "{private-key}"
LINKED_ROLE = "AWSServiceRoleForAutoScaling"
LINKED_TASK = (
    "task/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling/"
    "AROAVICTIMROLE0000000-3f2c1b9e-8d4a-4c6b-9e1f-0a2b3c4d5e6f"
)


@functools.cache
def server_certificate() -> tuple[str, str]:
    """A self-signed certificate valid around now, and its PEM key (one per test process)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "victim.example")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode(), pem.decode()


# action -> the parameters naming the victim's things
RECIPES: dict[str, dict[str, Any]] = {
    "CreateUser": {"UserName": "victim-user"},
    "GetUser": {"UserName": "victim-user"},
    "ListUsers": {},
    "UpdateUser": {"UserName": "victim-user", "NewUserName": "renamed"},
    "DeleteUser": {"UserName": "victim-user"},
    "CreateGroup": {"GroupName": "victim-group"},
    "GetGroup": {"GroupName": "victim-group"},
    "ListGroups": {},
    "DeleteGroup": {"GroupName": "victim-group"},
    "AddUserToGroup": {"GroupName": "victim-group", "UserName": "victim-user"},
    "RemoveUserFromGroup": {"GroupName": "victim-group", "UserName": "victim-user"},
    "ListGroupsForUser": {"UserName": "victim-user"},
    "CreateRole": {"RoleName": "victim-role", "AssumeRolePolicyDocument": TRUST_SELF},
    "GetRole": {"RoleName": "victim-role"},
    "ListRoles": {},
    "UpdateRole": {"RoleName": "victim-role", "Description": "pwned"},
    "UpdateAssumeRolePolicy": {"RoleName": "victim-role", "PolicyDocument": TRUST_SELF},
    "DeleteRole": {"RoleName": "victim-role"},
    "PutRolePolicy": {"RoleName": "victim-role", "PolicyName": "x", "PolicyDocument": ALLOW_S3},
    "GetRolePolicy": {"RoleName": "victim-role", "PolicyName": "inline"},
    "ListRolePolicies": {"RoleName": "victim-role"},
    "DeleteRolePolicy": {"RoleName": "victim-role", "PolicyName": "inline"},
    "AttachRolePolicy": {"RoleName": "victim-role", "PolicyArn": POLICY_ARN},
    "DetachRolePolicy": {"RoleName": "victim-role", "PolicyArn": POLICY_ARN},
    "ListAttachedRolePolicies": {"RoleName": "victim-role"},
    "CreateInstanceProfile": {"InstanceProfileName": "victim-profile"},
    "GetInstanceProfile": {"InstanceProfileName": "victim-profile"},
    "ListInstanceProfiles": {},
    "DeleteInstanceProfile": {"InstanceProfileName": "victim-profile"},
    "AddRoleToInstanceProfile": {
        "InstanceProfileName": "victim-profile",
        "RoleName": "victim-role",
    },
    "RemoveRoleFromInstanceProfile": {
        "InstanceProfileName": "victim-profile",
        "RoleName": "victim-role",
    },
    "ListInstanceProfilesForRole": {"RoleName": "victim-role"},
    "PutUserPolicy": {"UserName": "victim-user", "PolicyName": "x", "PolicyDocument": ALLOW_S3},
    "GetUserPolicy": {"UserName": "victim-user", "PolicyName": "inline"},
    "ListUserPolicies": {"UserName": "victim-user"},
    "DeleteUserPolicy": {"UserName": "victim-user", "PolicyName": "inline"},
    "AttachUserPolicy": {"UserName": "victim-user", "PolicyArn": POLICY_ARN},
    "DetachUserPolicy": {"UserName": "victim-user", "PolicyArn": POLICY_ARN},
    "ListAttachedUserPolicies": {"UserName": "victim-user"},
    "PutGroupPolicy": {"GroupName": "victim-group", "PolicyName": "x", "PolicyDocument": ALLOW_S3},
    "GetGroupPolicy": {"GroupName": "victim-group", "PolicyName": "inline"},
    "ListGroupPolicies": {"GroupName": "victim-group"},
    "DeleteGroupPolicy": {"GroupName": "victim-group", "PolicyName": "inline"},
    "AttachGroupPolicy": {"GroupName": "victim-group", "PolicyArn": POLICY_ARN},
    "DetachGroupPolicy": {"GroupName": "victim-group", "PolicyArn": POLICY_ARN},
    "ListAttachedGroupPolicies": {"GroupName": "victim-group"},
    "CreateAccessKey": {"UserName": "victim-user"},
    "ListAccessKeys": {"UserName": "victim-user"},
    "UpdateAccessKey": {"UserName": "victim-user", "AccessKeyId": KEY, "Status": "Inactive"},
    "DeleteAccessKey": {"UserName": "victim-user", "AccessKeyId": KEY},
    "GetAccessKeyLastUsed": {"AccessKeyId": KEY},
    "CreateLoginProfile": {"UserName": "victim-user", "Password": "Another-Password-99"},
    "GetLoginProfile": {"UserName": "victim-user"},
    "UpdateLoginProfile": {"UserName": "victim-user", "Password": "Another-Password-99"},
    "DeleteLoginProfile": {"UserName": "victim-user"},
    "CreateVirtualMFADevice": {"VirtualMFADeviceName": "victim-mfa"},
    "EnableMFADevice": {
        "UserName": "victim-user",
        "SerialNumber": SERIAL,
        "AuthenticationCode1": "123456",
        "AuthenticationCode2": "234567",
    },
    "ListMFADevices": {"UserName": "victim-user"},
    "ListVirtualMFADevices": {},
    "DeactivateMFADevice": {"UserName": "victim-user", "SerialNumber": SERIAL},
    "DeleteVirtualMFADevice": {"SerialNumber": SERIAL},
    "GetAccountSummary": {},
    # The account's governance calls (decision 0193): another tenant only reaches its own.
    "GenerateCredentialReport": {},
    "GetCredentialReport": {},
    "GetAccountAuthorizationDetails": {},
    "SimulatePrincipalPolicy": {
        "PolicySourceArn": "arn:aws:iam::{account}:user/victim-user",
        "ActionNames": ["s3:GetObject"],
    },
    "SimulateCustomPolicy": {
        "PolicyInputList": [ALLOW_S3],
        "ActionNames": ["s3:GetObject"],
        "CallerArn": "arn:aws:iam::{account}:user/victim-user",
    },
    "GetContextKeysForPrincipalPolicy": {
        "PolicySourceArn": "arn:aws:iam::{account}:user/victim-user"
    },
    "GetContextKeysForCustomPolicy": {"PolicyInputList": [ALLOW_S3]},
    "GenerateServiceLastAccessedDetails": {"Arn": "arn:aws:iam::{account}:user/victim-user"},
    "GetServiceLastAccessedDetails": {"JobId": "7f3c1a52-9d4e-4b8a-a2f1-0c6e5d4b3a29"},
    "CreatePolicy": {"PolicyName": "victim-policy", "PolicyDocument": ALLOW_S3},
    "GetPolicy": {"PolicyArn": POLICY_ARN},
    "ListPolicies": {},
    "DeletePolicy": {"PolicyArn": POLICY_ARN},
    "CreatePolicyVersion": {"PolicyArn": POLICY_ARN, "PolicyDocument": ALLOW_S3},
    "GetPolicyVersion": {"PolicyArn": POLICY_ARN, "VersionId": "v1"},
    "ListPolicyVersions": {"PolicyArn": POLICY_ARN},
    "DeletePolicyVersion": {"PolicyArn": POLICY_ARN, "VersionId": "v1"},
    "SetDefaultPolicyVersion": {"PolicyArn": POLICY_ARN, "VersionId": "v1"},
    "ListEntitiesForPolicy": {"PolicyArn": POLICY_ARN},
    "PutUserPermissionsBoundary": {"UserName": "victim-user", "PermissionsBoundary": POLICY_ARN},
    "DeleteUserPermissionsBoundary": {"UserName": "victim-user"},
    "PutRolePermissionsBoundary": {"RoleName": "victim-role", "PermissionsBoundary": POLICY_ARN},
    "DeleteRolePermissionsBoundary": {"RoleName": "victim-role"},
    "TagUser": {"UserName": "victim-user", "Tags": [{"Key": "owner", "Value": "intruder"}]},
    "UntagUser": {"UserName": "victim-user", "TagKeys": ["team"]},
    "ListUserTags": {"UserName": "victim-user"},
    "TagRole": {"RoleName": "victim-role", "Tags": [{"Key": "owner", "Value": "intruder"}]},
    "UntagRole": {"RoleName": "victim-role", "TagKeys": ["team"]},
    "ListRoleTags": {"RoleName": "victim-role"},
    "TagPolicy": {"PolicyArn": POLICY_ARN, "Tags": [{"Key": "owner", "Value": "intruder"}]},
    "UntagPolicy": {"PolicyArn": POLICY_ARN, "TagKeys": ["team"]},
    "ListPolicyTags": {"PolicyArn": POLICY_ARN},
    "TagInstanceProfile": {
        "InstanceProfileName": "victim-profile",
        "Tags": [{"Key": "owner", "Value": "intruder"}],
    },
    "UntagInstanceProfile": {"InstanceProfileName": "victim-profile", "TagKeys": ["team"]},
    "ListInstanceProfileTags": {"InstanceProfileName": "victim-profile"},
    "TagMFADevice": {"SerialNumber": SERIAL, "Tags": [{"Key": "owner", "Value": "intruder"}]},
    "UntagMFADevice": {"SerialNumber": SERIAL, "TagKeys": ["team"]},
    "ListMFADeviceTags": {"SerialNumber": SERIAL},
    "CreateOpenIDConnectProvider": {
        "Url": "https://idp.victim.example",
        "ClientIDList": ["intruder-client"],
    },
    "GetOpenIDConnectProvider": {"OpenIDConnectProviderArn": OIDC_ARN},
    "ListOpenIDConnectProviders": {},
    "DeleteOpenIDConnectProvider": {"OpenIDConnectProviderArn": OIDC_ARN},
    "AddClientIDToOpenIDConnectProvider": {
        "OpenIDConnectProviderArn": OIDC_ARN,
        "ClientID": "intruder-client",
    },
    "RemoveClientIDFromOpenIDConnectProvider": {
        "OpenIDConnectProviderArn": OIDC_ARN,
        "ClientID": "victim-client",
    },
    "UpdateOpenIDConnectProviderThumbprint": {
        "OpenIDConnectProviderArn": OIDC_ARN,
        "ThumbprintList": ["0" * 40],
    },
    "TagOpenIDConnectProvider": {
        "OpenIDConnectProviderArn": OIDC_ARN,
        "Tags": [{"Key": "owner", "Value": "intruder"}],
    },
    "UntagOpenIDConnectProvider": {"OpenIDConnectProviderArn": OIDC_ARN, "TagKeys": ["team"]},
    "ListOpenIDConnectProviderTags": {"OpenIDConnectProviderArn": OIDC_ARN},
    "CreateSAMLProvider": {"Name": "victim-idp", "SAMLMetadataDocument": METADATA},
    "GetSAMLProvider": {"SAMLProviderArn": SAML_ARN},
    "ListSAMLProviders": {},
    "UpdateSAMLProvider": {"SAMLProviderArn": SAML_ARN, "SAMLMetadataDocument": METADATA},
    "DeleteSAMLProvider": {"SAMLProviderArn": SAML_ARN},
    "TagSAMLProvider": {"SAMLProviderArn": SAML_ARN, "Tags": [{"Key": "owner", "Value": "x"}]},
    "UntagSAMLProvider": {"SAMLProviderArn": SAML_ARN, "TagKeys": ["team"]},
    "ListSAMLProviderTags": {"SAMLProviderArn": SAML_ARN},
    "UploadServerCertificate": {
        "ServerCertificateName": "victim-cert",
        "CertificateBody": CERTIFICATE,
        "PrivateKey": PRIVATE_KEY,
    },
    "GetServerCertificate": {"ServerCertificateName": "victim-cert"},
    "ListServerCertificates": {},
    "UpdateServerCertificate": {
        "ServerCertificateName": "victim-cert",
        "NewServerCertificateName": "renamed",
    },
    "DeleteServerCertificate": {"ServerCertificateName": "victim-cert"},
    "TagServerCertificate": {
        "ServerCertificateName": "victim-cert",
        "Tags": [{"Key": "owner", "Value": "intruder"}],
    },
    "UntagServerCertificate": {"ServerCertificateName": "victim-cert", "TagKeys": ["team"]},
    "ListServerCertificateTags": {"ServerCertificateName": "victim-cert"},
    # Service-linked roles (decision 0208): the victim has Auto Scaling's.
    "CreateServiceLinkedRole": {
        "AWSServiceName": "autoscaling.amazonaws.com",
        "CustomSuffix": "intruder",
    },
    "DeleteServiceLinkedRole": {"RoleName": LINKED_ROLE},
    "GetServiceLinkedRoleDeletionStatus": {"DeletionTaskId": LINKED_TASK},
}
STS_RECIPES: dict[str, dict[str, Any]] = {
    "AssumeRole": {
        "RoleArn": "arn:aws:iam::{account}:role/victim-role",
        "RoleSessionName": "intruder",
    },
    "GetSessionToken": {},
    # The federated user is always of the caller's own account: no parameter names another.
    "GetFederationToken": {"Name": "intruder"},
    "GetCallerIdentity": {},
    # Unsigned; the token is no provider's of the victim (see test_web_identity_federation.py
    # for one of another tenant's provider, which must be refused too).
    "AssumeRoleWithWebIdentity": {
        "RoleArn": "arn:aws:iam::{account}:role/victim-role",
        "RoleSessionName": "intruder",
        "WebIdentityToken": "not-a-token",
    },
    # Unsigned; no assertion of the victim's IdP (see test_saml_federation.py for one of
    # another tenant's provider, which must be refused too).
    "AssumeRoleWithSAML": {
        "RoleArn": "arn:aws:iam::{account}:role/victim-role",
        "PrincipalArn": SAML_ARN,
        "SAMLAssertion": "bm90LWFuLWFzc2VydGlvbg==",
    },
    # The victim's key: its account is never told to another tenant (decision 0095).
    "GetAccessKeyInfo": {"AccessKeyId": KEY},
}
# STS actions any authenticated caller may make about itself (AWS: no permission needed).
SELF_SERVICE = {"GetSessionToken", "GetCallerIdentity"}


def fill(params: dict[str, Any], account: str, key: str) -> dict[str, Any]:
    return {
        name: value.replace("{account}", account)
        .replace("{key}", key)
        .replace('"ACCOUNT"', f'"{account}"')
        .replace(METADATA, saml_metadata())
        .replace(CERTIFICATE, server_certificate()[0])
        .replace(PRIVATE_KEY, server_certificate()[1])
        if isinstance(value, str)
        else value
        for name, value in params.items()
    }


Call = Callable[..., Awaitable[dict[str, Any]]]


async def victim_account(call: Call, account: str) -> dict[str, str]:
    """The victim's account with one of everything, made through ``call(action, **params)``
    (its root's IAM client); returns the ids an intruder must never see."""
    user = (await call("CreateUser", UserName="victim-user"))["User"]
    key = (await call("CreateAccessKey", UserName="victim-user"))["AccessKey"]
    group = (await call("CreateGroup", GroupName="victim-group"))["Group"]
    await call("AddUserToGroup", GroupName="victim-group", UserName="victim-user")
    trust = TRUST_SELF.replace("ACCOUNT", account)
    role = (await call("CreateRole", RoleName="victim-role", AssumeRolePolicyDocument=trust))[
        "Role"
    ]
    policy = (await call("CreatePolicy", PolicyName="victim-policy", PolicyDocument=ALLOW_S3))[
        "Policy"
    ]
    await call("AttachUserPolicy", UserName="victim-user", PolicyArn=policy["Arn"])
    for kind, name in (("User", "victim-user"), ("Group", "victim-group"), ("Role", "victim-role")):
        await call(
            f"Put{kind}Policy",
            **{f"{kind}Name": name},
            PolicyName="inline",
            PolicyDocument=ALLOW_S3,
        )
    profile = (await call("CreateInstanceProfile", InstanceProfileName="victim-profile"))[
        "InstanceProfile"
    ]
    await call(
        "AddRoleToInstanceProfile", InstanceProfileName="victim-profile", RoleName="victim-role"
    )
    team = [{"Key": "team", "Value": "victim"}]
    await call("TagUser", UserName="victim-user", Tags=team)
    await call("TagRole", RoleName="victim-role", Tags=team)
    await call("TagPolicy", PolicyArn=policy["Arn"], Tags=team)
    await call("TagInstanceProfile", InstanceProfileName="victim-profile", Tags=team)
    await call("CreateVirtualMFADevice", VirtualMFADeviceName="victim-mfa", Tags=team)
    await call("CreateLoginProfile", UserName="victim-user", Password="Victim-Password-42")
    await call(
        "CreateOpenIDConnectProvider",
        Url="https://idp.victim.example",
        ClientIDList=["victim-client"],
        ThumbprintList=["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"],
        Tags=team,
    )
    await call(
        "CreateSAMLProvider", Name="victim-idp", SAMLMetadataDocument=saml_metadata(), Tags=team
    )
    body, private_key = server_certificate()
    await call(
        "UploadServerCertificate",
        ServerCertificateName="victim-cert",
        CertificateBody=body,
        PrivateKey=private_key,
        Tags=team,
    )
    await call("CreateServiceLinkedRole", AWSServiceName="autoscaling.amazonaws.com")
    return {
        "account": account,
        "key": key["AccessKeyId"],
        "user_id": user["UserId"],
        "group_id": group["GroupId"],
        "role_id": role["RoleId"],
        "policy_id": policy["PolicyId"],
        "profile_id": profile["InstanceProfileId"],
    }


def snapshot_reads(account: str) -> list[tuple[str, dict[str, Any]]]:
    """The reads that show everything an intruder could change in the victim's account."""
    arn = f"arn:aws:iam::{account}:policy/victim-policy"
    return [
        ("ListUsers", {}),
        ("GetUser", {"UserName": "victim-user"}),
        ("ListAccessKeys", {"UserName": "victim-user"}),
        ("ListGroups", {}),
        ("GetGroup", {"GroupName": "victim-group"}),
        ("ListRoles", {}),
        ("GetRole", {"RoleName": "victim-role"}),
        ("ListInstanceProfiles", {}),
        ("ListPolicies", {}),
        ("ListPolicyVersions", {"PolicyArn": arn}),
        ("ListEntitiesForPolicy", {"PolicyArn": arn}),
        ("ListUserPolicies", {"UserName": "victim-user"}),
        ("ListGroupPolicies", {"GroupName": "victim-group"}),
        ("ListRolePolicies", {"RoleName": "victim-role"}),
        ("GetUserPolicy", {"UserName": "victim-user", "PolicyName": "inline"}),
        ("ListVirtualMFADevices", {}),
        ("GetLoginProfile", {"UserName": "victim-user"}),
        ("GetAccountSummary", {}),
        ("ListOpenIDConnectProviders", {}),
        (
            "GetOpenIDConnectProvider",
            {"OpenIDConnectProviderArn": OIDC_ARN.replace("{account}", account)},
        ),
        ("ListSAMLProviders", {}),
        ("GetSAMLProvider", {"SAMLProviderArn": SAML_ARN.replace("{account}", account)}),
        ("ListServerCertificates", {}),
        ("GetServerCertificate", {"ServerCertificateName": "victim-cert"}),
        ("GetRole", {"RoleName": LINKED_ROLE}),
    ]
