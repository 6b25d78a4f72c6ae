"""SAML 2.0 assertions: their checks, and what a valid one says (decision 0095).

STS AssumeRoleWithSAML passes the base64 of an IdP's ``samlp:Response``. It is accepted only
when, in this order:

1. it is base64 of well-formed XML without a DTD (defusedxml refuses one first: no entity, no
   XML bomb, no network), a ``Response`` holding **exactly one** ``Assertion`` in the whole
   document, as its child, and no ``EncryptedAssertion`` (not offered);
2. the Response, or the Assertion, carries an XML signature (signxml, over lxml and
   cryptography) that verifies with one of the provider's certificates, at the time of the
   check, with RSA or ECDSA over SHA-256 or stronger (SHA-1 and HMAC refused), one reference,
   to the element that holds the signature. **From there on only what the verifier returns as
   signed is read** — never the document it came in — which is what defeats signature wrapping
   (a signed assertion moved, an unsigned one beside it) and the comment-in-NameID class of 2018
   (the signed copy has no comments, and the NameID is read whole);
3. its ``Issuer`` is the provider's entity id; the Response's status is Success;
4. exactly one bearer ``SubjectConfirmation``, whose ``SubjectConfirmationData`` has a
   ``Recipient`` among this deployment's SAML endpoints and a ``NotOnOrAfter``; the
   ``Conditions``' ``NotBefore``/``NotOnOrAfter``; each ``AudienceRestriction`` names one of
   the accepted audiences — all within ``clock_skew`` seconds (ExpiredIdentityToken when
   expired, InvalidIdentityToken when not yet valid);
5. a non-empty ``NameID`` (IdpRejectedClaim otherwise); AWS's attributes of AWS's shapes:
   ``Role`` (pairs of a role and a provider ARN), ``RoleSessionName`` (required),
   ``SessionDuration``, ``PrincipalTag:<key>``, ``TransitiveTagKeys``, ``SourceIdentity``.

Nothing here logs or keeps the assertion. Replay (an assertion taken once) is the caller's: it
needs the store (see ``saml_providers.py``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

import defusedxml.ElementTree as SafeElementTree
from defusedxml import DefusedXmlException
from lxml import etree
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.exceptions import SignXMLException
from signxml.verifier import SignatureConfiguration, XMLVerifier

from andromede.iam.errors import ExpiredIdentityToken, IdpRejectedClaim, InvalidIdentityToken
from andromede.iam.model import SamlProvider, Tags, valid_source_identity
from andromede.iam.saml_metadata import parse_xml_datetime

__all__ = [
    "ASSERTION_MAX",
    "ATTRIBUTE",
    "AWS_AUDIENCE",
    "AWS_ENDPOINT",
    "VerifiedSamlAssertion",
    "accepted_endpoints",
    "decode_response",
    "name_qualifier",
    "offered_roles",
    "verify_response",
]

SAML: Final = "urn:oasis:names:tc:SAML:2.0:assertion"
SAMLP: Final = "urn:oasis:names:tc:SAML:2.0:protocol"
DS: Final = "http://www.w3.org/2000/09/xmldsig#"
ATTRIBUTE: Final = "https://aws.amazon.com/SAML/Attributes/"
AWS_ENDPOINT: Final = "https://signin.aws.amazon.com/saml"
AWS_AUDIENCE: Final = "urn:amazon:webservices"
ASSERTION_MAX: Final = 100_000  # STS's model: SAMLAssertion is 4 to 100,000 characters
_SUCCESS: Final = "urn:oasis:names:tc:SAML:2.0:status:Success"
_BEARER: Final = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
_NAMEID_FORMAT: Final = "urn:oasis:names:tc:SAML:2.0:nameid-format:"
_UNSPECIFIED: Final = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
_SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}")
_SESSION_DURATION_MIN, _SESSION_DURATION_MAX = 900, 43200

# What may sign: RSA or ECDSA over SHA-2; never SHA-1, never an HMAC (a shared secret).
_CONFIG: Final = SignatureConfiguration(
    require_x509=True,
    expect_references=1,
    signature_methods=frozenset(
        {
            SignatureMethod.RSA_SHA256,
            SignatureMethod.RSA_SHA384,
            SignatureMethod.RSA_SHA512,
            SignatureMethod.ECDSA_SHA256,
            SignatureMethod.ECDSA_SHA384,
            SignatureMethod.ECDSA_SHA512,
        }
    ),
    digest_algorithms=frozenset(
        {DigestAlgorithm.SHA256, DigestAlgorithm.SHA384, DigestAlgorithm.SHA512}
    ),
)
# lxml for signxml, after defusedxml has refused any DTD: no entities, no network, no huge tree.
_PARSER: Final = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
)

# The SAML attributes AWS maps to trust policy keys (``saml:<key>``), and whether each is a
# list of strings or one string (AWS's "Mapping SAML attributes to trust policy context keys").
_EDU = "urn:oid:1.3.6.1.4.1.5923.1."
_CONDITION_ATTRIBUTES: Final[dict[str, tuple[str, bool]]] = {
    _EDU + "1.1.1": ("eduPersonAffiliation", True),
    _EDU + "1.1.2": ("eduPersonNickname", True),
    _EDU + "1.1.3": ("eduPersonOrgDN", False),
    _EDU + "1.1.4": ("eduPersonOrgUnitDN", True),
    _EDU + "1.1.5": ("eduPersonPrimaryAffiliation", False),
    _EDU + "1.1.6": ("eduPersonPrincipalName", False),
    _EDU + "1.1.7": ("eduPersonEntitlement", True),
    _EDU + "1.1.8": ("eduPersonPrimaryOrgUnitDN", False),
    _EDU + "1.1.9": ("eduPersonScopedAffiliation", True),
    _EDU + "1.1.10": ("eduPersonTargetedID", True),
    _EDU + "1.1.11": ("eduPersonAssurance", True),
    _EDU + "2.1.2": ("eduOrgHomePageURI", True),
    _EDU + "2.1.3": ("eduOrgIdentityAuthNPolicyURI", True),
    _EDU + "2.1.4": ("eduOrgLegalName", True),
    _EDU + "2.1.5": ("eduOrgSuperiorURI", True),
    _EDU + "2.1.6": ("eduOrgWhitePagesURI", True),
    "urn:oid:2.5.4.3": ("cn", True),
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name": ("name", False),
    "http://schemas.xmlsoap.org/claims/CommonName": ("commonName", False),
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname": ("givenName", False),
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname": ("surname", False),
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress": ("mail", False),
    "http://schemas.microsoft.com/ws/2008/06/identity/claims/primarygroupsid": ("uid", False),
    "2.5.4.3": ("commonName", False),
    "2.5.4.4": ("surname", False),
    "2.4.5.42": ("givenName", False),
    "2.5.4.45": ("x500UniqueIdentifier", False),
    "0.9.2342.19200300100.1.1": ("uid", False),
    "0.9.2342.19200300100.1.3": ("mail", False),
    "0.9.2342.19200300.100.1.45": ("organizationStatus", False),
}


def name_qualifier(issuer: str, account: str, provider_name: str) -> str:
    """AWS's ``saml:namequalifier`` and the answer's ``NameQualifier``:
    base64(SHA-1(issuer + account + "/" + provider name)), a stable id of the IdP's users within
    one account (SHA-1 as a name, not as a signature)."""
    digest = hashlib.sha1(f"{issuer}{account}/{provider_name}".encode(), usedforsecurity=False)
    return base64.b64encode(digest.digest()).decode()


@dataclass(frozen=True, slots=True)
class VerifiedSamlAssertion:
    """What a valid assertion says, for the trust policy and the answer."""

    provider: SamlProvider
    assertion_id: str
    issuer: str
    subject: str
    subject_type: str  # "persistent", "transient", or the NameID's Format URI
    recipient: str  # the Recipient: the answer's Audience and ``saml:aud``
    expires_at: datetime  # the latest NotOnOrAfter: until when a replay must be refused
    roles: tuple[tuple[str, str], ...]  # (role ARN, provider ARN) pairs of the Role attribute
    session_name: str
    session_duration: int | None = None
    tags: Tags = ()
    transitive_tag_keys: tuple[str, ...] = ()
    source_identity: str | None = None
    attributes: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def name_qualifier(self) -> str:
        provider = self.provider
        return name_qualifier(self.issuer, provider.tenant_id, provider.name)

    @property
    def replay_key(self) -> str:
        """What identifies the assertion among all: its issuer and ID (SAML makes the ID
        unique per issuer), hashed to a fixed length."""
        return hashlib.sha256(f"{self.issuer}\0{self.assertion_id}".encode()).hexdigest()

    def condition_keys(self) -> dict[str, str | list[str]]:
        """The trust policy's ``saml:`` keys, as AWS names them."""
        provider = self.provider
        keys: dict[str, str | list[str]] = {
            "saml:aud": self.recipient,
            "saml:iss": self.issuer,
            "saml:sub": self.subject,
            "saml:sub_type": self.subject_type,
            "saml:namequalifier": self.name_qualifier,
            "saml:doc": f"{provider.tenant_id}/{provider.name}",
        }
        for name, values in self.attributes.items():
            mapped = _CONDITION_ATTRIBUTES.get(name)
            if mapped is not None and values:
                key, is_list = mapped
                keys.setdefault(f"saml:{key}", list(values) if is_list else values[0])
        return keys


