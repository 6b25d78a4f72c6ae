"""IAM calls made in process as the console's signed-in principal (the Query protocol of
``wire.QueryWire``): IAM's own authorisation, audit and errors answer them, as they answer
boto3. What IAM answers is read into small rows for the templates; policy documents, which
IAM sends URL-encoded, are decoded and pretty-printed."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Final, Generic, TypeVar
from urllib.parse import unquote
from xml.etree.ElementTree import Element

from andromede.console.wire import QueryWire, WireError
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = [
    "AccessKeyRow",
    "FederatedCredentials",
    "GroupRow",
    "IamPage",
    "IamWire",
    "NewAccessKey",
    "PolicyRow",
    "RoleRow",
    "StsWire",
    "UserDetail",
    "UserRow",
]

# IAM's own bound on MaxItems; a page of the console asks for console_page_size at most.
_MAX_ITEMS: Final = 1000
_Row = TypeVar("_Row")


@dataclass(frozen=True, slots=True)
class UserRow:
    name: str
    arn: str
    created: str
    password_last_used: str = ""


@dataclass(frozen=True, slots=True)
class GroupRow:
    name: str
    arn: str
    created: str


@dataclass(frozen=True, slots=True)
class RoleRow:
    name: str
    arn: str
    created: str
    description: str = ""
    trust_policy: str = ""


@dataclass(frozen=True, slots=True)
class PolicyRow:
    name: str
    arn: str
    created: str = ""
    attachments: str = ""
    default_version: str = ""
    description: str = ""


@dataclass(frozen=True, slots=True)
class AccessKeyRow:
    key_id: str
    status: str
    created: str
    last_used: str = ""


@dataclass(frozen=True, slots=True)
class NewAccessKey:
    """A key just created: its secret is shown on that one answer and never again."""

    key_id: str
    secret: str = ""

    def __repr__(self) -> str:  # the secret never reaches a log line through a repr
        return f"NewAccessKey(key_id={self.key_id!r})"


@dataclass(frozen=True, slots=True)
class IamPage(Generic[_Row]):
    rows: list[_Row]
    next_marker: str | None


@dataclass(frozen=True, slots=True)
class UserDetail:
    user: UserRow
    has_password: bool
    access_keys: list[AccessKeyRow]
    groups: list[GroupRow]
    attached: list[PolicyRow]
    inline: dict[str, str]
    mfa_devices: list[tuple[str, str]]  # serial number, enabled on


def _text(element: Element | None, path: str) -> str:
    found = element.find(path) if element is not None else None
    return (found.text or "") if found is not None else ""


def _members(root: Element, path: str) -> list[Element]:
    return list(root.iterfind(f"{path}/member"))


def _when(value: str) -> str:
    """IAM's ISO 8601 instants to the second, as the other pages show them."""
    return value[:19].replace("T", " ")


def pretty_policy(encoded: str) -> str:
    """A policy document as IAM sends it (URL-encoded) made readable; as sent when it is not
    JSON (IAM accepted it, so it is; but a page never fails over a document)."""
    text = unquote(encoded)
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def _marker(root: Element) -> str | None:
    return (_text(root, ".//Marker") or None) if _text(root, ".//IsTruncated") == "true" else None


def _paging(marker: str | None, page_size: int) -> dict[str, str]:
    params = {"MaxItems": str(max(1, min(page_size, _MAX_ITEMS)))}
    if marker:
        params["Marker"] = marker
    return params


def _user(member: Element) -> UserRow:
    return UserRow(
        _text(member, "UserName"),
        _text(member, "Arn"),
        _when(_text(member, "CreateDate")),
        _when(_text(member, "PasswordLastUsed")),
    )


def _group(member: Element) -> GroupRow:
    return GroupRow(
        _text(member, "GroupName"), _text(member, "Arn"), _when(_text(member, "CreateDate"))
    )


def _role(member: Element) -> RoleRow:
    return RoleRow(
        _text(member, "RoleName"),
        _text(member, "Arn"),
        _when(_text(member, "CreateDate")),
        _text(member, "Description"),
        pretty_policy(_text(member, "AssumeRolePolicyDocument")),
    )


def _policy(member: Element) -> PolicyRow:
    return PolicyRow(
        _text(member, "PolicyName"),
        _text(member, "Arn"),
        _when(_text(member, "CreateDate")),
        _text(member, "AttachmentCount"),
        _text(member, "DefaultVersionId"),
        _text(member, "Description"),
    )


