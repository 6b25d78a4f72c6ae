"""IdentityService: the one public entry of identity.

One method per IAM action (snake case of the AWS name, the tenant's account id first, AWS's
parameter names), plus what the rest of Andromède needs from identity: resolving access keys
and temporary credentials to a :class:`~andromede.iam.model.Principal` on every request (cached),
the policy documents that apply to a principal, STS issuing, tenants and operators, and console
login. The class is assembled from one part per family of actions (see ``service_core.py``).

Policy documents are checked by :func:`validate_policy_document` before they are stored.
"""

from __future__ import annotations

from andromede.iam import policy as policy_engine
from andromede.iam.accounts import AccountsMixin, BootstrapResult, CreatedOperator
from andromede.iam.authorization_details import AuthorizationDetailsMixin
from andromede.iam.credential_report import CredentialReport, CredentialReportMixin, ReportState
from andromede.iam.credentials import (
    AccessKeyLastUsed,
    CreatedAccessKey,
    CredentialsMixin,
    IssuedCredentials,
)
from andromede.iam.directory import DirectoryMixin
from andromede.iam.errors import LimitExceeded, MalformedPolicyDocument
from andromede.iam.instance_profiles import InstanceCredentials, InstanceProfilesMixin
from andromede.iam.login import ConsoleLogin, LoginMixin
from andromede.iam.mfa import CreatedMfaDevice, MfaMixin
from andromede.iam.oidc_providers import OidcProvidersMixin
from andromede.iam.oidc_signin import OidcSignInMixin
from andromede.iam.policies import PoliciesMixin
from andromede.iam.saml_providers import SamlProvidersMixin
from andromede.iam.server_certificates import ServerCertificatesMixin
from andromede.iam.service_access import ServiceAccessMixin
from andromede.iam.service_core import IdentityLimits, PolicyKind
from andromede.iam.service_linked_roles import ServiceLinkedRolesMixin
from andromede.iam.simulation_sources import SimulationSourcesMixin
from andromede.iam.tags import TagsMixin

__all__ = [
    "AccessKeyLastUsed",
    "BootstrapResult",
    "ConsoleLogin",
    "CreatedAccessKey",
    "CreatedMfaDevice",
    "CreatedOperator",
    "CredentialReport",
    "IdentityLimits",
    "IdentityService",
    "InstanceCredentials",
    "IssuedCredentials",
    "PolicyKind",
    "ReportState",
    "validate_policy_document",
]

_ENGINE_KINDS = {
    PolicyKind.IDENTITY: policy_engine.PolicyKind.IDENTITY,
    PolicyKind.TRUST: policy_engine.PolicyKind.TRUST,
    PolicyKind.RESOURCE: policy_engine.PolicyKind.RESOURCE,
}
_DEFAULT_MAX = {
    PolicyKind.IDENTITY: policy_engine.IAM_MANAGED_POLICY_MAX,
    PolicyKind.TRUST: policy_engine.IAM_TRUST_POLICY_MAX,
    PolicyKind.RESOURCE: policy_engine.S3_BUCKET_POLICY_MAX,
}


def validate_policy_document(
    text: str, kind: PolicyKind, max_size: policy_engine.SizeLimit | int | None = None
) -> str:
    """The document if the policy language accepts it for ``kind`` within ``max_size`` (AWS's
    quota for that kind of policy by default): MalformedPolicyDocument, or LimitExceeded for a
    document over its quota, as IAM answers."""
    try:
        policy_engine.parse_policy(
            text, kind=_ENGINE_KINDS[kind], max_size=max_size or _DEFAULT_MAX[kind]
        )
    except policy_engine.PolicyTooLarge as exc:
        raise LimitExceeded(exc.message) from exc
    except policy_engine.MalformedPolicy as exc:
        raise MalformedPolicyDocument(exc.message) from exc
    return text


class IdentityService(
    AccountsMixin,
    DirectoryMixin,
    InstanceProfilesMixin,
    OidcProvidersMixin,
    OidcSignInMixin,
    SamlProvidersMixin,
    ServerCertificatesMixin,
    ServiceLinkedRolesMixin,
    CredentialsMixin,
    PoliciesMixin,
    MfaMixin,
    LoginMixin,
    TagsMixin,
    CredentialReportMixin,
    AuthorizationDetailsMixin,
    SimulationSourcesMixin,
    ServiceAccessMixin,
):
    def _validate_policy(
        self, text: str, kind: PolicyKind, max_size: policy_engine.SizeLimit | int | None = None
    ) -> str:
        return validate_policy_document(text, kind, max_size)
