"""A test SAML 2.0 identity provider: its metadata, and Responses signed the way ADFS,
Keycloak or Shibboleth sign them.

Signatures are made by the ``xmlsec1`` command-line tool (the XML Security Library, C), not by
signxml, which verifies them in the server: that the two agree is the interoperability under
test, not signxml checking itself. Each Response carries a ``ds:Signature`` template (the
algorithms chosen, the values empty) that ``xmlsec1 --sign`` fills in.
"""

from __future__ import annotations

import base64
import datetime as dt
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from support.rsa_keys import rsa_private_key

__all__ = [
    "ATTRIBUTE",
    "AWS_AUDIENCE",
    "AWS_ENDPOINT",
    "XMLSEC1",
    "IdentityProvider",
    "b64",
]

XMLSEC1 = shutil.which("xmlsec1")
AWS_ENDPOINT = "https://signin.aws.amazon.com/saml"
AWS_AUDIENCE = "urn:amazon:webservices"
ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
_ALGORITHMS = {
    "rsa-sha256": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "rsa-sha512": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    "rsa-sha1": "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
}
_DIGESTS = {
    "sha256": "http://www.w3.org/2001/04/xmlenc#sha256",
    "sha512": "http://www.w3.org/2001/04/xmlenc#sha512",
    "sha1": "http://www.w3.org/2000/09/xmldsig#sha1",
}


def b64(document: str) -> str:
    """The ``SAMLAssertion`` parameter: the Response in base64."""
    return base64.b64encode(document.encode()).decode()


def _iso(moment: float) -> str:
    return dt.datetime.fromtimestamp(moment, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class _Key:
    private: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @classmethod
    def new(cls, name: str, bits: int = 2048) -> _Key:
        private = rsa_private_key(bits)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = dt.datetime.now(dt.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(private.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=3650))
            .sign(private, hashes.SHA256())
        )
        return cls(private, certificate)

    @property
    def der_b64(self) -> str:
        return base64.b64encode(self.certificate.public_bytes(serialization.Encoding.DER)).decode()

    def pem_files(self, folder: Path) -> tuple[Path, Path]:
        key = folder / "key.pem"
        cert = folder / "cert.pem"
        key.write_bytes(
            self.private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        cert.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))
        return key, cert