def _attached(root: Element) -> list[PolicyRow]:
    return [
        PolicyRow(_text(m, "PolicyName"), _text(m, "PolicyArn"))
        for m in _members(root, ".//AttachedPolicies")
    ]


class IamWire(QueryWire):
    """The IAM calls the console makes, as ``principal``, for the request ``origin``."""

    version = "2010-05-08"

    # -- users ----------------------------------------------------------------------------------
    async def list_users(
        self, origin: Scope, principal: Principal, *, marker: str | None, page_size: int
    ) -> IamPage[UserRow]:
        root = await self.call(origin, principal, "ListUsers", _paging(marker, page_size))
        return IamPage([_user(m) for m in _members(root, ".//Users")], _marker(root))

    async def create_user(self, origin: Scope, principal: Principal, name: str) -> None:
        await self.call(origin, principal, "CreateUser", {"UserName": name})

    async def delete_user(self, origin: Scope, principal: Principal, name: str) -> None:
        await self.call(origin, principal, "DeleteUser", {"UserName": name})

    async def user_detail(self, origin: Scope, principal: Principal, name: str) -> UserDetail:
        """The user and what hangs on it, each part IAM's own call (so each is authorised on
        its own: a part the caller may not read fails the page with IAM's refusal)."""
        who = {"UserName": name}
        user = _user(_only(await self.call(origin, principal, "GetUser", who), ".//User"))
        keys_root = await self.call(origin, principal, "ListAccessKeys", who)
        keys = [
            AccessKeyRow(_text(m, "AccessKeyId"), _text(m, "Status"), _when(_text(m, "CreateDate")))
            for m in _members(keys_root, ".//AccessKeyMetadata")
        ]
        groups_root = await self.call(origin, principal, "ListGroupsForUser", who)
        attached_root = await self.call(origin, principal, "ListAttachedUserPolicies", who)
        inline = await self._inline(origin, principal, "User", name)
        mfa_root = await self.call(origin, principal, "ListMFADevices", who)
        return UserDetail(
            user=user,
            has_password=await self._has_login_profile(origin, principal, name),
            access_keys=keys,
            groups=[_group(m) for m in _members(groups_root, ".//Groups")],
            attached=_attached(attached_root),
            inline=inline,
            mfa_devices=[
                (_text(m, "SerialNumber"), _when(_text(m, "EnableDate")))
                for m in _members(mfa_root, ".//MFADevices")
            ],
        )

    async def delete_user_and_dependents(
        self, origin: Scope, principal: Principal, name: str
    ) -> None:
        """What the AWS console's "delete user" does: IAM refuses DeleteUser while anything
        hangs on the user, so each thing is removed first, by its own IAM call (each decided
        and audited on its own; the first refusal stops here, and what was removed stays
        removed, as in the AWS console)."""
        detail = await self.user_detail(origin, principal, name)
        who = {"UserName": name}
        for key in detail.access_keys:
            await self.delete_access_key(origin, principal, name, key.key_id)
        if detail.has_password:
            await self.delete_password(origin, principal, name)
        for serial, _enabled in detail.mfa_devices:
            await self.deactivate_mfa_device(origin, principal, name, serial)
            await self.call(origin, principal, "DeleteVirtualMFADevice", {"SerialNumber": serial})
        for group in detail.groups:
            await self.remove_user_from_group(origin, principal, name, group.name)
        for policy in detail.attached:
            await self.detach_policy(origin, principal, "User", name, policy.arn)
        for policy_name in detail.inline:
            await self.delete_inline_policy(origin, principal, "User", name, policy_name)
        await self.call(origin, principal, "DeleteUser", who)

    async def _has_login_profile(self, origin: Scope, principal: Principal, name: str) -> bool:
        try:
            await self.call(origin, principal, "GetLoginProfile", {"UserName": name})
        except WireError as exc:
            if exc.code == "NoSuchEntity":
                return False
            raise
        return True

    async def set_password(
        self, origin: Scope, principal: Principal, name: str, password: str, *, exists: bool
    ) -> None:
        action = "UpdateLoginProfile" if exists else "CreateLoginProfile"
        await self.call(origin, principal, action, {"UserName": name, "Password": password})

    async def delete_password(self, origin: Scope, principal: Principal, name: str) -> None:
        await self.call(origin, principal, "DeleteLoginProfile", {"UserName": name})

    async def create_access_key(
        self, origin: Scope, principal: Principal, name: str
    ) -> NewAccessKey:
        root = await self.call(origin, principal, "CreateAccessKey", {"UserName": name})
        return NewAccessKey(
            _text(root, ".//AccessKey/AccessKeyId"), _text(root, ".//AccessKey/SecretAccessKey")
        )

    async def set_access_key_status(
        self, origin: Scope, principal: Principal, name: str, key_id: str, *, active: bool
    ) -> None:
        params = {
            "UserName": name,
            "AccessKeyId": key_id,
            "Status": "Active" if active else "Inactive",
        }
        await self.call(origin, principal, "UpdateAccessKey", params)

    async def delete_access_key(
        self, origin: Scope, principal: Principal, name: str, key_id: str
    ) -> None:
        params = {"UserName": name, "AccessKeyId": key_id}
        await self.call(origin, principal, "DeleteAccessKey", params)

    async def deactivate_mfa_device(
        self, origin: Scope, principal: Principal, name: str, serial: str
    ) -> None:
        params = {"UserName": name, "SerialNumber": serial}
        await self.call(origin, principal, "DeactivateMFADevice", params)

    async def create_virtual_mfa_device(
        self, origin: Scope, principal: Principal, name: str
    ) -> tuple[str, str]:
        """A new virtual MFA device named ``name``: its serial number and its seed (Base32),
        which IAM shows this once. A device of that name left unassigned by an earlier attempt
        that was never finished is deleted first (the AWS console deletes it on cancel; a
        browser that went away never said cancel)."""
        try:
            listed = await self.call(
                origin, principal, "ListVirtualMFADevices", {"AssignmentStatus": "Unassigned"}
            )
        except WireError:  # a caller who may not list devices: CreateVirtualMFADevice says
            listed = Element("None")
        for member in _members(listed, ".//VirtualMFADevices"):
            serial = _text(member, "SerialNumber")
            if serial.endswith(f":mfa/{name}"):
                await self.call(
                    origin, principal, "DeleteVirtualMFADevice", {"SerialNumber": serial}
                )
        root = await self.call(
            origin, principal, "CreateVirtualMFADevice", {"VirtualMFADeviceName": name}
        )
        seed = base64.b64decode(_text(root, ".//Base32StringSeed")).decode("ascii")
        return _text(root, ".//SerialNumber"), seed

    async def enable_mfa_device(
        self, origin: Scope, principal: Principal, name: str, serial: str, codes: tuple[str, str]
    ) -> None:
        params = {
            "UserName": name,
            "SerialNumber": serial,
            "AuthenticationCode1": codes[0],
            "AuthenticationCode2": codes[1],
        }
        await self.call(origin, principal, "EnableMFADevice", params)

    # -- groups ---------------------------------------------------------------------------------
    async def list_groups(
        self, origin: Scope, principal: Principal, *, marker: str | None, page_size: int
    ) -> IamPage[GroupRow]:
        root = await self.call(origin, principal, "ListGroups", _paging(marker, page_size))
        return IamPage([_group(m) for m in _members(root, ".//Groups")], _marker(root))

    async def create_group(self, origin: Scope, principal: Principal, name: str) -> None:
        await self.call(origin, principal, "CreateGroup", {"GroupName": name})

    async def delete_group(self, origin: Scope, principal: Principal, name: str) -> None:
        await self.call(origin, principal, "DeleteGroup", {"GroupName": name})

    async def group_detail(
        self, origin: Scope, principal: Principal, name: str
    ) -> tuple[GroupRow, list[UserRow], list[PolicyRow], dict[str, str]]:
        """The group, its members (every page of them), its managed and inline policies."""
        members: list[UserRow] = []
        marker: str | None = None
        while True:
            params = {"GroupName": name, **_paging(marker, _MAX_ITEMS)}
            root = await self.call(origin, principal, "GetGroup", params)
            group = _group(_only(root, ".//Group"))
            members += [_user(m) for m in _members(root, ".//Users")]
            marker = _marker(root)
            if marker is None:
                break
        attached = await self.call(
            origin, principal, "ListAttachedGroupPolicies", {"GroupName": name}
        )
        inline = await self._inline(origin, principal, "Group", name)
        return group, members, _attached(attached), inline

    async def add_user_to_group(
        self, origin: Scope, principal: Principal, user: str, group: str
    ) -> None:
        await self.call(origin, principal, "AddUserToGroup", {"UserName": user, "GroupName": group})

    async def remove_user_from_group(
        self, origin: Scope, principal: Principal, user: str, group: str
    ) -> None:
        params = {"UserName": user, "GroupName": group}
        await self.call(origin, principal, "RemoveUserFromGroup", params)

    # -- policies -------------------------------------------------------------------------------
    async def list_policies(
        self, origin: Scope, principal: Principal, *, marker: str | None, page_size: int
    ) -> IamPage[PolicyRow]:
        """The account's customer-managed policies (``Scope=Local``)."""
        params = {"Scope": "Local", **_paging(marker, page_size)}
        root = await self.call(origin, principal, "ListPolicies", params)
        return IamPage([_policy(m) for m in _members(root, ".//Policies")], _marker(root))

    async def create_policy(
        self, origin: Scope, principal: Principal, name: str, document: str, description: str
    ) -> None:
        params = {"PolicyName": name, "PolicyDocument": document}
        if description:
            params["Description"] = description
        await self.call(origin, principal, "CreatePolicy", params)

    async def delete_policy(self, origin: Scope, principal: Principal, arn: str) -> None:
        await self.call(origin, principal, "DeletePolicy", {"PolicyArn": arn})

    async def policy_detail(
        self, origin: Scope, principal: Principal, arn: str
    ) -> tuple[PolicyRow, str, list[str]]:
        """The policy, its default version's document, and who it is attached to."""
        policy = _policy(
            _only(await self.call(origin, principal, "GetPolicy", {"PolicyArn": arn}), ".//Policy")
        )
        version = await self.call(
            origin,
            principal,
            "GetPolicyVersion",
            {"PolicyArn": arn, "VersionId": policy.default_version},
        )
        entities = await self.call(origin, principal, "ListEntitiesForPolicy", {"PolicyArn": arn})
        attached_to = [
            f"{kind.lower()}: {_text(m, f'{kind}Name')}"
            for kind in ("User", "Group", "Role")
            for m in _members(entities, f".//Policy{kind}s")
        ]
        return policy, pretty_policy(_text(version, ".//Document")), attached_to

    async def attach_policy(
        self, origin: Scope, principal: Principal, kind: str, name: str, arn: str
    ) -> None:
        """Attach to a ``User``, ``Group`` or ``Role``."""
        params = {f"{kind}Name": name, "PolicyArn": arn}
        await self.call(origin, principal, f"Attach{kind}Policy", params)

    async def detach_policy(
        self, origin: Scope, principal: Principal, kind: str, name: str, arn: str
    ) -> None:
        params = {f"{kind}Name": name, "PolicyArn": arn}
        await self.call(origin, principal, f"Detach{kind}Policy", params)

    async def put_inline_policy(
        self,
        origin: Scope,
        principal: Principal,
        kind: str,
        name: str,
        policy_name: str,
        document: str,
    ) -> None:
        params = {f"{kind}Name": name, "PolicyName": policy_name, "PolicyDocument": document}
        await self.call(origin, principal, f"Put{kind}Policy", params)

    async def delete_inline_policy(
        self, origin: Scope, principal: Principal, kind: str, name: str, policy_name: str
    ) -> None:
        params = {f"{kind}Name": name, "PolicyName": policy_name}
        await self.call(origin, principal, f"Delete{kind}Policy", params)

    # -- roles ----------------------------------------------------------------------------------
    async def list_roles(
        self, origin: Scope, principal: Principal, *, marker: str | None, page_size: int
    ) -> IamPage[RoleRow]:
        root = await self.call(origin, principal, "ListRoles", _paging(marker, page_size))
        return IamPage([_role(m) for m in _members(root, ".//Roles")], _marker(root))

    async def create_role(
        self,
        origin: Scope,
        principal: Principal,
        name: str,
        trust_policy: str,
        description: str,
    ) -> None:
        params = {"RoleName": name, "AssumeRolePolicyDocument": trust_policy}
        if description:
            params["Description"] = description
        await self.call(origin, principal, "CreateRole", params)

    async def delete_role(self, origin: Scope, principal: Principal, name: str) -> None:
        await self.call(origin, principal, "DeleteRole", {"RoleName": name})

    async def role_detail(
        self, origin: Scope, principal: Principal, name: str
    ) -> tuple[RoleRow, list[PolicyRow], dict[str, str]]:
        """The role (with its trust policy), its managed and its inline policies."""
        who = {"RoleName": name}
        role = _role(_only(await self.call(origin, principal, "GetRole", who), ".//Role"))
        attached = await self.call(origin, principal, "ListAttachedRolePolicies", who)
        inline = await self._inline(origin, principal, "Role", name)
        return role, _attached(attached), inline

    # -- OpenID Connect providers (the sign-in link's page, decision 0141's addendum) -----------
    async def list_oidc_providers(self, origin: Scope, principal: Principal) -> list[str]:
        """The account's providers' URLs (IAM answers their ARNs, which end with them)."""
        root = await self.call(origin, principal, "ListOpenIDConnectProviders")
        arns = [_text(m, "Arn") for m in _members(root, ".//OpenIDConnectProviderList")]
        return sorted(arn.partition(":oidc-provider/")[2] for arn in arns)

    async def oidc_provider_client_ids(
        self, origin: Scope, principal: Principal, arn: str
    ) -> list[str]:
        """The provider's client ids, in IAM's order (the console signs in as the first)."""
        params = {"OpenIDConnectProviderArn": arn}
        root = await self.call(origin, principal, "GetOpenIDConnectProvider", params)
        return [m.text or "" for m in _members(root, ".//ClientIDList")]

    async def _inline(
        self, origin: Scope, principal: Principal, kind: str, name: str
    ) -> dict[str, str]:
        """A user's, group's or role's inline policies by name, each document read."""
        who = {f"{kind}Name": name}
        names = await self.call(origin, principal, f"List{kind}Policies", who)
        inline: dict[str, str] = {}
        for member in _members(names, ".//PolicyNames"):
            policy_name = member.text or ""
            document = await self.call(
                origin, principal, f"Get{kind}Policy", {**who, "PolicyName": policy_name}
            )
            inline[policy_name] = pretty_policy(_text(document, ".//PolicyDocument"))
        return inline


