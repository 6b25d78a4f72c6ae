"""ACM's actions (decision 0230): one handler per operation, each authorising ``acm:<Action>``
on the certificate's ARN (the request's tags as ``aws:RequestTag/…``, the certificate's as
``aws:ResourceTag/…``; ``*`` for the account-wide calls) before it calls the service, then
answering in the API model's shape. What ACM would issue itself (a public RequestCertificate,
renewals, validation e-mails) needs a public CA and domain validation this platform has not:
those answer ``NotImplemented`` with the reason (:data:`NOT_SERVED`); a RequestCertificate
naming the operator's private CA is issued at once (``acm.private_ca``)."""

from __future__ import annotations

import base64
import re
from collections.abc import Awaitable, Callable
from typing import Any, Final

from andromede.acm.model import Certificate
from andromede.acm.private_ca import ISSUABLE
from andromede.acmapi.call import AcmCall, epoch, invalid
from andromede.acmapi.errors import AcmWireError

__all__ = ["ACTIONS", "NOT_SERVED", "OTHER_OPERATIONS"]

Handler = Callable[[AcmCall], Awaitable[dict[str, Any]]]

KEY_TYPES: Final = ("RSA_1024", "RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1",
                    "EC_secp384r1", "EC_secp521r1")  # fmt: skip
# ListCertificates without Includes.keyTypes lists these only, as AWS does.
DEFAULT_KEY_TYPES: Final = ("RSA_1024", "RSA_2048")
STATUSES: Final = ("PENDING_VALIDATION", "ISSUED", "INACTIVE", "EXPIRED",
                   "VALIDATION_TIMED_OUT", "REVOKED", "FAILED")  # fmt: skip
KEY_USAGES: Final = ("DIGITAL_SIGNATURE", "NON_REPUDIATION", "KEY_ENCIPHERMENT",
                     "DATA_ENCIPHERMENT", "KEY_AGREEMENT", "CERTIFICATE_SIGNING", "CRL_SIGNING",
                     "ENCIPHER_ONLY", "DECIPHER_ONLY", "ANY", "CUSTOM")  # fmt: skip
EXTENDED_KEY_USAGES: Final = ("TLS_WEB_SERVER_AUTHENTICATION", "TLS_WEB_CLIENT_AUTHENTICATION",
                              "CODE_SIGNING", "EMAIL_PROTECTION", "TIME_STAMPING",
                              "OCSP_SIGNING", "IPSEC_END_SYSTEM", "IPSEC_TUNNEL", "IPSEC_USER",
                              "ANY", "NONE", "CUSTOM")  # fmt: skip
_SUMMARY_NAMES: Final = 100  # SubjectAlternativeNameSummaries: the first 100, as AWS


def _resource_tags(certificate: Certificate) -> dict[str, Any]:
    return {f"aws:ResourceTag/{k}": v for k, v in certificate.tags}


def _request_tags(tags: list[tuple[str, str]]) -> dict[str, Any]:
    keys: dict[str, Any] = {f"aws:RequestTag/{k}": v for k, v in tags}
    keys["aws:TagKeys"] = [k for k, _ in tags]
    return keys


async def _certificate(
    call: AcmCall, action: str, extra: dict[str, Any] | None = None
) -> Certificate:
    """The named certificate, once the caller may do ``action`` on it (one that does not
    exist is authorised on its ARN first, so that no one probes ids)."""
    arn = call.arn()
    call.resources.append(arn)
    certificate_id = call.acm.certificate_id(call.tenant_id, arn)
    found = await call.acm.store.get(call.tenant_id, certificate_id)
    keys = (extra or {}) | ({} if found is None else _resource_tags(found))
    await call.authorise(f"acm:{action}", arn, keys)
    return found or await call.acm.get(call.tenant_id, arn)