def decode_response(value: str) -> bytes:
    """The XML of the ``SAMLAssertion`` parameter (base64, line breaks allowed).
    InvalidIdentityToken for anything else."""
    if not 4 <= len(value) <= ASSERTION_MAX:
        raise InvalidIdentityToken(f"The SAML assertion must be 4 to {ASSERTION_MAX} characters")
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidIdentityToken("The SAML assertion is not base64") from exc


def offered_roles(value: str) -> tuple[tuple[str, str], ...]:
    """The (role ARN, provider ARN) pairs of a Response's ``Role`` attribute, read WITHOUT
    verifying anything: for the console to ask which role to sign in as before STS verifies
    the assertion for the one chosen (and refuses a pair its signed copy does not hold). Either
    order within a pair, as AWS takes it. InvalidIdentityToken for what is no readable XML."""
    document = decode_response(value)
    try:
        root = SafeElementTree.fromstring(document, forbid_dtd=True)
    except (DefusedXmlException, ElementTree.ParseError, ValueError) as exc:
        raise InvalidIdentityToken("The SAML assertion is not well-formed XML") from exc
    pairs: list[tuple[str, str]] = []
    for attribute in root.iter(_q(SAML, "Attribute")):
        if attribute.get("Name") != ATTRIBUTE + "Role":
            continue
        for element in attribute.iter(_q(SAML, "AttributeValue")):
            parts = [part.strip() for part in "".join(element.itertext()).split(",")]
            if len(parts) == 2:
                provider_last = sorted(parts, key=lambda part: ":saml-provider/" in part)
                pairs.append((provider_last[0], provider_last[1]))
    return tuple(dict.fromkeys(pairs))