def _only(root: Element, path: str) -> Element:
    """The one element IAM's answer holds at ``path`` (an empty one if, unexpectedly, none)."""
    found = root.find(path)
    return found if found is not None else Element(path.rsplit("/", 1)[-1])


@dataclass(frozen=True, slots=True)
class FederatedCredentials:
    """What STS issued for a SAML or OIDC sign-in; kept only to open the console session."""

    access_key_id: str
    session_token: str

    def __repr__(self) -> str:  # the token never reaches a log line through a repr
        return f"FederatedCredentials(access_key_id={self.access_key_id!r})"


class StsWire(QueryWire):
    """STS's unsigned AssumeRoleWithSAML, for the console's SAML sign-in: STS verifies the
    assertion, decides the role's trust policy, takes the assertion once and audits it, as for
    any client that posts one."""

    version = "2011-06-15"

    async def assume_role_with_saml(
        self, origin: Scope, role_arn: str, provider_arn: str, assertion: str
    ) -> FederatedCredentials:
        params = {"RoleArn": role_arn, "PrincipalArn": provider_arn, "SAMLAssertion": assertion}
        root = await self.call(origin, None, "AssumeRoleWithSAML", params)
        return FederatedCredentials(
            _text(root, ".//Credentials/AccessKeyId"), _text(root, ".//Credentials/SessionToken")
        )

    async def assume_role_with_web_identity(
        self,
        origin: Scope,
        role_arn: str,
        session_name: str,
        id_token: str,
        duration: int | None = None,
    ) -> FederatedCredentials:
        """For the console's OIDC sign-in (decision 0141): STS verifies the ID token again,
        decides the role's trust policy and audits the call, as for any client."""
        params = {
            "RoleArn": role_arn,
            "RoleSessionName": session_name,
            "WebIdentityToken": id_token,
        }
        if duration is not None:
            params["DurationSeconds"] = str(duration)
        root = await self.call(origin, None, "AssumeRoleWithWebIdentity", params)
        return FederatedCredentials(
            _text(root, ".//Credentials/AccessKeyId"), _text(root, ".//Credentials/SessionToken")
        )