def _kind(certificate: Certificate) -> dict[str, Any]:
    """What differs between an imported certificate and one the private CA issued."""
    if certificate.kind == "PRIVATE":
        return {
            "Type": "PRIVATE",
            "IssuedAt": epoch(certificate.imported_at),
            "CertificateAuthorityArn": certificate.authority_arn,
            "CertificateKeyPairOrigin": "AWS_MANAGED",
        }
    return {
        "Type": "IMPORTED",
        "ImportedAt": epoch(certificate.imported_at),
        "CertificateKeyPairOrigin": "CUSTOMER_PROVIDED",
    }


def _detail(
    certificate: Certificate, status: str, in_use_by: list[str], eligibility: str
) -> dict[str, Any]:
    facts = certificate.facts
    export = "ENABLED" if certificate.kind == "PRIVATE" else "DISABLED"
    return {
        "CertificateArn": certificate.arn,
        "DomainName": facts.domain_name,
        "SubjectAlternativeNames": list(facts.alternative_names),
        "Serial": facts.serial,
        "Subject": facts.subject,
        "Issuer": facts.issuer,
        "CreatedAt": epoch(certificate.created_at),
        "Status": status,
        "NotBefore": epoch(facts.not_before),
        "NotAfter": epoch(facts.not_after),
        "KeyAlgorithm": facts.key_algorithm,
        "SignatureAlgorithm": facts.signature_algorithm,
        "InUseBy": in_use_by,
        "KeyUsages": [{"Name": n} for n in facts.key_usages],
        "ExtendedKeyUsages": [{"Name": n, "OID": oid} for n, oid in facts.extended_key_usages],
        "RenewalEligibility": eligibility,
        "Options": {"CertificateTransparencyLoggingPreference": "DISABLED", "Export": export},
    } | _kind(certificate)


def _summary(
    certificate: Certificate, status: str, in_use: bool, eligibility: str
) -> dict[str, Any]:
    facts = certificate.facts
    return {
        "CertificateArn": certificate.arn,
        "DomainName": facts.domain_name,
        "SubjectAlternativeNameSummaries": list(facts.alternative_names[:_SUMMARY_NAMES]),
        "HasAdditionalSubjectAlternativeNames": len(facts.alternative_names) > _SUMMARY_NAMES,
        "Status": status,
        "KeyAlgorithm": facts.key_algorithm,
        "KeyUsages": list(facts.key_usages),
        "ExtendedKeyUsages": [n for n, _ in facts.extended_key_usages],
        "ExportOption": "ENABLED" if certificate.kind == "PRIVATE" else "DISABLED",
        "InUse": in_use,
        "RenewalEligibility": eligibility,
        "NotBefore": epoch(facts.not_before),
        "NotAfter": epoch(facts.not_after),
        "CreatedAt": epoch(certificate.created_at),
    } | _kind(certificate)


async def import_certificate(call: AcmCall) -> dict[str, Any]:
    body = call.pem("Certificate", required=True, max_length=32768)
    key = call.pem("PrivateKey", required=True, max_length=8192)
    chain = call.pem("CertificateChain", required=False, max_length=2097152)
    given = [(k, v or "") for k, v in call.tags()]
    arn = call.string("CertificateArn", min_length=20, max_length=2048)
    assert body is not None and key is not None  # noqa: S101 (required)
    if arn is not None:
        await _certificate(call, "ImportCertificate", _request_tags(given))
    else:
        # A new certificate's ARN is not known before it is made: ``certificate/*``, as AWS.
        any_arn = f"arn:aws:acm:{call.acm.region}:{call.tenant_id}:certificate/*"
        call.resources.append(any_arn)
        await call.authorise("acm:ImportCertificate", any_arn, _request_tags(given))
        if given:
            await call.authorise("acm:AddTagsToCertificate", any_arn, _request_tags(given))
    made = await call.acm.import_certificate(call.tenant_id, body, key, chain, given, arn)
    call.resources[:] = [made.arn]
    return {"CertificateArn": made.arn}


async def describe_certificate(call: AcmCall) -> dict[str, Any]:
    certificate = await _certificate(call, "DescribeCertificate")
    users = await call.acm.in_use_by(call.tenant_id, certificate.arn)
    status = certificate.status(call.acm.now())
    eligibility = "ELIGIBLE" if call.acm.renewable(certificate) else "INELIGIBLE"
    return {"Certificate": _detail(certificate, status, users, eligibility)}


