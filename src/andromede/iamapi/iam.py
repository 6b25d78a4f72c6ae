"""The IAM API's action table: each action's handler, whether it changes state (audited), and
the IAM action and resource the policy engine must allow first.

Every IAM action is authorised, the tenant root's included (the engine lets a root act on its own
account): a call reaches a handler only with the engine's allow. The resources follow AWS's
"Actions, resources, and condition keys for IAM" (see ``iam_common.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from andromede.iam.model import EntityType
from andromede.iamapi import iam_access as access
from andromede.iamapi import iam_certificates as cert
from andromede.iamapi import iam_credentials as c
from andromede.iamapi import iam_directory as d
from andromede.iamapi import iam_governance as gov
from andromede.iamapi import iam_linked_roles as slr
from andromede.iamapi import iam_oidc as o
from andromede.iamapi import iam_policies as p
from andromede.iamapi import iam_profiles as ip
from andromede.iamapi import iam_saml as saml
from andromede.iamapi import iam_simulator as sim
from andromede.iamapi.iam_common import (
    group_resource,
    list_resource,
    mfa_resource,
    policy_resource,
    role_resource,
    user_resource,
)
from andromede.iamapi.iam_policies import ATTACHMENT_HANDLERS as ATTACHMENT
from andromede.iamapi.iam_policies import INLINE_HANDLERS as INLINE
from andromede.iamapi.protocol import Action, ServiceSpec

__all__ = ["IAM"]


def _entity_policy_actions() -> dict[str, Action]:
    """The inline (Put/Get/List/DeletePolicy) and managed (Attach/Detach/ListAttached) policy
    actions of users, groups and roles: the same seven verbs for each, on the entity itself."""
    verbs = (  # (handler table, verb, action name pattern, changes state)
        (INLINE, "Put", "Put{}Policy", True),
        (INLINE, "Get", "Get{}Policy", False),
        (INLINE, "List", "List{}Policies", False),
        (INLINE, "Delete", "Delete{}Policy", True),
        (ATTACHMENT, "Attach", "Attach{}Policy", True),
        (ATTACHMENT, "Detach", "Detach{}Policy", True),
        (ATTACHMENT, "ListAttached", "ListAttached{}Policies", False),
    )
    entities = (
        (EntityType.USER, "User", user_resource),
        (EntityType.GROUP, "Group", group_resource),
        (EntityType.ROLE, "Role", role_resource),
    )
    return {
        name.format(noun): Action(
            handlers[verb, entity], changes, resource=resource, has_result=not changes
        )
        for entity, noun, resource in entities
        for handlers, verb, name, changes in verbs
    }


ACTIONS: Final[Mapping[str, Action]] = {
    "CreateUser": Action(d.create_user, True, resource=user_resource),
    "GetUser": Action(d.get_user, False, resource=user_resource),
    "ListUsers": Action(d.list_users, False, resource=list_resource("user")),
    "UpdateUser": Action(d.update_user, True, resource=user_resource, has_result=False),
    "DeleteUser": Action(d.delete_user, True, resource=user_resource, has_result=False),
    "CreateGroup": Action(d.create_group, True, resource=group_resource),
    "GetGroup": Action(d.get_group, False, resource=group_resource),
    "ListGroups": Action(d.list_groups, False, resource=list_resource("group")),
    "DeleteGroup": Action(
        d.delete_group,
        True,
        resource=group_resource,
        has_result=False,
    ),
    "AddUserToGroup": Action(
        d.add_user_to_group,
        True,
        resource=group_resource,
        has_result=False,
    ),
    "RemoveUserFromGroup": Action(
        d.remove_user_from_group,
        True,
        resource=group_resource,
        has_result=False,
    ),
    "ListGroupsForUser": Action(d.list_groups_for_user, False, resource=user_resource),
    "CreateRole": Action(d.create_role, True, resource=role_resource),
    "GetRole": Action(d.get_role, False, resource=role_resource),
    "ListRoles": Action(d.list_roles, False, resource=list_resource("role")),
    "UpdateRole": Action(d.update_role, True, resource=role_resource),
    "UpdateAssumeRolePolicy": Action(
        d.update_assume_role_policy,
        True,
        resource=role_resource,
        has_result=False,
    ),
    "DeleteRole": Action(d.delete_role, True, resource=role_resource, has_result=False),
    "TagUser": Action(d.tag_user, True, resource=user_resource, has_result=False),
    "UntagUser": Action(d.untag_user, True, resource=user_resource, has_result=False),
    "ListUserTags": Action(d.list_user_tags, False, resource=user_resource),
    "TagRole": Action(d.tag_role, True, resource=role_resource, has_result=False),
    "UntagRole": Action(d.untag_role, True, resource=role_resource, has_result=False),
    "ListRoleTags": Action(d.list_role_tags, False, resource=role_resource),
    "PutUserPermissionsBoundary": Action(
        d.put_user_permissions_boundary, True, resource=user_resource, has_result=False
    ),
    "DeleteUserPermissionsBoundary": Action(
        d.delete_user_permissions_boundary, True, resource=user_resource, has_result=False
    ),
    "PutRolePermissionsBoundary": Action(
        d.put_role_permissions_boundary, True, resource=role_resource, has_result=False
    ),
    "DeleteRolePermissionsBoundary": Action(
        d.delete_role_permissions_boundary, True, resource=role_resource, has_result=False
    ),
    "CreateInstanceProfile": Action(
        ip.create_instance_profile, True, resource=ip.instance_profile_resource
    ),
    "GetInstanceProfile": Action(
        ip.get_instance_profile, False, resource=ip.instance_profile_resource
    ),
    "ListInstanceProfiles": Action(
        ip.list_instance_profiles, False, resource=list_resource("instance-profile")
    ),
    "DeleteInstanceProfile": Action(
        ip.delete_instance_profile,
        True,
        resource=ip.instance_profile_resource,
        has_result=False,
    ),
    "AddRoleToInstanceProfile": Action(
        ip.add_role_to_instance_profile,
        True,
        resource=ip.instance_profile_resource,
        has_result=False,
    ),
    "RemoveRoleFromInstanceProfile": Action(
        ip.remove_role_from_instance_profile,
        True,
        resource=ip.instance_profile_resource,
        has_result=False,
    ),
    "ListInstanceProfilesForRole": Action(
        ip.list_instance_profiles_for_role, False, resource=role_resource
    ),
    "TagInstanceProfile": Action(
        ip.tag_instance_profile, True, resource=ip.instance_profile_resource, has_result=False
    ),
    "UntagInstanceProfile": Action(
        ip.untag_instance_profile, True, resource=ip.instance_profile_resource, has_result=False
    ),
    "ListInstanceProfileTags": Action(
        ip.list_instance_profile_tags, False, resource=ip.instance_profile_resource
    ),
    **_entity_policy_actions(),
    "CreateAccessKey": Action(c.create_access_key, True, resource=user_resource),
    "ListAccessKeys": Action(c.list_access_keys, False, resource=user_resource),
    "UpdateAccessKey": Action(
        c.update_access_key,
        True,
        resource=user_resource,
        has_result=False,
    ),
    "DeleteAccessKey": Action(
        c.delete_access_key,
        True,
        resource=user_resource,
        has_result=False,
    ),
    "GetAccessKeyLastUsed": Action(
        c.get_access_key_last_used,
        False,
        resource=c.key_owner_resource,
    ),
    "CreateLoginProfile": Action(c.create_login_profile, True, resource=user_resource),
    "GetLoginProfile": Action(c.get_login_profile, False, resource=user_resource),
    "UpdateLoginProfile": Action(
        c.update_login_profile,
        True,
        resource=user_resource,
        has_result=False,
    ),
    "DeleteLoginProfile": Action(
        c.delete_login_profile,
        True,
        resource=user_resource,
        has_result=False,
    ),
    "CreateVirtualMFADevice": Action(
        c.create_virtual_mfa_device,
        True,
        resource=mfa_resource,
    ),
    "EnableMFADevice": Action(
        c.enable_mfa_device,
        True,
        resource=user_resource,
        has_result=False,
    ),
    "ListMFADevices": Action(c.list_mfa_devices, False, resource=user_resource),
    "ListVirtualMFADevices": Action(c.list_virtual_mfa_devices, False, resource=None),
    "DeactivateMFADevice": Action(
        c.deactivate_mfa_device,
        True,
        resource=user_resource,
        has_result=False,
    ),
    "TagMFADevice": Action(c.tag_mfa_device, True, resource=mfa_resource, has_result=False),
    "UntagMFADevice": Action(c.untag_mfa_device, True, resource=mfa_resource, has_result=False),
    "ListMFADeviceTags": Action(c.list_mfa_device_tags, False, resource=mfa_resource),
    "DeleteVirtualMFADevice": Action(
        c.delete_virtual_mfa_device,
        True,
        resource=mfa_resource,
        has_result=False,
    ),
    "GetAccountSummary": Action(c.get_account_summary, False, resource=None),
    # The account's governance calls (decision 0193): AWS authorises them on "*".
    "GenerateCredentialReport": Action(gov.generate_credential_report, True, resource=None),
    "GetCredentialReport": Action(gov.get_credential_report, False, resource=None),
    "GetAccountAuthorizationDetails": Action(
        gov.get_account_authorization_details, False, resource=None
    ),
    "GenerateServiceLastAccessedDetails": Action(
        access.generate_service_last_accessed_details, True, resource=access.access_job_resource
    ),
    "GetServiceLastAccessedDetails": Action(
        access.get_service_last_accessed_details, False, resource=None
    ),
    "SimulatePrincipalPolicy": Action(
        sim.simulate_principal_policy, False, resource=sim.policy_source_resource
    ),
    "SimulateCustomPolicy": Action(sim.simulate_custom_policy, False, resource=None),
    "GetContextKeysForPrincipalPolicy": Action(
        sim.get_context_keys_for_principal_policy, False, resource=sim.policy_source_resource
    ),
    "GetContextKeysForCustomPolicy": Action(
        sim.get_context_keys_for_custom_policy, False, resource=None
    ),
    # Service-linked roles (decision 0208).
    "CreateServiceLinkedRole": Action(
        slr.create_service_linked_role, True, resource=slr.linked_role_resource
    ),
    "DeleteServiceLinkedRole": Action(slr.delete_service_linked_role, True, resource=role_resource),
    "GetServiceLinkedRoleDeletionStatus": Action(
        slr.get_service_linked_role_deletion_status, False, resource=slr.deletion_task_resource
    ),
    # Server certificates (decision 0205).
    "UploadServerCertificate": Action(
        cert.upload_server_certificate, True, resource=cert.server_certificate_resource
    ),
    "GetServerCertificate": Action(
        cert.get_server_certificate, False, resource=cert.server_certificate_resource
    ),
    "ListServerCertificates": Action(cert.list_server_certificates, False, resource=None),
    "UpdateServerCertificate": Action(
        cert.update_server_certificate,
        True,
        resource=cert.server_certificate_resource,
        has_result=False,
    ),
    "DeleteServerCertificate": Action(
        cert.delete_server_certificate,
        True,
        resource=cert.server_certificate_resource,
        has_result=False,
    ),
    "TagServerCertificate": Action(
        cert.tag_server_certificate,
        True,
        resource=cert.server_certificate_resource,
        has_result=False,
    ),
    "UntagServerCertificate": Action(
        cert.untag_server_certificate,
        True,
        resource=cert.server_certificate_resource,
        has_result=False,
    ),
    "ListServerCertificateTags": Action(
        cert.list_server_certificate_tags, False, resource=cert.server_certificate_resource
    ),
    # OpenID Connect providers (decision 0087)
    "CreateOpenIDConnectProvider": Action(
        o.create_open_id_connect_provider, True, resource=o.oidc_provider_resource
    ),
    "GetOpenIDConnectProvider": Action(
        o.get_open_id_connect_provider, False, resource=o.oidc_provider_resource
    ),
    "ListOpenIDConnectProviders": Action(o.list_open_id_connect_providers, False, resource=None),
    "DeleteOpenIDConnectProvider": Action(
        o.delete_open_id_connect_provider,
        True,
        resource=o.oidc_provider_resource,
        has_result=False,
    ),
    "AddClientIDToOpenIDConnectProvider": Action(
        o.add_client_id_to_open_id_connect_provider,
        True,
        resource=o.oidc_provider_resource,
        has_result=False,
    ),
    "RemoveClientIDFromOpenIDConnectProvider": Action(
        o.remove_client_id_from_open_id_connect_provider,
        True,
        resource=o.oidc_provider_resource,
        has_result=False,
    ),
    "UpdateOpenIDConnectProviderThumbprint": Action(
        o.update_open_id_connect_provider_thumbprint,
        True,
        resource=o.oidc_provider_resource,
        has_result=False,
    ),
    "TagOpenIDConnectProvider": Action(
        o.tag_open_id_connect_provider,
        True,
        resource=o.oidc_provider_resource,
        has_result=False,
    ),
    "UntagOpenIDConnectProvider": Action(
        o.untag_open_id_connect_provider,
        True,
        resource=o.oidc_provider_resource,
        has_result=False,
    ),
    "ListOpenIDConnectProviderTags": Action(
        o.list_open_id_connect_provider_tags, False, resource=o.oidc_provider_resource
    ),
    # SAML providers (decision 0095)
    "CreateSAMLProvider": Action(
        saml.create_saml_provider, True, resource=saml.saml_provider_resource
    ),
    "GetSAMLProvider": Action(saml.get_saml_provider, False, resource=saml.saml_provider_resource),
    "ListSAMLProviders": Action(saml.list_saml_providers, False, resource=None),
    "UpdateSAMLProvider": Action(
        saml.update_saml_provider, True, resource=saml.saml_provider_resource
    ),
    "DeleteSAMLProvider": Action(
        saml.delete_saml_provider,
        True,
        resource=saml.saml_provider_resource,
        has_result=False,
    ),
    "TagSAMLProvider": Action(
        saml.tag_saml_provider, True, resource=saml.saml_provider_resource, has_result=False
    ),
    "UntagSAMLProvider": Action(
        saml.untag_saml_provider, True, resource=saml.saml_provider_resource, has_result=False
    ),
    "ListSAMLProviderTags": Action(
        saml.list_saml_provider_tags, False, resource=saml.saml_provider_resource
    ),
    "CreatePolicy": Action(p.create_policy, True, resource=policy_resource),
    "GetPolicy": Action(p.get_policy, False, resource=policy_resource),
    "TagPolicy": Action(p.tag_policy, True, resource=policy_resource, has_result=False),
    "UntagPolicy": Action(p.untag_policy, True, resource=policy_resource, has_result=False),
    "ListPolicyTags": Action(p.list_policy_tags, False, resource=policy_resource),
    "ListPolicies": Action(p.list_policies, False, resource=list_resource("policy")),
    "DeletePolicy": Action(
        p.delete_policy,
        True,
        resource=policy_resource,
        has_result=False,
    ),
    "CreatePolicyVersion": Action(
        p.create_policy_version,
        True,
        resource=policy_resource,
    ),
    "GetPolicyVersion": Action(p.get_policy_version, False, resource=policy_resource),
    "ListPolicyVersions": Action(p.list_policy_versions, False, resource=policy_resource),
    "DeletePolicyVersion": Action(
        p.delete_policy_version,
        True,
        resource=policy_resource,
        has_result=False,
    ),
    "SetDefaultPolicyVersion": Action(
        p.set_default_policy_version,
        True,
        resource=policy_resource,
        has_result=False,
    ),
    "ListEntitiesForPolicy": Action(
        p.list_entities_for_policy,
        False,
        resource=policy_resource,
    ),
}

IAM = ServiceSpec(
    name="iam",
    namespace="https://iam.amazonaws.com/doc/2010-05-08/",
    version="2010-05-08",
    actions=ACTIONS,
    also_accepted_regions=("us-east-1",),
)
