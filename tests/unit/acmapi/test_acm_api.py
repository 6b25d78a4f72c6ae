"""Decision 0230's Certificate Manager API through botocore's own model: certificates imported
(RSA and ECDSA, with a chain and tags), described as ACM describes them, got without their
key, listed with ACM's filters, sort and pages, re-imported under their ARN, tagged and
deleted; the account's expiry configuration; what ACM issues itself refused NotImplemented
with the reason; IAM deciding and the trail auditing; errors in ACM's words with a request id,
and the private key in no answer, error or log."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from andromede.acm.service import key_context
from support.acmapp import REGION, World, acm_world, issue, key_of

ARN_PREFIX = f"arn:aws:acm:{REGION}:"


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async for made in acm_world(tmp_path, acm_max_certificates=4):
        yield made


def _secret_lines(key: str) -> list[str]:
    return [line for line in key.splitlines()[1:-1] if line]


async def test_an_imported_certificate_is_described_as_acm_describes_it(world: World) -> None:
    issued = issue("www.example.test", "api.example.test", kind="rsa2048", serial=0x0A0B0C)
    arn = await world.imported(issued, Tags=[{"Key": "team", "Value": "web"}])
    assert arn.startswith(f"{ARN_PREFIX}{world.tenant_id}:certificate/")
    detail = (await world.client("DescribeCertificate", CertificateArn=arn))["Certificate"]
    assert detail["CertificateArn"] == arn
    assert detail["DomainName"] == "www.example.test"
    assert detail["SubjectAlternativeNames"] == ["www.example.test", "api.example.test"]
    assert detail["Serial"] == "0a:0b:0c"
    assert detail["Subject"] == "O=Example,CN=www.example.test"
    assert detail["Issuer"] == "C=FR,O=Andromede Test,CN=Andromede Test CA"
    assert detail["Type"] == "IMPORTED" and detail["Status"] == "ISSUED"
    assert detail["KeyAlgorithm"] == "RSA_2048"
    assert detail["SignatureAlgorithm"] == "SHA256WITHECDSA"  # signed by the EC test CA
    assert detail["InUseBy"] == []
    assert detail["RenewalEligibility"] == "INELIGIBLE"
    assert detail["KeyUsages"] == [{"Name": "DIGITAL_SIGNATURE"}, {"Name": "KEY_ENCIPHERMENT"}]
    assert detail["ExtendedKeyUsages"] == [
        {"Name": "TLS_WEB_SERVER_AUTHENTICATION", "OID": "1.3.6.1.5.5.7.3.1"},
        {"Name": "TLS_WEB_CLIENT_AUTHENTICATION", "OID": "1.3.6.1.5.5.7.3.2"},
    ]
    now = datetime.now(UTC)
    assert detail["NotBefore"] < now < detail["NotAfter"]
    assert abs((detail["ImportedAt"] - now).total_seconds()) < 60
    assert detail["CreatedAt"] == detail["ImportedAt"]
    got = await world.client("GetCertificate", CertificateArn=arn)
    assert got == {"Certificate": issued.body.strip(), "CertificateChain": issued.chain.strip()}
    tags = await world.client("ListTagsForCertificate", CertificateArn=arn)
    assert tags["Tags"] == [{"Key": "team", "Value": "web"}]


@pytest.mark.parametrize(
    ("kind", "algorithm"),
    [("rsa3072", "RSA_3072"), ("rsa4096", "RSA_4096"), ("ec256", "EC_prime256v1"),
     ("ec384", "EC_secp384r1")],
)  # fmt: skip
async def test_each_key_acm_takes(world: World, kind: str, algorithm: str) -> None:
    arn = await world.imported(issue("k.example.test", kind=kind), chain=False)
    detail = (await world.client("DescribeCertificate", CertificateArn=arn))["Certificate"]
    assert detail["KeyAlgorithm"] == algorithm
    assert "CertificateChain" not in await world.client("GetCertificate", CertificateArn=arn)


async def test_what_acm_refuses_to_import(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    good = issue("www.example.test")
    other = issue("www.example.test", kind="ec256")
    cases = [
        ({"PrivateKey": other.key.encode()}, "does not match the public key"),
        ({"PrivateKey": key_of("rsa2048", b"secret")}, "encrypted"),
        ({"Certificate": (good.body + good.body).encode()}, "more than one certificate"),
        ({"CertificateChain": b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"},
         "chain"),
        ({"Certificate": b"not a certificate"}, "Unable to parse certificate"),
        ({"PrivateKey": b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"},
         "Unable to parse private key"),
    ]  # fmt: skip
    for change, words in cases:
        params = {"Certificate": good.body.encode(), "PrivateKey": good.key.encode()} | change
        message = await world.fails("ImportCertificate", "ValidationException", **params)
        assert words in message, message
        for line in _secret_lines(good.key) + _secret_lines(other.key):
            assert line not in message
    for refused in (
        issue("old.example.test", kind="rsa1024"),
        issue("p521.example.test", kind="ec521"),
    ):
        message = await world.fails(
            "ImportCertificate", "ValidationException",
            Certificate=refused.body.encode(), PrivateKey=refused.key.encode(),
        )  # fmt: skip
        assert "The private key is not supported" in message
    expired = issue("late.example.test", days=1, starts=timedelta(days=-3))
    message = await world.fails("ImportCertificate", "ValidationException",
                                Certificate=expired.body.encode(),
                                PrivateKey=expired.key.encode())  # fmt: skip
    assert "expired" in message
    await world.fails(
        "ImportCertificate", "InvalidTagException", Certificate=good.body.encode(),
        PrivateKey=good.key.encode(), Tags=[{"Key": "aws:owner", "Value": "x"}],
    )  # fmt: skip
    for line in _secret_lines(good.key) + _secret_lines(other.key):
        assert line not in caplog.text
    assert (await world.client("ListCertificates"))["CertificateSummaryList"] == []


async def test_a_reimport_keeps_the_arn_and_replaces_the_key(world: World) -> None:
    first = issue("www.example.test", kind="rsa2048")
    arn = await world.imported(first, Tags=[{"Key": "env", "Value": "prod"}])
    created = (await world.client("DescribeCertificate", CertificateArn=arn))["Certificate"]
    renewed = issue("www.example.test", kind="ec256")
    assert await world.imported(renewed, CertificateArn=arn) == arn
    detail = (await world.client("DescribeCertificate", CertificateArn=arn))["Certificate"]
    assert detail["KeyAlgorithm"] == "EC_prime256v1"
    assert detail["CreatedAt"] == created["CreatedAt"]
    assert detail["ImportedAt"] >= created["ImportedAt"]
    got = await world.client("GetCertificate", CertificateArn=arn)
    assert got["Certificate"] == renewed.body.strip()
    assert await world.acm.private_key(world.tenant_id, arn) == renewed.key.encode()
    tags = await world.client("ListTagsForCertificate", CertificateArn=arn)
    assert tags["Tags"] == [{"Key": "env", "Value": "prod"}]  # kept
    await world.fails("ImportCertificate", "InvalidParameterException",
                      Certificate=renewed.body.encode(), PrivateKey=renewed.key.encode(),
                      CertificateArn=arn, Tags=[{"Key": "a", "Value": "b"}])  # fmt: skip
    missing = arn[:-12] + "000000000000"
    await world.fails("ImportCertificate", "ResourceNotFoundException",
                      Certificate=renewed.body.encode(), PrivateKey=renewed.key.encode(),
                      CertificateArn=missing)  # fmt: skip
    (listed,) = (await world.client("ListCertificates", Includes={"keyTypes": ["EC_prime256v1"]}))[
        "CertificateSummaryList"
    ]
    assert listed["CertificateArn"] == arn


async def test_the_key_is_sealed_under_the_account_key_ring(world: World) -> None:
    issued = issue("www.example.test")
    arn = await world.imported(issued)
    held = await world.acm.get(world.tenant_id, arn)
    assert issued.key.encode() not in held.sealed_key
    assert repr(held) == f"Certificate({arn!r})"
    # Bound to its account and id: another certificate's context does not open it.
    with pytest.raises(InvalidTag):
        await world.identity.certificate_sealer.open(  # type: ignore[union-attr]
            world.tenant_id, held.sealed_key, key_context(world.tenant_id, "other")
        )
    await world.fails("RenewCertificate", "ValidationException", CertificateArn=arn)
    export = await world.fails(
        "ExportCertificate", "ValidationException", CertificateArn=arn, Passphrase=b"pass1234"
    )
    assert "is not a private certificate" in export
    for answer in (await world.raw("DescribeCertificate", {"CertificateArn": arn}),
                   await world.raw("GetCertificate", {"CertificateArn": arn}),
                   await world.raw("ListCertificates", {})):  # fmt: skip
        for line in _secret_lines(issued.key):
            assert line.encode() not in answer.body


async def test_listing_filters_sorts_and_pages_as_acm(world: World) -> None:
    rsa = await world.imported(issue("a.example.test", kind="rsa2048"))
    ec = await world.imported(issue("b.example.test", kind="ec256"))
    client_only = await world.imported(issue("c.example.test", server_auth=False))
    # Without Includes.keyTypes, ACM lists RSA_1024 and RSA_2048 certificates only.
    listed = (await world.client("ListCertificates"))["CertificateSummaryList"]
    assert [s["CertificateArn"] for s in listed] == [rsa, client_only]
    summary = listed[0]
    assert summary["DomainName"] == "a.example.test"
    assert summary["SubjectAlternativeNameSummaries"] == ["a.example.test"]
    assert summary["HasAdditionalSubjectAlternativeNames"] is False
    assert (summary["Status"], summary["Type"], summary["KeyAlgorithm"]) == (
        "ISSUED", "IMPORTED", "RSA_2048")  # fmt: skip
    assert summary["InUse"] is False
    assert summary["KeyUsages"] == ["DIGITAL_SIGNATURE", "KEY_ENCIPHERMENT"]
    assert summary["ExtendedKeyUsages"] == [
        "TLS_WEB_SERVER_AUTHENTICATION", "TLS_WEB_CLIENT_AUTHENTICATION"
    ]  # fmt: skip
    every = {"keyTypes": ["RSA_2048", "EC_prime256v1"]}
    both = await world.client("ListCertificates", Includes=every, SortBy="CREATED_AT",
                              SortOrder="DESCENDING")  # fmt: skip
    assert [s["CertificateArn"] for s in both["CertificateSummaryList"]] == [client_only, ec, rsa]
    server = await world.client(
        "ListCertificates", Includes=every | {"extendedKeyUsage": ["TLS_WEB_SERVER_AUTHENTICATION"]}
    )
    assert [s["CertificateArn"] for s in server["CertificateSummaryList"]] == [rsa, ec]
    none = await world.client("ListCertificates", Includes={"extendedKeyUsage": ["NONE"]})
    assert [s["CertificateArn"] for s in none["CertificateSummaryList"]] == [client_only]
    origins = await world.client("ListCertificates", CertificateKeyPairOrigins=["AWS_MANAGED"])
    assert origins["CertificateSummaryList"] == []
    mine = await world.client("ListCertificates", CertificateKeyPairOrigins=["CUSTOMER_PROVIDED"])
    assert len(mine["CertificateSummaryList"]) == 2
    expired = await world.client("ListCertificates", CertificateStatuses=["EXPIRED"])
    assert expired["CertificateSummaryList"] == []
    first = await world.client("ListCertificates", Includes=every, MaxItems=2)
    assert len(first["CertificateSummaryList"]) == 2 and first["NextToken"]
    rest = await world.client("ListCertificates", Includes=every, MaxItems=2,
                              NextToken=first["NextToken"])  # fmt: skip
    assert [s["CertificateArn"] for s in rest["CertificateSummaryList"]] == [client_only]
    assert "NextToken" not in rest
    await world.fails("ListCertificates", "InvalidArgsException", NextToken="!!not-a-token")


async def test_an_expired_certificate_is_expired(world: World) -> None:
    arn = await world.imported(issue("soon.example.test", days=2))
    world.acm._clock = lambda: datetime.now(UTC) + timedelta(days=3)
    detail = (await world.client("DescribeCertificate", CertificateArn=arn))["Certificate"]
    assert detail["Status"] == "EXPIRED"
    listed = await world.client("ListCertificates", CertificateStatuses=["EXPIRED"])
    assert [s["CertificateArn"] for s in listed["CertificateSummaryList"]] == [arn]


async def test_tags_added_removed_and_bounded(world: World) -> None:
    arn = await world.imported(issue("www.example.test"))
    await world.client("AddTagsToCertificate", CertificateArn=arn,
                       Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"},
                             {"Key": "c"}])  # fmt: skip
    await world.client("RemoveTagsFromCertificate", CertificateArn=arn,
                       Tags=[{"Key": "a", "Value": "other"}, {"Key": "b"}])  # fmt: skip
    tags = (await world.client("ListTagsForCertificate", CertificateArn=arn))["Tags"]
    assert tags == [{"Key": "a", "Value": "1"}, {"Key": "c", "Value": ""}]
    many = [{"Key": f"k{i}", "Value": "v"} for i in range(49)]
    await world.fails("AddTagsToCertificate", "TooManyTagsException", CertificateArn=arn,
                      Tags=many)  # fmt: skip
    await world.fails("AddTagsToCertificate", "InvalidTagException", CertificateArn=arn,
                      Tags=[{"Key": "aws:x", "Value": "1"}])  # fmt: skip


async def test_deletion_and_the_accounts_bound(world: World) -> None:
    arns = [await world.imported(issue(f"n{i}.example.test")) for i in range(4)]
    message = await world.fails(
        "ImportCertificate", "LimitExceededException",
        Certificate=issue("x.example.test").body.encode(), PrivateKey=key_of("rsa2048"),
    )  # fmt: skip
    assert "4" in message
    await world.client("DeleteCertificate", CertificateArn=arns[0])
    await world.fails("DescribeCertificate", "ResourceNotFoundException", CertificateArn=arns[0])
    await world.fails("DeleteCertificate", "ResourceNotFoundException", CertificateArn=arns[0])
    await world.imported(issue("x.example.test"))
    await world.fails("DescribeCertificate", "InvalidArnException",
                      CertificateArn="arn:aws:acm:eu-fr-1:1:certificate/nope")  # fmt: skip
    # Another account's certificate is not found, whoever asks.
    other = await world.other_tenant("other")
    await other.fails("DescribeCertificate", "ResourceNotFoundException", CertificateArn=arns[1])
    await other.fails("DeleteCertificate", "ResourceNotFoundException", CertificateArn=arns[1])
    assert (await other.client("ListCertificates"))["CertificateSummaryList"] == []
    assert await world.acm.store.forget_tenant(world.tenant_id) == 4
    assert (await world.client("ListCertificates"))["CertificateSummaryList"] == []


async def test_account_configuration(world: World) -> None:
    assert await world.client("GetAccountConfiguration") == {
        "ExpiryEvents": {"DaysBeforeExpiry": 45}
    }
    await world.client("PutAccountConfiguration", IdempotencyToken="t1",
                       ExpiryEvents={"DaysBeforeExpiry": 10})  # fmt: skip
    answer = await world.client("GetAccountConfiguration")
    assert answer["ExpiryEvents"]["DaysBeforeExpiry"] == 10
    await world.fails("PutAccountConfiguration", "ValidationException", IdempotencyToken="t2",
                      ExpiryEvents={"DaysBeforeExpiry": 46})  # fmt: skip
    reply = await world.raw("PutAccountConfiguration", {"ExpiryEvents": {}})
    assert reply.error_fields()["__type"] == "ValidationException"


async def test_what_acm_issues_itself_is_refused_with_the_reason(world: World) -> None:
    reply = await world.raw("RequestCertificate", {"DomainName": "www.example.test"})
    assert reply.status == 501
    fields = reply.error_fields()
    assert fields["__type"] == "NotImplemented"
    assert "ImportCertificate" in fields["message"] and "validated" in fields["message"]
    for name in ("ResendValidationEmail", "SearchCertificates", "TagResource"):
        assert (await world.raw(name, {})).error_fields()["__type"] == "NotImplemented"
    unknown = await world.raw("MakeItSo", {})
    assert unknown.error_fields()["__type"] == "UnknownOperationException"


async def test_iam_decides_and_the_trail_audits(world: World) -> None:
    arn = await world.imported(issue("www.example.test"), Tags=[{"Key": "team", "Value": "a"}])
    user = await world.iam_user("dev")
    await user.fails("DescribeCertificate", "AccessDeniedException", CertificateArn=arn)
    await user.fails("ListCertificates", "AccessDeniedException")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["acm:DescribeCertificate", "acm:ListCertificates"],
             "Resource": "*"},
            {"Effect": "Allow", "Action": "acm:DeleteCertificate", "Resource": "*",
             "Condition": {"StringEquals": {"aws:ResourceTag/team": "b"}}},
        ],
    }  # fmt: skip
    await world.identity.put_user_policy(world.tenant_id, "dev", "acm", json.dumps(policy))
    await user.client("DescribeCertificate", CertificateArn=arn)
    await user.client("ListCertificates")
    message = await user.fails("DeleteCertificate", "AccessDeniedException", CertificateArn=arn)
    assert f"acm:DeleteCertificate on resource: {arn}" in message
    await user.fails("ImportCertificate", "AccessDeniedException",
                     Certificate=issue("x.example.test").body.encode(),
                     PrivateKey=key_of("rsa2048"))  # fmt: skip
    actions = await world.actions()
    assert ("acm:ImportCertificate", arn, "success") in actions
    assert ("acm:DescribeCertificate", arn, "failure") in actions
    assert ("acm:DescribeCertificate", arn, "success") in actions
    assert ("acm:DeleteCertificate", arn, "failure") in actions
    anonymous = await world.anonymous().raw("ListCertificates", {})
    assert anonymous.status == 400
    assert anonymous.error_fields()["__type"] == "MissingAuthenticationTokenException"


async def test_bad_input_gets_acm_errors(world: World) -> None:
    for payload, code in (
        (b"{not json", "SerializationException"),
        ({"CertificateArn": 5}, "SerializationException"),
        ({}, "ValidationException"),
    ):
        reply = await world.raw("DescribeCertificate", payload)
        assert reply.status == 400
        assert reply.error_fields()["__type"] == code
        assert reply.headers["x-amzn-requestid"]
    reply = await world.raw("ImportCertificate", {"Certificate": "@@@", "PrivateKey": "x"})
    assert reply.error_fields()["__type"] == "SerializationException"
    body = base64.b64encode(b"x" * 9000).decode()
    reply = await world.raw("ImportCertificate", {"Certificate": body, "PrivateKey": body})
    assert reply.error_fields()["__type"] == "ValidationException"


async def test_imports_of_the_last_year_bounded_by_the_setting(tmp_path: Path) -> None:
    async for world in acm_world(tmp_path, acm_max_imports_per_year=2):
        issued = issue("www.example.test")
        arn = await world.imported(issued)
        await world.imported(issued, CertificateArn=arn)  # a re-import counts
        message = await world.fails(
            "ImportCertificate", "LimitExceededException",
            Certificate=issued.body.encode(), PrivateKey=issued.key.encode(),
        )  # fmt: skip
        assert "365 days: 2" in message