async def get_certificate(call: AcmCall) -> dict[str, Any]:
    certificate = await _certificate(call, "GetCertificate")
    answer = {"Certificate": certificate.body}
    if certificate.chain:
        answer["CertificateChain"] = certificate.chain
    return answer


async def list_certificates(call: AcmCall) -> dict[str, Any]:
    statuses = call.names("CertificateStatuses", STATUSES)
    origins = call.names("CertificateKeyPairOrigins", ("AWS_MANAGED", "ACME", "CUSTOMER_PROVIDED"))
    roots = call.names("RootHierarchyTypes", ("N2_AMAZON_MANAGED", "N2_SFG2_AMAZON_MANAGED"))
    includes = call.params.get("Includes") or {}
    if not isinstance(includes, dict):
        raise AcmWireError("SerializationException", "Includes must be a structure")
    key_types = call.names("keyTypes", KEY_TYPES, includes) or list(DEFAULT_KEY_TYPES)
    usages = call.names("keyUsage", KEY_USAGES, includes)
    extended = call.names("extendedKeyUsage", EXTENDED_KEY_USAGES, includes)
    size = call.integer("MaxItems", minimum=1, maximum=1000) or 1000
    token = call.string("NextToken", min_length=1, max_length=10000)
    sort_by = call.string("SortBy")
    order = call.string("SortOrder")
    if sort_by not in (None, "CREATED_AT"):
        raise invalid("SortBy", "Member must satisfy enum value set: [CREATED_AT]")
    if order not in (None, "ASCENDING", "DESCENDING"):
        raise invalid("SortOrder", "Member must satisfy enum value set: [ASCENDING, DESCENDING]")
    offset = 0
    if token is not None:
        try:
            offset = int(base64.urlsafe_b64decode(token.encode()).decode())
        except ValueError:
            raise AcmWireError("InvalidArgsException", "The NextToken is not valid.") from None
        if offset < 0:
            raise AcmWireError("InvalidArgsException", "The NextToken is not valid.")
    await call.authorise("acm:ListCertificates", "*", {})
    now = call.acm.now()
    chosen = []
    for certificate in [] if roots else await call.acm.store.list_certificates(call.tenant_id):
        facts = certificate.facts
        # An imported key pair is the customer's; the private CA's certificates' keys are
        # made here (AWS_MANAGED). No certificate here has an Amazon root.
        origin = "AWS_MANAGED" if certificate.kind == "PRIVATE" else "CUSTOMER_PROVIDED"
        if origins is not None and origin not in origins:
            continue
        status = certificate.status(now)
        if statuses and status not in statuses:
            continue
        if facts.key_algorithm not in key_types:
            continue
        if usages and "ANY" not in usages and not set(usages) & set(facts.key_usages):
            continue
        names = {n for n, _ in facts.extended_key_usages} or {"NONE"}
        if extended and "ANY" not in extended and not set(extended) & names:
            continue
        chosen.append((certificate, status))
    if order == "DESCENDING":
        chosen.reverse()
    page = chosen[offset : offset + size]
    summaries = [
        _summary(
            c, s, bool(await call.acm.in_use_by(call.tenant_id, c.arn)),
            "ELIGIBLE" if call.acm.renewable(c) else "INELIGIBLE",
        )
        for c, s in page
    ]  # fmt: skip
    answer: dict[str, Any] = {"CertificateSummaryList": summaries}
    if offset + size < len(chosen):
        answer["NextToken"] = base64.urlsafe_b64encode(str(offset + size).encode()).decode()
    return answer


async def delete_certificate(call: AcmCall) -> dict[str, Any]:
    certificate = await _certificate(call, "DeleteCertificate")
    await call.acm.delete(call.tenant_id, certificate.arn)
    return {}


async def add_tags_to_certificate(call: AcmCall) -> dict[str, Any]:
    tags = [(k, v or "") for k, v in call.tags(required=True)]
    certificate = await _certificate(call, "AddTagsToCertificate", _request_tags(tags))
    await call.acm.add_tags(call.tenant_id, certificate.arn, tags)
    return {}