def _q(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}"


def _text(element: etree._Element | None) -> str:
    """All the text of ``element``, whole (never only the part before a comment), stripped."""
    if element is None:
        return ""
    return "".join(str(part) for part in element.itertext()).strip()


def verify_response(
    document: bytes,
    provider: SamlProvider,
    *,
    recipients: frozenset[str],
    audiences: frozenset[str],
    now: datetime,
    clock_skew: float,
) -> VerifiedSamlAssertion:
    """The assertion ``document`` (a ``samlp:Response``) proves, checked against ``provider``
    (see the module's docstring). ``recipients``: the accepted ``Recipient`` values;
    ``audiences``: the accepted ``Audience`` values."""
    root = _parse(document)
    signed_response, assertion = _verified(root, provider, now)
    status = (signed_response if signed_response is not None else root).find(
        f"{_q(SAMLP, 'Status')}/{_q(SAMLP, 'StatusCode')}"
    )
    if status is None or status.get("Value") != _SUCCESS:
        raise IdpRejectedClaim("The SAML response's status is not Success")
    if assertion.get("Version") != "2.0" or not (assertion_id := assertion.get("ID") or ""):
        raise InvalidIdentityToken("The SAML assertion is not a SAML 2.0 assertion with an ID")
    issuer = _text(assertion.find(_q(SAML, "Issuer")))
    if issuer != provider.entity_id:
        raise InvalidIdentityToken("The SAML assertion's Issuer is not the provider's entity id")
    if provider.valid_until is not None and now > provider.valid_until:
        raise InvalidIdentityToken("The SAML provider's metadata is no longer valid")
    skew = timedelta(seconds=clock_skew)
    recipient, confirmed_until = _subject_confirmation(assertion, recipients, now, skew)
    conditions_until = _conditions(assertion, audiences, now, skew)
    name_id = assertion.find(f"{_q(SAML, 'Subject')}/{_q(SAML, 'NameID')}")
    subject = _text(name_id)
    if not subject:
        raise IdpRejectedClaim("The SAML assertion has no NameID")
    assert name_id is not None  # noqa: S101 (a subject was read from it)
    attributes = _attributes(assertion)
    return VerifiedSamlAssertion(
        provider=provider,
        assertion_id=assertion_id,
        issuer=issuer,
        subject=subject,
        subject_type=_subject_type(name_id.get("Format")),
        recipient=recipient,
        expires_at=max(confirmed_until, conditions_until or confirmed_until) + skew,
        roles=_roles(attributes.get(ATTRIBUTE + "Role", ())),
        session_name=_session_name(attributes.get(ATTRIBUTE + "RoleSessionName", ())),
        session_duration=_session_duration(attributes.get(ATTRIBUTE + "SessionDuration")),
        tags=_tags(attributes),
        transitive_tag_keys=attributes.get(ATTRIBUTE + "TransitiveTagKeys", ()),
        source_identity=_source_identity(attributes.get(ATTRIBUTE + "SourceIdentity")),
        attributes=attributes,
    )


