"""SAML metadata and assertion checks (decision 0095), each alone, on Responses signed by
``xmlsec1`` (support/saml.py) and verified by signxml: the signature and what it covers
(wrapping, comments in the NameID, a reference elsewhere), the algorithms, the certificates, the
times, the addressees, the attributes, and XML bombs."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from andromede.iam.errors import (
    ExpiredIdentityToken,
    IdpRejectedClaim,
    InvalidIdentityToken,
    InvalidInput,
)
from andromede.iam.model import SamlProvider
from andromede.iam.saml import (
    ATTRIBUTE,
    AWS_AUDIENCE,
    AWS_ENDPOINT,
    VerifiedSamlAssertion,
    decode_response,
    name_qualifier,
    verify_response,
)
from andromede.iam.saml_metadata import parse_metadata
from support.saml import XMLSEC1, IdentityProvider, b64

pytestmark = pytest.mark.skipif(XMLSEC1 is None, reason="xmlsec1 is not installed")

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/dev"
PROVIDER = f"arn:aws:iam::{ACCOUNT}:saml-provider/corp"
ROLES = [f"{ROLE},{PROVIDER}"]
NOW = float(int(time.time()))
BOMB = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
)


@pytest.fixture(scope="module")
def idp() -> IdentityProvider:
    return IdentityProvider()


def provider_of(metadata: str) -> SamlProvider:
    parsed = parse_metadata(metadata, 1 << 20)
    return SamlProvider(
        tenant_id=ACCOUNT,
        name="corp",
        uuid="U" * 26,
        metadata=metadata,
        entity_id=parsed.entity_id,
        certificates=parsed.certificates,
        created_at=datetime.now(UTC),
        valid_until=parsed.valid_until,
    )


@pytest.fixture(scope="module")
def provider(idp: IdentityProvider) -> SamlProvider:
    return provider_of(idp.metadata())


def verify(
    document: str, provider: SamlProvider, *, at: float = NOW, skew: float = 60
) -> VerifiedSamlAssertion:
    return verify_response(
        decode_response(b64(document)),
        provider,
        recipients=frozenset({AWS_ENDPOINT}),
        audiences=frozenset({AWS_ENDPOINT, AWS_AUDIENCE}),
        now=datetime.fromtimestamp(at, UTC),
        clock_skew=skew,
    )


def refused(document: str, provider: SamlProvider, error: type[Exception], **kw: float) -> str:
    with pytest.raises(error) as caught:
        verify(document, provider, **kw)
    return str(caught.value)


@pytest.mark.parametrize("sign", ["assertion", "response"])
def test_an_assertion_signed_by_xmlsec1_is_read_with_awss_keys(
    idp: IdentityProvider, provider: SamlProvider, sign: str
) -> None:
    attributes = {
        ATTRIBUTE + "PrincipalTag:team": ["ops"],
        ATTRIBUTE + "TransitiveTagKeys": ["team"],
        ATTRIBUTE + "SourceIdentity": ["alice"],
        ATTRIBUTE + "SessionDuration": ["1800"],
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.1": ["staff", "member"],
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress": ["a@example.org"],
    }
    verified = verify(
        idp.response(now=NOW, roles=ROLES, sign=sign, attributes=attributes), provider
    )
    assert (verified.subject, verified.session_name, verified.roles) == (
        "alice@example.org",
        "alice",
        ((ROLE, PROVIDER),),
    )
    assert (verified.tags, verified.transitive_tag_keys) == ((("team", "ops"),), ("team",))
    assert (verified.source_identity, verified.session_duration) == ("alice", 1800)
    keys = verified.condition_keys()
    assert keys["saml:aud"] == AWS_ENDPOINT
    assert keys["saml:iss"] == idp.entity_id
    assert keys["saml:sub_type"] == "persistent"
    assert keys["saml:doc"] == f"{ACCOUNT}/corp"
    assert keys["saml:namequalifier"] == name_qualifier(idp.entity_id, ACCOUNT, "corp")
    assert keys["saml:eduPersonAffiliation"] == ["staff", "member"]
    assert keys["saml:mail"] == "a@example.org"


def test_name_qualifier_is_awss_formula() -> None:
    # base64(SHA-1("https://example.com/saml" + "123456789012" + "/MySAMLIdP"))
    import base64
    import hashlib

    expected = base64.b64encode(
        hashlib.sha1(
            b"https://example.com/saml123456789012/MySAMLIdP", usedforsecurity=False
        ).digest()
    ).decode()
    assert name_qualifier("https://example.com/saml", ACCOUNT, "MySAMLIdP") == expected


def test_a_changed_signed_assertion_is_refused(
    idp: IdentityProvider, provider: SamlProvider
) -> None:
    signed = idp.response(now=NOW, roles=ROLES)
    tampered = signed.replace(">alice<", ">mallory<")
    assert tampered != signed
    refused(tampered, provider, InvalidIdentityToken)


def test_an_unsigned_assertion_is_refused(idp: IdentityProvider, provider: SamlProvider) -> None:
    refused(idp.response(now=NOW, roles=ROLES, sign="none"), provider, InvalidIdentityToken)


def test_a_signed_assertion_moved_beside_a_forged_one_is_refused(
    idp: IdentityProvider, provider: SamlProvider
) -> None:
    """Signature wrapping: the genuine signed assertion hidden in an Extensions element, an
    unsigned forged one in its place."""
    genuine = idp.response(now=NOW, roles=ROLES)
    start, end = genuine.index("<saml:Assertion"), genuine.index("</saml:Assertion>") + 17
    forged = idp.assertion(now=NOW, roles=ROLES, subject="admin@example.org")
    wrapped = (
        genuine[:start]
        + f"<samlp:Extensions>{genuine[start:end]}</samlp:Extensions>{forged}"
        + genuine[end:]
    )
    refused(wrapped, provider, InvalidIdentityToken)


def test_a_second_unsigned_assertion_is_refused(
    idp: IdentityProvider, provider: SamlProvider
) -> None:
    genuine = idp.response(now=NOW, roles=ROLES)
    forged = idp.assertion(now=NOW, roles=ROLES, subject="admin@example.org")
    added = genuine.replace("</samlp:Response>", forged + "</samlp:Response>")
    message = refused(added, provider, InvalidIdentityToken)
    assert "exactly one Assertion" in message


def test_a_comment_in_the_name_id_does_not_truncate_it(
    idp: IdentityProvider, provider: SamlProvider
) -> None:
    """The 2018 class (CVE-2017-11427 and kin): c14n drops comments, so the signature still
    holds, and a reader taking the first text node would see ``admin@example.org``."""
    signed = idp.response(now=NOW, roles=ROLES, subject="admin@example.org.evil.example")
    injected = signed.replace(
        "admin@example.org.evil.example", "admin@example.org<!---->.evil.example"
    )
    assert injected != signed
    assert verify(injected, provider).subject == "admin@example.org.evil.example"


def test_a_signature_referencing_another_element_is_refused(
    idp: IdentityProvider, provider: SamlProvider
) -> None:
    """A signature inside the Assertion whose reference is the Response: it signs the
    Response, not the Assertion it sits in."""
    document = idp.response(
        now=NOW, roles=ROLES, sign="assertion", response_id="_whole", reference="_whole"
    )
    refused(document, provider, InvalidIdentityToken)


@pytest.mark.parametrize(("algorithm", "digest"), [("rsa-sha1", "sha1"), ("rsa-sha256", "sha1")])
def test_sha1_is_refused(
    idp: IdentityProvider, provider: SamlProvider, algorithm: str, digest: str
) -> None:
    document = idp.response(now=NOW, roles=ROLES, algorithm=algorithm, digest=digest)
    refused(document, provider, InvalidIdentityToken)


def test_sha512_is_accepted(idp: IdentityProvider, provider: SamlProvider) -> None:
    document = idp.response(now=NOW, roles=ROLES, algorithm="rsa-sha512", digest="sha512")
    assert verify(document, provider).subject == "alice@example.org"


def test_a_certificate_not_in_the_metadata_is_refused(
    idp: IdentityProvider, provider: SamlProvider
) -> None:
    document = idp.response(now=NOW, roles=ROLES, key=idp.new_key())
    refused(document, provider, InvalidIdentityToken)


def test_every_signing_certificate_of_the_metadata_is_tried(idp: IdentityProvider) -> None:
    """A rotation: the metadata lists the old key and the new one."""
    new = idp.new_key()
    rotated = provider_of(idp.metadata(idp.key, new))
    assert len(rotated.certificates) == 2
    assert verify(idp.response(now=NOW, roles=ROLES, key=new), rotated).session_name == "alice"


def test_an_expired_assertion_is_refused_beyond_the_skew(
    idp: IdentityProvider, provider: SamlProvider
) -> None:
    document = idp.response(now=NOW, roles=ROLES, lifetime=300)
    assert verify(document, provider, at=NOW + 330, skew=60)
    refused(document, provider, ExpiredIdentityToken, at=NOW + 361, skew=60)


def test_a_not_yet_valid_assertion_is_refused(
    idp: IdentityProvider, provider: SamlProvider
) -> None:
    document = idp.response(now=NOW, roles=ROLES, not_before=NOW + 600, lifetime=900)
    refused(document, provider, InvalidIdentityToken)


def test_a_wrong_recipient_is_refused(idp: IdentityProvider, provider: SamlProvider) -> None:
    document = idp.response(now=NOW, roles=ROLES, recipient="https://other.example/saml")
    assert "Recipient" in refused(document, provider, InvalidIdentityToken)


def test_a_wrong_audience_is_refused(idp: IdentityProvider, provider: SamlProvider) -> None:
    document = idp.response(now=NOW, roles=ROLES, audience="https://other.example/sp")
    assert "Audience" in refused(document, provider, InvalidIdentityToken)


def test_another_issuer_is_refused(idp: IdentityProvider, provider: SamlProvider) -> None:
    document = idp.response(now=NOW, roles=ROLES, issuer="https://evil.example/idp")
    assert "Issuer" in refused(document, provider, InvalidIdentityToken)


def test_a_missing_or_invalid_role_session_name_is_refused(
    idp: IdentityProvider, provider: SamlProvider
) -> None:
    refused(idp.response(now=NOW, roles=ROLES, session_name=None), provider, InvalidIdentityToken)
    document = idp.response(now=NOW, roles=ROLES, session_name="John Doe")
    refused(document, provider, InvalidIdentityToken)


def test_a_session_duration_outside_awss_bounds_is_refused(
    idp: IdentityProvider, provider: SamlProvider
) -> None:
    attributes = {ATTRIBUTE + "SessionDuration": ["86400"]}
    document = idp.response(now=NOW, roles=ROLES, attributes=attributes)
    refused(document, provider, InvalidIdentityToken)


def test_an_empty_name_id_is_a_rejected_claim(
    idp: IdentityProvider, provider: SamlProvider
) -> None:
    refused(idp.response(now=NOW, roles=ROLES, subject=""), provider, IdpRejectedClaim)


def test_an_encrypted_assertion_is_refused(idp: IdentityProvider, provider: SamlProvider) -> None:
    document = idp.response(
        now=NOW,
        roles=ROLES,
        sign="none",
        inner='<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/'
        '04/xmlenc#"/></saml:EncryptedAssertion>',
    )
    assert "Encrypted" in refused(document, provider, InvalidIdentityToken)


def test_an_xml_bomb_in_the_assertion_is_refused_unexpanded(provider: SamlProvider) -> None:
    bomb = BOMB + '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&lol3;'
    bomb += "</samlp:Response>"
    started = time.monotonic()
    refused(bomb, provider, InvalidIdentityToken)
    assert time.monotonic() - started < 1


def test_the_assertion_parameter_must_be_base64() -> None:
    with pytest.raises(InvalidIdentityToken):
        decode_response("<samlp:Response/>")


def test_metadata_reads_the_signing_certificates_only(idp: IdentityProvider) -> None:
    encryption = idp.new_key()
    metadata = idp.metadata(idp.key).replace(
        '<md:KeyDescriptor use="signing">',
        '<md:KeyDescriptor use="encryption"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>'
        f"{encryption.der_b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>"
        '</md:KeyDescriptor><md:KeyDescriptor use="signing">',
    )
    parsed = parse_metadata(metadata, 1 << 20)
    assert parsed.certificates == (idp.key.der_b64,)
    assert parsed.entity_id == idp.entity_id


@pytest.mark.parametrize(
    "case", ["bomb", "short", "large", "no-signing-key", "not-metadata", "weak-key"]
)
def test_unusable_metadata_is_invalid_input(idp: IdentityProvider, case: str) -> None:
    metadata = idp.metadata()
    if case == "bomb":
        metadata = BOMB + metadata.split("\n", 1)[1].replace(
            "</md:EntityDescriptor>", "&lol3;</md:EntityDescriptor>"
        )
    elif case == "short":
        metadata = '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"/>'
    elif case == "large":
        metadata = metadata + " " * (1 << 20)
    elif case == "no-signing-key":
        metadata = metadata.replace('use="signing"', 'use="encryption"')
    elif case == "not-metadata":
        metadata = metadata.replace("md:EntityDescriptor", "md:EntitiesDescriptor")
    else:
        from support.saml import _Key

        metadata = idp.metadata(_Key.new("weak", bits=1024))
    with pytest.raises(InvalidInput):
        parse_metadata(metadata, 1 << 20)