async def remove_tags_from_certificate(call: AcmCall) -> dict[str, Any]:
    tags = call.tags(required=True)
    certificate = await _certificate(
        call, "RemoveTagsFromCertificate", {"aws:TagKeys": [k for k, _ in tags]}
    )
    await call.acm.remove_tags(call.tenant_id, certificate.arn, tags)
    return {}


async def list_tags_for_certificate(call: AcmCall) -> dict[str, Any]:
    certificate = await _certificate(call, "ListTagsForCertificate")
    return {"Tags": [{"Key": k, "Value": v} for k, v in certificate.tags]}


async def export_certificate(call: AcmCall) -> dict[str, Any]:
    passphrase = call.pem("Passphrase", required=True, max_length=128)
    assert passphrase is not None  # noqa: S101 (required)
    if len(passphrase) < 4:
        raise invalid("Passphrase", "Member must have length greater than or equal to 4")
    certificate = await _certificate(call, "ExportCertificate")
    # AWS exports the keys of private-CA certificates only: an imported one's owner has it.
    exported, key = await call.acm.export(call.tenant_id, certificate.arn, passphrase.encode())
    return {
        "Certificate": exported.body,
        "CertificateChain": exported.chain or "",
        "PrivateKey": key,
    }


_DOMAIN: Final = re.compile(r"(\*\.)?(([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])\.)*"
                            r"([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])")  # fmt: skip


def _domain(call: AcmCall, name: str, value: object) -> str:
    if not isinstance(value, str):
        raise AcmWireError("SerializationException", f"{name} must be a string")
    if not 1 <= len(value) <= 253 or _DOMAIN.fullmatch(value) is None:
        raise invalid(name, "Member must satisfy regular expression pattern: "
                      "(\\*\\.)?(((?!-)[A-Za-z0-9-]{0,62}[A-Za-z0-9])\\.)+"
                      "((?!-)[A-Za-z0-9-]{1,62}[A-Za-z0-9])")  # fmt: skip
    return value


async def request_certificate(call: AcmCall) -> dict[str, Any]:
    authority = call.string("CertificateAuthorityArn", min_length=20, max_length=2048)
    if authority is None:
        raise AcmWireError("NotImplemented", f"RequestCertificate {ISSUING_REFUSED}")
    domain = _domain(call, "DomainName", call.params.get("DomainName"))
    names = call.params.get("SubjectAlternativeNames") or []
    if not isinstance(names, list) or len(names) > 100:
        raise invalid("SubjectAlternativeNames", "Member must have length between 1 and 100")
    alternatives = [_domain(call, "SubjectAlternativeNames.member", n) for n in names]
    algorithm = call.string("KeyAlgorithm") or "RSA_2048"
    if algorithm not in ISSUABLE:
        raise AcmWireError(
            "InvalidParameterException",
            f"KeyAlgorithm {algorithm[:32]} is not offered: one of {', '.join(ISSUABLE)}.",
        )
    call.string("IdempotencyToken", min_length=1, max_length=32)
    given = [(k, v or "") for k, v in call.tags()]
    any_arn = f"arn:aws:acm:{call.acm.region}:{call.tenant_id}:certificate/*"
    call.resources.append(any_arn)
    await call.authorise("acm:RequestCertificate", any_arn, _request_tags(given))
    if given:
        await call.authorise("acm:AddTagsToCertificate", any_arn, _request_tags(given))
    made = await call.acm.request_certificate(
        call.tenant_id, domain, alternatives, algorithm, authority, given
    )
    call.resources[:] = [made.arn]
    return {"CertificateArn": made.arn}


async def renew_certificate(call: AcmCall) -> dict[str, Any]:
    certificate = await _certificate(call, "RenewCertificate")
    await call.acm.renew(call.tenant_id, certificate.arn)
    return {}


async def get_account_configuration(call: AcmCall) -> dict[str, Any]:
    await call.authorise("acm:GetAccountConfiguration", "*", {})
    days = await call.acm.days_before_expiry(call.tenant_id)
    return {"ExpiryEvents": {"DaysBeforeExpiry": days}}