def _parse(document: bytes) -> etree._Element:
    """The Response: defusedxml first, which refuses a DTD (and so every entity) before
    anything is expanded; then lxml, without entities or network, for the signature."""
    try:
        SafeElementTree.fromstring(document, forbid_dtd=True)
        root: etree._Element = etree.fromstring(document, parser=_PARSER)
    except (DefusedXmlException, ElementTree.ParseError, etree.XMLSyntaxError, ValueError) as exc:
        raise InvalidIdentityToken("The SAML assertion is not well-formed XML") from exc
    if root.tag != _q(SAMLP, "Response"):
        raise InvalidIdentityToken("The SAML assertion must be a samlp:Response")
    if root.find(f".//{_q(SAML, 'EncryptedAssertion')}") is not None:
        raise InvalidIdentityToken("Encrypted SAML assertions are not supported")
    assertions = root.findall(f".//{_q(SAML, 'Assertion')}")
    if len(assertions) != 1 or assertions[0].getparent() is not root:
        raise InvalidIdentityToken("The SAML response must hold exactly one Assertion")
    return root


def _verified(
    root: etree._Element, provider: SamlProvider, now: datetime
) -> tuple[etree._Element | None, etree._Element]:
    """(the signed Response or None, the signed Assertion), as the verifier returned them: the
    Response's signature if it has one, else the Assertion's, with each of the provider's
    certificates in turn (a rotation lists the old and the new)."""
    if root.find(_q(DS, "Signature")) is not None:
        location, signed_tag = "./", _q(SAMLP, "Response")
    else:
        location, signed_tag = f"./{_q(SAML, 'Assertion')}/", _q(SAML, "Assertion")
    config = SignatureConfiguration(
        require_x509=_CONFIG.require_x509,
        expect_references=_CONFIG.expect_references,
        signature_methods=_CONFIG.signature_methods,
        digest_algorithms=_CONFIG.digest_algorithms,
        location=location,
        verification_time=now,
    )
    signed: etree._Element | None = None
    for certificate in provider.certificates:
        pem = "-----BEGIN CERTIFICATE-----\n" + certificate + "\n-----END CERTIFICATE-----\n"
        try:
            result = XMLVerifier().verify(root, x509_cert=pem, expect_config=config, parser=_PARSER)
        except (SignXMLException, ValueError, etree.LxmlError):
            continue
        if isinstance(result, list):  # never with one reference expected; for the type
            continue
        signed = result.signed_xml
        break
    # The reference must be to the element the signature is in: a signature in the Assertion
    # that points at another element (the Response's ID) signs something else.
    if signed is None or signed.tag != signed_tag:
        raise InvalidIdentityToken("The SAML assertion's signature could not be verified")
    if signed_tag == _q(SAML, "Assertion"):
        return None, signed
    assertions = signed.findall(_q(SAML, "Assertion"))
    if len(assertions) != 1:
        raise InvalidIdentityToken("The SAML response must hold exactly one Assertion")
    assertion: etree._Element = assertions[0]
    return signed, assertion


