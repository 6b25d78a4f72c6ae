"""Decision 0230's private certificates: with the operator's private CA configured,
RequestCertificate naming its ARN issues a PRIVATE certificate at once (its key made here and
sealed as an imported one's), described and listed as AWS Private CA's, its chain the CA's;
ExportCertificate gives its key encrypted under the passphrase; a public request, another
authority or a key algorithm not offered refused in ACM's words; a private certificate is not
re-imported; the operator's files checked at start."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from andromede.acm.expiry import ExpiryNotice, check_expiry
from andromede.acm.private_ca import PrivateAuthority
from andromede.errors import ConfigurationError
from andromede.settings import Settings
from andromede.wiring.acm import private_authority
from support.acmapp import REGION, World, acm_world, ca_files, issue, private_ca


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async for made in acm_world(tmp_path, authority=private_ca()):
        yield made


async def test_a_private_certificate_issued_described_and_exported(world: World) -> None:
    authority = world.acm.authority
    assert authority is not None
    assert authority.arn.startswith(f"arn:aws:acm-pca:{REGION}:000000000000:certificate-authority/")
    made = await world.client(
        "RequestCertificate", DomainName="app.internal.test",
        SubjectAlternativeNames=["*.app.internal.test"], CertificateAuthorityArn=authority.arn,
        KeyAlgorithm="EC_prime256v1", IdempotencyToken="once",
        Tags=[{"Key": "team", "Value": "platform"}],
    )  # fmt: skip
    arn = made["CertificateArn"]
    detail = (await world.client("DescribeCertificate", CertificateArn=arn))["Certificate"]
    assert (detail["Type"], detail["Status"], detail["KeyAlgorithm"]) == (
        "PRIVATE", "ISSUED", "EC_prime256v1"
    )  # fmt: skip
    assert detail["CertificateAuthorityArn"] == authority.arn
    assert detail["SubjectAlternativeNames"] == ["app.internal.test", "*.app.internal.test"]
    assert detail["Issuer"] == "C=FR,O=Andromede Test,CN=Andromede Test CA"
    assert detail["Options"]["Export"] == "ENABLED"
    assert "ImportedAt" not in detail and detail["IssuedAt"] == detail["CreatedAt"]
    lifetime = detail["NotAfter"] - datetime.now(UTC)
    assert timedelta(days=394) < lifetime <= timedelta(days=395)
    got = await world.client("GetCertificate", CertificateArn=arn)
    assert got["CertificateChain"] == authority.certificate_pem.strip()
    exported = await world.client("ExportCertificate", CertificateArn=arn, Passphrase=b"s3cret!")
    assert exported["Certificate"] == got["Certificate"]
    assert "ENCRYPTED PRIVATE KEY" in exported["PrivateKey"]
    key = serialization.load_pem_private_key(exported["PrivateKey"].encode(), b"s3cret!")
    certificate = x509.load_pem_x509_certificate(got["Certificate"].encode())
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert key.public_key().public_bytes(*spki) == certificate.public_key().public_bytes(*spki)
    with pytest.raises(TypeError):  # no passphrase: no key
        serialization.load_pem_private_key(exported["PrivateKey"].encode(), None)
    listed = await world.client(
        "ListCertificates", Includes={"keyTypes": ["EC_prime256v1"]},
        CertificateKeyPairOrigins=["AWS_MANAGED"],
    )  # fmt: skip
    (summary,) = listed["CertificateSummaryList"]
    assert (summary["CertificateArn"], summary["Type"], summary["ExportOption"]) == (
        arn, "PRIVATE", "ENABLED"
    )  # fmt: skip
    assert summary["RenewalEligibility"] == "ELIGIBLE"
    tags = await world.client("ListTagsForCertificate", CertificateArn=arn)
    assert tags["Tags"] == [{"Key": "team", "Value": "platform"}]
    # A private certificate is not re-imported; an imported one is not exported.
    other = issue("app.internal.test")
    await world.fails("ImportCertificate", "ValidationException", CertificateArn=arn,
                      Certificate=other.body.encode(), PrivateKey=other.key.encode())  # fmt: skip
    imported = await world.imported(other)
    await world.fails("ExportCertificate", "ValidationException", CertificateArn=imported,
                      Passphrase=b"s3cret!")  # fmt: skip
    # Renewed under its ARN: a new key and validity, the same names.
    assert detail["RenewalEligibility"] == "ELIGIBLE"
    await world.client("RenewCertificate", CertificateArn=arn)
    renewed = await world.client("GetCertificate", CertificateArn=arn)
    assert renewed["Certificate"] != got["Certificate"]
    again = (await world.client("DescribeCertificate", CertificateArn=arn))["Certificate"]
    assert again["SubjectAlternativeNames"] == detail["SubjectAlternativeNames"]
    assert again["KeyAlgorithm"] == "EC_prime256v1" and again["Serial"] != detail["Serial"]
    actions = await world.actions()
    assert ("acm:RenewCertificate", arn, "success") in actions
    assert ("acm:RequestCertificate", arn, "success") in actions
    assert ("acm:ExportCertificate", arn, "success") in actions


async def test_requests_refused_in_acms_words(world: World) -> None:
    authority = world.acm.authority
    assert authority is not None
    public = await world.raw("RequestCertificate", {"DomainName": "www.example.test"})
    assert public.status == 501
    assert "CertificateAuthorityArn" in public.error_fields()["message"]
    other = authority.arn[:-12] + "000000000000"
    await world.fails("RequestCertificate", "InvalidArnException", DomainName="a.test",
                      CertificateAuthorityArn=other)  # fmt: skip
    await world.fails("RequestCertificate", "InvalidParameterException", DomainName="a.test",
                      CertificateAuthorityArn=authority.arn, KeyAlgorithm="RSA_1024")  # fmt: skip
    await world.fails("RequestCertificate", "ValidationException", DomainName="not a name",
                      CertificateAuthorityArn=authority.arn)  # fmt: skip
    arn = (await world.client("RequestCertificate", DomainName="a.test",
                              CertificateAuthorityArn=authority.arn))["CertificateArn"]  # fmt: skip
    await world.fails("ExportCertificate", "ValidationException", CertificateArn=arn,
                      Passphrase=b"abc")  # fmt: skip
    user = await world.iam_user("dev")
    await user.fails("RequestCertificate", "AccessDeniedException", DomainName="b.test",
                     CertificateAuthorityArn=authority.arn)  # fmt: skip


async def test_without_an_authority_a_request_is_refused(tmp_path: Path) -> None:
    async for world in acm_world(tmp_path):
        reply = await world.raw(
            "RequestCertificate",
            {"DomainName": "a.test", "CertificateAuthorityArn": private_ca().arn},
        )
        assert reply.error_fields()["__type"] == "InvalidArnException"


def test_the_operators_files_checked_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "andromede.wiring.acm")
    pem, key = ca_files()
    (tmp_path / "ca.pem").write_bytes(pem)
    (tmp_path / "ca-key.pem").write_bytes(key)
    base = {"data_dir": tmp_path / "data", "region": REGION}
    assert private_authority(Settings(**base)) is None
    loaded = private_authority(Settings(**base, acm_private_ca_certificate=tmp_path / "ca.pem",
                                        acm_private_ca_key=tmp_path / "ca-key.pem"))  # fmt: skip
    assert loaded is not None and loaded.arn == private_ca().arn  # every gateway alike
    assert "PRIVATE KEY" not in repr(loaded)
    assert loaded.arn in caplog.text and "PRIVATE KEY" not in caplog.text
    with pytest.raises(ConfigurationError, match="go together"):
        private_authority(Settings(**base, acm_private_ca_certificate=tmp_path / "ca.pem"))
    with pytest.raises(ConfigurationError, match="cannot be read"):
        private_authority(Settings(**base, acm_private_ca_certificate=tmp_path / "ca.pem",
                                   acm_private_ca_key=tmp_path / "none.pem"))  # fmt: skip
    leaf = issue("leaf.example.test", kind="ec256")
    with pytest.raises(ConfigurationError, match="not a CA"):
        PrivateAuthority.load(REGION, leaf.body.encode(), leaf.key.encode())
    with pytest.raises(ConfigurationError, match="not the certificate's"):
        PrivateAuthority.load(REGION, pem, leaf.key.encode())


async def test_the_expiry_check_renews_a_private_certificate(world: World) -> None:
    authority = world.acm.authority
    assert authority is not None
    arn = (await world.client("RequestCertificate", DomainName="a.test",
                              CertificateAuthorityArn=authority.arn))["CertificateArn"]  # fmt: skip
    first = await world.acm.get(world.tenant_id, arn)
    days: list[int] = []

    async def observe(notice: ExpiryNotice) -> None:
        days.append(notice.days_to_expiry)

    now = datetime.now(UTC)
    assert await check_expiry(world.acm, now + timedelta(days=300), observe) == 1
    assert days == [95] and (await world.acm.get(world.tenant_id, arn)) == first
    later = now + timedelta(days=340)
    world.acm._clock = lambda: later  # the day the check runs, for the renewal too
    assert await check_expiry(world.acm, later, observe) == 1
    renewed = await world.acm.get(world.tenant_id, arn)
    assert renewed.facts.not_after > first.facts.not_after
    assert renewed.facts.serial != first.facts.serial and renewed.arn == arn
    assert days[1] == 395  # the renewed certificate's, told the same day