@dataclass
class IdentityProvider:
    """An IdP of ``entity_id``, with a signing key (and others, for rotations)."""

    entity_id: str = "https://idp.example.org/saml/metadata"
    key: _Key = field(default_factory=lambda: _Key.new("test-idp"))

    def new_key(self) -> _Key:
        return _Key.new("test-idp-next")

    def metadata(self, *keys: _Key, valid_until: float | None = None) -> str:
        """The IdP's metadata with its signing key (or ``keys``), an encryption key that
        must not count, and an SSO endpoint."""
        signing = "".join(
            f'<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>'
            f"{k.der_b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
            for k in (keys or (self.key,))
        )
        until = "" if valid_until is None else f' validUntil="{_iso(valid_until)}"'
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
            f'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID={quoteattr(self.entity_id)}'
            f"{until}>"
            "<md:IDPSSODescriptor "
            'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
            f"{signing}"
            "<md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>"
            '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
            'Location="https://idp.example.org/saml/sso"/>'
            "</md:IDPSSODescriptor></md:EntityDescriptor>\n"
        )

    def assertion(
        self,
        *,
        now: float,
        roles: list[str],
        session_name: str | None = "alice",
        subject: str = "alice@example.org",
        subject_xml: str | None = None,
        name_format: str = PERSISTENT,
        recipient: str = AWS_ENDPOINT,
        audience: str = AWS_AUDIENCE,
        lifetime: float = 300,
        not_before: float | None = None,
        attributes: dict[str, list[str]] | None = None,
        assertion_id: str | None = None,
        issuer: str | None = None,
        signature: str = "",
    ) -> str:
        """An Assertion (``signature``: a template to put in it, after its Issuer)."""
        attributes = dict(attributes or {})
        attributes.setdefault(ATTRIBUTE + "Role", roles)
        if session_name is not None:
            attributes.setdefault(ATTRIBUTE + "RoleSessionName", [session_name])
        statements = "".join(
            f"<saml:Attribute Name={quoteattr(name)}>"
            + "".join(f"<saml:AttributeValue>{escape(v)}</saml:AttributeValue>" for v in values)
            + "</saml:Attribute>"
            for name, values in attributes.items()
        )
        start = now - 5 if not_before is None else not_before
        name_id = subject_xml if subject_xml is not None else escape(subject)
        return (
            f'<saml:Assertion xmlns:saml="{SAML}" ID="{assertion_id or "_" + uuid.uuid4().hex}" '
            f'Version="2.0" IssueInstant="{_iso(now)}">'
            f"<saml:Issuer>{escape(issuer or self.entity_id)}</saml:Issuer>{signature}"
            f'<saml:Subject><saml:NameID Format="{name_format}">{name_id}</saml:NameID>'
            '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
            f'<saml:SubjectConfirmationData NotOnOrAfter="{_iso(now + lifetime)}" '
            f"Recipient={quoteattr(recipient)}/></saml:SubjectConfirmation></saml:Subject>"
            f'<saml:Conditions NotBefore="{_iso(start)}" NotOnOrAfter="{_iso(now + lifetime)}">'
            f"<saml:AudienceRestriction><saml:Audience>{escape(audience)}</saml:Audience>"
            "</saml:AudienceRestriction></saml:Conditions>"
            f'<saml:AuthnStatement AuthnInstant="{_iso(now)}"><saml:AuthnContext>'
            "<saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:"
            "PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext>"
            "</saml:AuthnStatement>"
            f"<saml:AttributeStatement>{statements}</saml:AttributeStatement>"
            "</saml:Assertion>"
        )

    def response(
        self,
        *,
        now: float,
        sign: str = "assertion",
        algorithm: str = "rsa-sha256",
        digest: str = "sha256",
        key: _Key | None = None,
        inner: str | None = None,
        reference: str | None = None,
        **claims: object,
    ) -> str:
        """A Response holding one Assertion (or ``inner``, as given), signed by xmlsec1:
        ``sign`` is "assertion", "response" or "none"; ``reference``: the ID the signature
        points at, if not the signed element's own."""
        response_id = str(claims.pop("response_id", None) or "_" + uuid.uuid4().hex)
        assertion_id = str(claims.pop("assertion_id", None) or "_" + uuid.uuid4().hex)
        template_for = assertion_id if sign == "assertion" else response_id
        template = _template(reference or template_for, algorithm, digest)
        if inner is None:
            inner = self.assertion(
                now=now,
                assertion_id=assertion_id,
                signature=template if sign == "assertion" else "",
                **claims,  # type: ignore[arg-type]
            )
        document = (
            f'<samlp:Response xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="{response_id}" '
            f'Version="2.0" IssueInstant="{_iso(now)}" Destination="{AWS_ENDPOINT}">'
            f"<saml:Issuer>{escape(self.entity_id)}</saml:Issuer>"
            f"{template if sign == 'response' else ''}"
            '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/>'
            f"</samlp:Status>{inner}</samlp:Response>"
        )
        if sign == "none":
            return document
        return xmlsec1_sign(document, key or self.key)


def _template(reference: str, algorithm: str, digest: str) -> str:
    return (
        '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>'
        '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
        f'<ds:SignatureMethod Algorithm="{_ALGORITHMS[algorithm]}"/>'
        f'<ds:Reference URI="#{reference}"><ds:Transforms>'
        '<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>'
        '<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>'
        f'<ds:DigestMethod Algorithm="{_DIGESTS[digest]}"/><ds:DigestValue/></ds:Reference>'
        "</ds:SignedInfo><ds:SignatureValue/>"
        "<ds:KeyInfo><ds:X509Data><ds:X509Certificate/></ds:X509Data></ds:KeyInfo></ds:Signature>"
    )


def xmlsec1_sign(document: str, key: _Key) -> str:
    """``document`` with its signature template filled in by ``xmlsec1 --sign``, the ``ID``
    attributes of Assertions and Responses declared as what references point at."""
    assert XMLSEC1 is not None, "xmlsec1 is not installed (scripts/install-system-deps.sh)"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder)
        key_file, cert_file = key.pem_files(path)
        source, signed = path / "in.xml", path / "out.xml"
        source.write_text(document)
        subprocess.run(
            [
                XMLSEC1,
                "--sign",
                "--privkey-pem",
                f"{key_file},{cert_file}",
                "--id-attr:ID",
                f"{SAML}:Assertion",
                "--id-attr:ID",
                f"{SAMLP}:Response",
                "--output",
                str(signed),
                str(source),
            ],
            check=True,
            capture_output=True,
        )
        return signed.read_text()