def _time(element: etree._Element, name: str) -> datetime | None:
    text = element.get(name)
    if text is None:
        return None
    try:
        return parse_xml_datetime(text)
    except ValueError as exc:
        raise InvalidIdentityToken(f"The SAML assertion's {name} is not a date") from exc


def _subject_confirmation(
    assertion: etree._Element, recipients: frozenset[str], now: datetime, skew: timedelta
) -> tuple[str, datetime]:
    """(the Recipient, the NotOnOrAfter) of the one bearer confirmation AWS requires."""
    confirmations = assertion.findall(f"{_q(SAML, 'Subject')}/{_q(SAML, 'SubjectConfirmation')}")
    if len(confirmations) != 1 or confirmations[0].get("Method") != _BEARER:
        raise InvalidIdentityToken("The SAML assertion needs exactly one bearer confirmation")
    data = confirmations[0].find(_q(SAML, "SubjectConfirmationData"))
    if data is None:
        raise InvalidIdentityToken("The SAML assertion has no SubjectConfirmationData")
    recipient = data.get("Recipient")
    until = _time(data, "NotOnOrAfter")
    if recipient is None or until is None:
        raise InvalidIdentityToken(
            "The SubjectConfirmationData needs a Recipient and a NotOnOrAfter"
        )
    if recipient not in recipients:
        raise InvalidIdentityToken("The SAML assertion's Recipient is not this service")
    _check_window(_time(data, "NotBefore"), until, now, skew)
    return recipient, until


def _conditions(
    assertion: etree._Element, audiences: frozenset[str], now: datetime, skew: timedelta
) -> datetime | None:
    conditions = assertion.find(_q(SAML, "Conditions"))
    if conditions is None:
        raise InvalidIdentityToken("The SAML assertion has no Conditions")
    until = _time(conditions, "NotOnOrAfter")
    _check_window(_time(conditions, "NotBefore"), until, now, skew)
    restrictions = conditions.findall(_q(SAML, "AudienceRestriction"))
    if not restrictions:
        raise InvalidIdentityToken("The SAML assertion has no AudienceRestriction")
    for restriction in restrictions:  # SAML: every restriction must be met
        named = {_text(a) for a in restriction.findall(_q(SAML, "Audience"))}
        if not named & audiences:
            raise InvalidIdentityToken("The SAML assertion's Audience is not this service")
    return until


