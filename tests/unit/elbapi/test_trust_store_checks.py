"""Trust stores' pure rules (decision 0256): a CA bundle and a CRL checked as ELBv2 checks
them, a listener's MutualAuthentication rules, the headers a target is told, and the mutual
TLS settings as the hypervisor port carries them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from andromede.loadbalancing.errors import InvalidConfiguration, LbValidationError, Refused
from andromede.loadbalancing.trust_stores import (
    MutualAuthentication,
    MutualTls,
    checked_bundle,
    checked_crl,
    client_certificate_headers,
    is_revoked,
    mutual_document,
    mutual_from,
)
from support.client_pki import ClientCa


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def _rsa_ca(bits: int) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"RSA {bits}")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def test_a_bundle_of_ca_certificates_is_taken() -> None:
    first, second = ClientCa("One"), ClientCa("Two")
    taken = checked_bundle((first.pem + second.pem).encode(), 25)
    assert [c.subject for c in taken] == [first.name, second.name]
    assert len(checked_bundle(_rsa_ca(2048).encode(), 25)) == 1


@pytest.mark.parametrize(
    "bundle",
    [
        b"",
        b"\xff\xfe not text",
        b"just words",
        ClientCa(ca=False).pem.encode(),  # not a CA
        (ClientCa().pem + ClientCa().issue("x").key_pem).encode(),  # a private key inside
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    ],
)
def test_a_bundle_is_refused_unless_pem_ca_certificates(bundle: bytes) -> None:
    with pytest.raises(Refused) as caught:
        checked_bundle(bundle, 25)
    assert caught.value.code == "InvalidCaCertificatesBundle"


def test_a_bundle_refuses_small_rsa_keys_and_too_many_certificates() -> None:
    with pytest.raises(Refused, match="RSA key"):
        checked_bundle(_rsa_ca(1024).encode(), 25)
    three = "".join(ClientCa(f"CA {i}").pem for i in range(3)).encode()
    assert len(checked_bundle(three, 3)) == 3
    with pytest.raises(Refused, match="more than 2 certificates"):
        checked_bundle(three, 2)


def test_a_crl_is_taken_from_its_issuer_only() -> None:
    ca, other = ClientCa(), ClientCa("Other CA")
    revoked = [ca.issue("a").serial, ca.issue("b").serial]
    for pem in (False, True):
        crl = checked_crl(ca.crl(*revoked, pem=pem), [other.certificate, ca.certificate], 10)
        assert crl.serials == tuple(sorted(revoked))
        assert crl.issuer == "CN=Andromede Client CA,O=Andromede"
    for content, authorities in (
        (other.crl(1), [ca.certificate]),  # an issuer not in the store
        (b"not a crl", [ca.certificate]),
    ):
        with pytest.raises(Refused) as caught:
            checked_crl(content, authorities, 10)
        assert caught.value.code == "InvalidRevocationContent"
    # Same name, another key: the signature does not hold.
    impostor = ClientCa()
    with pytest.raises(Refused, match="not signed"):
        checked_crl(impostor.crl(1), [ca.certificate], 10)
    with pytest.raises(Refused) as caught:
        checked_crl(ca.crl(*revoked), [ca.certificate], 1)
    assert caught.value.code == "TooManyTrustStoreRevocationEntries"


def test_mutual_authentication_rules() -> None:
    assert MutualAuthentication.checked("off", "", None, None) == MutualAuthentication()
    assert MutualAuthentication.checked("passthrough", "", None, None).mode == "passthrough"
    verify = MutualAuthentication.checked("verify", "ts1", True, "on")
    assert (verify.trust_store_id, verify.ignore_expiry, verify.advertise_ca_names) == (
        "ts1",
        True,
        "on",
    )
    with pytest.raises(LbValidationError):
        MutualAuthentication.checked("strict", "", None, None)
    with pytest.raises(LbValidationError):
        MutualAuthentication.checked("verify", "ts1", None, "maybe")
    for mode, store, ignore in (("verify", "", None), ("passthrough", "ts1", None),
                                ("off", "", True)):  # fmt: skip
        with pytest.raises(InvalidConfiguration):
            MutualAuthentication.checked(mode, store, ignore, None)


def test_headers_told_to_the_target() -> None:
    ca = ClientCa()
    client = ca.issue("alice")
    leaf = _der(client.certificate)
    verify = dict(client_certificate_headers("verify", leaf))
    assert int(verify[b"x-amzn-mtls-clientcert-serial-number"], 16) == client.serial
    assert len(verify[b"x-amzn-mtls-clientcert-serial-number"]) % 2 == 0
    assert verify[b"x-amzn-mtls-clientcert-subject"] == b"CN=alice"
    assert verify[b"x-amzn-mtls-clientcert-issuer"] == b"CN=Andromede Client CA,O=Andromede"
    before = client.certificate.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    after = client.certificate.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert verify[b"x-amzn-mtls-clientcert-validity"] == (
        f"NotBefore={before};NotAfter={after}".encode()
    )
    encoded = verify[b"x-amzn-mtls-clientcert-leaf"].decode()
    assert encoded.startswith("-----BEGIN%20CERTIFICATE-----%0A")
    assert " " not in encoded and "\n" not in encoded
    assert unquote(encoded) == client.pem
    passthrough = client_certificate_headers("passthrough", leaf)
    assert [k for k, _ in passthrough] == [b"x-amzn-mtls-clientcert"]
    assert unquote(passthrough[0][1].decode()) == client.pem
    assert client_certificate_headers("verify", None) == []
    assert client_certificate_headers("off", leaf) == []


def test_revocations_and_the_port_document() -> None:
    ca = ClientCa()
    revoked, kept = ca.issue("r"), ca.issue("k")
    crl = checked_crl(ca.crl(revoked.serial), [ca.certificate], 10)
    mutual = MutualTls(
        "verify", ca.pem, frozenset((crl.issuer, s) for s in crl.serials), True, True
    )
    assert is_revoked(mutual, _der(revoked.certificate))
    assert not is_revoked(mutual, _der(kept.certificate))
    assert mutual_from(mutual_document(mutual)) == mutual
    assert mutual_from(mutual_document(MutualTls("passthrough"))) == MutualTls("passthrough")
    assert mutual_document(None) == "" and mutual_from("") is None
    with pytest.raises(ValueError):
        mutual_from('{"mode": "off"}')