async def put_account_configuration(call: AcmCall) -> dict[str, Any]:
    call.string("IdempotencyToken", required=True, min_length=1, max_length=32)
    expiry = call.params.get("ExpiryEvents")
    if expiry is not None and not isinstance(expiry, dict):
        raise AcmWireError("SerializationException", "ExpiryEvents must be a structure")
    days = call.integer("DaysBeforeExpiry", minimum=1, maximum=2**31 - 1, source=expiry or {})
    await call.authorise("acm:PutAccountConfiguration", "*", {})
    if days is not None:
        await call.acm.put_days_before_expiry(call.tenant_id, days)
    return {}


ACTIONS: Final[dict[str, Handler]] = {
    "AddTagsToCertificate": add_tags_to_certificate,
    "DeleteCertificate": delete_certificate,
    "DescribeCertificate": describe_certificate,
    "ExportCertificate": export_certificate,
    "GetAccountConfiguration": get_account_configuration,
    "GetCertificate": get_certificate,
    "ImportCertificate": import_certificate,
    "ListCertificates": list_certificates,
    "ListTagsForCertificate": list_tags_for_certificate,
    "PutAccountConfiguration": put_account_configuration,
    "RemoveTagsFromCertificate": remove_tags_from_certificate,
    "RenewCertificate": renew_certificate,
    "RequestCertificate": request_certificate,
}
_ISSUING: Final = (
    "is not offered by this platform: ACM issues a certificate once it has validated the "
    "domain by DNS or e-mail through a public CA, which this platform has not. Import the "
    "certificate with ImportCertificate (decision 0230)."
)
# A public RequestCertificate (without CertificateAuthorityArn).
ISSUING_REFUSED: Final = _ISSUING.replace(
    "(decision 0230)",
    "or name the operator's private CA in CertificateAuthorityArn (decision 0230)",
)
# Operations of ACM's model not served, each with the reason given to the caller.
NOT_SERVED: Final[dict[str, str]] = {
    "ResendValidationEmail": _ISSUING,
    "RevokeCertificate": "is not offered by this platform: only ACM-issued certificates are "
    "revoked, and it issues none (decision 0230).",
    "UpdateCertificateOptions": "is not offered by this platform: it sets the options of "
    "ACM-issued certificates, and it issues none (decision 0230).",
}
# The rest of ACM's model (its ACME endpoints, inventory and member-account calls, the newer
# tagging and search calls): answered NotImplemented, never UnknownOperation.
OTHER_OPERATIONS: Final = frozenset({
    "CreateAcmeDomainValidation", "CreateAcmeEndpoint", "CreateAcmeExternalAccountBinding",
    "DeleteAcmeDomainValidation", "DeleteAcmeEndpoint", "DeleteAcmeExternalAccountBinding",
    "DeleteMemberCertificate", "DeleteMemberCertificateAuthority", "DescribeAcmeAccount",
    "DescribeAcmeDomainValidation", "DescribeAcmeEndpoint", "DescribeAcmeExternalAccountBinding",
    "GetAcmeExternalAccountBindingCredentials", "GetInventoryConfiguration",
    "GetInventoryInsights", "ListAcmeAccounts", "ListAcmeDomainValidations",
    "ListAcmeEndpoints", "ListAcmeExternalAccountBindings", "ListCertificateDomainValidations",
    "ListInventoryFindings", "ListInventoryRelatedResources", "ListInventoryUsages",
    "ListTagsForResource", "PutInventoryConfiguration", "RenewMemberCertificate",
    "RestoreMemberCertificateAuthority", "RevokeAcmeAccount", "RevokeAcmeExternalAccountBinding",
    "RevokeMemberCertificate", "RevokeMemberIssuedCertificate", "SearchCertificates",
    "SearchInventory", "TagResource", "UntagResource", "UpdateAcmeDomainValidation",
    "UpdateAcmeEndpoint", "UpdateMemberCertificateAuthority", "UpdateMemberCertificateOptions",
})  # fmt: skip