def _check_window(
    not_before: datetime | None, not_on_or_after: datetime | None, now: datetime, skew: timedelta
) -> None:
    if not_on_or_after is not None and now >= not_on_or_after + skew:
        raise ExpiredIdentityToken("The SAML assertion has expired")
    if not_before is not None and now + skew < not_before:
        raise InvalidIdentityToken("The SAML assertion is not yet valid")


def _attributes(assertion: etree._Element) -> dict[str, tuple[str, ...]]:
    """Name -> values of every attribute of the signed assertion (a name given twice: its
    values together)."""
    attributes: dict[str, tuple[str, ...]] = {}
    path = f"{_q(SAML, 'AttributeStatement')}/{_q(SAML, 'Attribute')}"
    for attribute in assertion.iterfind(path):
        name = attribute.get("Name") or ""
        values = tuple(_text(v) for v in attribute.iterfind(_q(SAML, "AttributeValue")))
        attributes[name] = attributes.get(name, ()) + values
    return attributes


def _subject_type(name_format: str | None) -> str:
    """AWS's ``saml:sub_type``: ``persistent`` or ``transient`` for those formats, else the
    format's URI."""
    if name_format in (_NAMEID_FORMAT + "persistent", _NAMEID_FORMAT + "transient"):
        return name_format.removeprefix(_NAMEID_FORMAT)
    return name_format or _UNSPECIFIED


def _roles(values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for value in values:
        parts = [part.strip() for part in value.split(",")]
        if len(parts) == 2:
            pairs.append((parts[0], parts[1]))
    return tuple(pairs)


def _session_name(values: tuple[str, ...]) -> str:
    if len(values) != 1 or not _SESSION_NAME.fullmatch(values[0]):
        raise InvalidIdentityToken(
            "The SAML assertion needs one RoleSessionName attribute of 2 to 64 of [\\w+=,.@-]"
        )
    return values[0]


def _session_duration(values: tuple[str, ...] | None) -> int | None:
    if values is None:
        return None
    if len(values) != 1 or not values[0].isdigit():
        raise InvalidIdentityToken("The SAML assertion's SessionDuration must be one integer")
    duration = int(values[0])
    if not _SESSION_DURATION_MIN <= duration <= _SESSION_DURATION_MAX:
        raise InvalidIdentityToken("The SAML assertion's SessionDuration must be 900 to 43200")
    return duration


def _tags(attributes: dict[str, tuple[str, ...]]) -> Tags:
    prefix = ATTRIBUTE + "PrincipalTag:"
    tags = []
    for name, values in attributes.items():
        if name.startswith(prefix):
            if len(values) != 1:
                raise InvalidIdentityToken("A PrincipalTag attribute must have one value")
            tags.append((name.removeprefix(prefix), values[0]))
    return tuple(tags)


def _source_identity(values: tuple[str, ...] | None) -> str | None:
    if values is None:
        return None
    if len(values) != 1 or not valid_source_identity(values[0]):
        raise InvalidIdentityToken(
            "The SAML assertion's SourceIdentity must be one value of 2 to 64 of [\\w+=,.@-]"
        )
    return values[0]


def accepted_endpoints(
    configured: tuple[str, ...], accept_aws: bool, region: str
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the accepted Recipients, the accepted Audiences): the operator's own SAML endpoint
    URLs, and, when ``accept_aws``, AWS's — the global ``https://signin.aws.amazon.com/saml``
    and the regional one of ``region`` — which IdPs configured for AWS already send; an
    Audience may also be ``urn:amazon:webservices``, AWS's entity id."""
    recipients = list(configured)
    audiences = list(configured)
    if accept_aws:
        aws = (AWS_ENDPOINT, f"https://{region}.signin.aws.amazon.com/saml")
        recipients.extend(aws)
        audiences.extend((*aws, AWS_AUDIENCE))
    return tuple(dict.fromkeys(recipients)), tuple(dict.fromkeys(audiences))
