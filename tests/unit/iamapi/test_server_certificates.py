"""IAM server certificates in process, through botocore's serializer and parser (decision
0205): the shapes, IAM's checks of the certificate, chain and key with its codes, paging,
renames, tags, the policy engine's say on the certificate's ARN, tenant isolation, and the
private key sealed under the account's key ring — never answered, opened only inside."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.credentials import Credentials
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from andromede.iam.service import IdentityLimits
from support.clock import Clock
from support.queryapp import ApiError, Client, World, query_world

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


def pem_key(key: PrivateKey, password: bytes | None = None) -> str:
    encryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    ).decode()


def issued(
    key: PrivateKey,
    common_name: str = "www.example.org",
    *,
    issuer_key: PrivateKey | None = None,
    days: int = 90,
    start_days_ago: int = 1,
) -> str:
    now = datetime.now(UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    signer = issuer_key or key
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=start_days_ago))
        .not_valid_after(now + timedelta(days=days))
        .sign(signer, None if isinstance(signer, ed25519.Ed25519PrivateKey) else hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def ca_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def site_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


async def upload(root: Client, name: str, key: PrivateKey, **params: object) -> dict[str, object]:
    params.setdefault("CertificateBody", issued(key))
    answer = await root.call(
        "iam", "UploadServerCertificate", ServerCertificateName=name, PrivateKey=pem_key(key),
        **params,
    )  # fmt: skip
    return dict(answer)


async def expect(code: str, client: Client, action: str, **params: object) -> ApiError:
    with pytest.raises(ApiError) as caught:
        await client.call("iam", action, **params)
    assert caught.value.code == code, caught.value
    return caught.value


async def test_a_certificate_is_uploaded_read_listed_renamed_and_deleted(
    world: World, root: Client, ca_key: ec.EllipticCurvePrivateKey,
    site_key: ec.EllipticCurvePrivateKey,
) -> None:  # fmt: skip
    body = issued(site_key, issuer_key=ca_key)
    chain = issued(ca_key, "Test CA")
    answer = await upload(
        root, "www", site_key, CertificateBody=body, CertificateChain=chain, Path="/prod/",
        Tags=[{"Key": "team", "Value": "web"}],
    )  # fmt: skip
    metadata = answer["ServerCertificateMetadata"]
    assert isinstance(metadata, dict)
    assert metadata["Arn"] == f"arn:aws:iam::{world.tenant_id}:server-certificate/prod/www"
    assert metadata["Path"] == "/prod/" and metadata["ServerCertificateName"] == "www"
    assert str(metadata["ServerCertificateId"]).startswith("ASCA")
    assert len(str(metadata["ServerCertificateId"])) == 21
    expiration = x509.load_pem_x509_certificate(body.encode()).not_valid_after_utc
    assert metadata["Expiration"] == expiration.replace(microsecond=0)
    assert answer["Tags"] == [{"Key": "team", "Value": "web"}]

    got = (await root.call("iam", "GetServerCertificate", ServerCertificateName="www"))[
        "ServerCertificate"
    ]
    # Answered without the white space around them, as IAM does.
    assert got["CertificateBody"] == body.strip() and got["CertificateChain"] == chain.strip()
    assert got["ServerCertificateMetadata"] == metadata
    assert got["Tags"] == [{"Key": "team", "Value": "web"}]
    assert "PRIVATE KEY" not in json.dumps(got, default=str)

    other_key = ec.generate_private_key(ec.SECP384R1())
    await upload(root, "api", other_key)
    await upload(root, "mail", other_key, Path="/prod/")
    listed = await root.call("iam", "ListServerCertificates")
    assert [m["ServerCertificateName"] for m in listed["ServerCertificateMetadataList"]] == [
        "api", "mail", "www",
    ]  # fmt: skip
    assert listed["IsTruncated"] is False
    page = await root.call("iam", "ListServerCertificates", PathPrefix="/prod/", MaxItems=1)
    assert [m["ServerCertificateName"] for m in page["ServerCertificateMetadataList"]] == ["mail"]
    assert page["IsTruncated"] is True
    rest = await root.call(
        "iam", "ListServerCertificates", PathPrefix="/prod/", Marker=page["Marker"]
    )
    assert [m["ServerCertificateName"] for m in rest["ServerCertificateMetadataList"]] == ["www"]

    await root.call(
        "iam", "UpdateServerCertificate", ServerCertificateName="www",
        NewServerCertificateName="site", NewPath="/web/",
    )  # fmt: skip
    await expect("NoSuchEntity", root, "GetServerCertificate", ServerCertificateName="www")
    moved = await root.call("iam", "GetServerCertificate", ServerCertificateName="site")
    renamed = moved["ServerCertificate"]["ServerCertificateMetadata"]
    assert renamed["Arn"].endswith(":server-certificate/web/site")
    assert renamed["ServerCertificateId"] == metadata["ServerCertificateId"]
    error = await expect(
        "EntityAlreadyExists", root, "UpdateServerCertificate", ServerCertificateName="site",
        NewServerCertificateName="api",
    )  # fmt: skip
    assert "api already exists" in error.message

    await root.call("iam", "DeleteServerCertificate", ServerCertificateName="site")
    error = await expect(
        "NoSuchEntity", root, "DeleteServerCertificate", ServerCertificateName="site"
    )
    assert error.message == "The Server Certificate with name site cannot be found."


async def test_the_private_key_is_sealed_and_opened_only_inside(
    world: World, root: Client, site_key: ec.EllipticCurvePrivateKey
) -> None:
    await upload(root, "www", site_key)
    stored = await world.identity.get_server_certificate(world.tenant_id, "www")
    key_pem = pem_key(site_key).encode()
    assert b"PRIVATE KEY" not in stored.sealed_private_key
    der = site_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )  # fmt: skip
    assert der[-32:] not in stored.sealed_private_key
    opened = await world.identity.server_certificate_private_key(world.tenant_id, "www")
    assert opened == key_pem


async def test_iam_refuses_what_it_cannot_use(
    root: Client, ca_key: ec.EllipticCurvePrivateKey, site_key: ec.EllipticCurvePrivateKey
) -> None:
    key = pem_key(site_key)
    body = issued(site_key)
    cases: list[tuple[str, dict[str, object]]] = [
        ("MalformedCertificate", {"CertificateBody": "not a certificate", "PrivateKey": key}),
        # Its chain in the body: IAM takes one certificate there.
        ("MalformedCertificate", {"CertificateBody": body + issued(ca_key), "PrivateKey": key}),
        ("MalformedCertificate", {"CertificateBody": body, "PrivateKey": key,
                                  "CertificateChain": "-----BEGIN CERTIFICATE-----\nxx\n"}),
        ("MalformedCertificate", {"CertificateBody": issued(site_key, days=-1, start_days_ago=10),
                                  "PrivateKey": key}),
        ("MalformedCertificate", {"CertificateBody": body,
                                  "PrivateKey": pem_key(site_key, b"secret")}),
        ("KeyPairMismatch", {"CertificateBody": issued(ca_key), "PrivateKey": key}),
        ("InvalidInput", {"CertificateBody": "x" * 16385, "PrivateKey": key}),
    ]  # fmt: skip
    for code, params in cases:
        error = await expect(
            code, root, "UploadServerCertificate", ServerCertificateName="www", **params
        )
        assert "BEGIN" not in error.message and "PRIVATE" not in error.message
    ed = ed25519.Ed25519PrivateKey.generate()
    await expect(
        "MalformedCertificate", root, "UploadServerCertificate", ServerCertificateName="www",
        CertificateBody=issued(ed), PrivateKey=pem_key(ed),
    )  # fmt: skip
    p521 = ec.generate_private_key(ec.SECP521R1())
    await expect(
        "MalformedCertificate", root, "UploadServerCertificate", ServerCertificateName="www",
        CertificateBody=issued(p521), PrivateKey=pem_key(p521),
    )  # fmt: skip
    await expect(
        "InvalidInput", root, "UploadServerCertificate", ServerCertificateName="a b",
        CertificateBody=body, PrivateKey=key,
    )  # fmt: skip
    await expect(
        "InvalidInput", root, "UploadServerCertificate", ServerCertificateName="www",
        CertificateBody=body, PrivateKey=key, Path="prod",
    )  # fmt: skip
    assert (await root.call("iam", "ListServerCertificates"))["ServerCertificateMetadataList"] == []
    # An RSA key, and the same name twice.
    rsa_key = rsa.generate_private_key(65537, 2048)
    await upload(root, "www", rsa_key)
    error = await expect(
        "EntityAlreadyExists", root, "UploadServerCertificate", ServerCertificateName="www",
        CertificateBody=body, PrivateKey=key,
    )  # fmt: skip
    assert error.message == "The Server Certificate with name www already exists."


async def test_the_quota_is_a_setting(clock: Clock, tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    limits = IdentityLimits(cache_ttl=30.0, server_certificates_per_account=2)
    async with query_world(clock, tmp_path / "data", limits=limits) as world:
        root = world.client(world.root)
        await upload(root, "one", key)
        await upload(root, "two", key)
        error = await expect(
            "LimitExceeded", root, "UploadServerCertificate", ServerCertificateName="three",
            CertificateBody=issued(key), PrivateKey=pem_key(key),
        )  # fmt: skip
        assert "ServerCertificatesPerAccount: 2" in error.message


async def test_tags_and_another_account(
    world: World, root: Client, site_key: ec.EllipticCurvePrivateKey
) -> None:
    await upload(root, "www", site_key)
    await root.call(
        "iam", "TagServerCertificate", ServerCertificateName="www",
        Tags=[{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "web"}],
    )  # fmt: skip
    await root.call("iam", "UntagServerCertificate", ServerCertificateName="www", TagKeys=["team"])
    tags = await root.call("iam", "ListServerCertificateTags", ServerCertificateName="www")
    assert tags["Tags"] == [{"Key": "env", "Value": "prod"}]
    _, credentials = await world.new_tenant("globex")
    other = world.client(credentials)
    await expect("NoSuchEntity", other, "GetServerCertificate", ServerCertificateName="www")
    await expect("NoSuchEntity", other, "DeleteServerCertificate", ServerCertificateName="www")
    listed = await other.call("iam", "ListServerCertificates")
    assert listed["ServerCertificateMetadataList"] == []


async def test_a_user_acts_only_where_its_policy_lets_it(
    world: World, root: Client, site_key: ec.EllipticCurvePrivateKey
) -> None:
    await root.call("iam", "CreateUser", UserName="deployer")
    arn = f"arn:aws:iam::{world.tenant_id}:server-certificate/prod/*"
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iam:UploadServerCertificate",
                                       "iam:GetServerCertificate"], "Resource": arn}]}  # fmt: skip
    await root.call(
        "iam", "PutUserPolicy", UserName="deployer", PolicyName="certs",
        PolicyDocument=json.dumps(policy),
    )  # fmt: skip
    created = await root.call("iam", "CreateAccessKey", UserName="deployer")
    key = created["AccessKey"]
    deployer = world.client(Credentials(key["AccessKeyId"], key["SecretAccessKey"]))
    await upload(deployer, "www", site_key, Path="/prod/")
    await deployer.call("iam", "GetServerCertificate", ServerCertificateName="www")
    await expect(
        "AccessDenied", deployer, "UploadServerCertificate", ServerCertificateName="api",
        CertificateBody=issued(site_key), PrivateKey=pem_key(site_key),
    )  # fmt: skip
    await expect("AccessDenied", deployer, "DeleteServerCertificate", ServerCertificateName="www")
    await expect("AccessDenied", deployer, "ListServerCertificates")
