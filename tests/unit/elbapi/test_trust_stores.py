"""ELBv2's trust stores and listeners' mutual TLS through the Query app (decision 0256), with
botocore's ``elbv2`` model: Create/Describe/Modify/DeleteTrustStore from a bundle in the
account's bucket (read as the caller through the ``BucketObjects`` port, here a dictionary of
objects), the bundle's and a CRL's ``Location`` as ``data:`` URIs, revocations added,
described, read and removed, tags on the trust store's ARN, ELBv2's refusals, an HTTPS
listener's ``MutualAuthentication`` made, shown and changed, and what its hosts are handed."""

from __future__ import annotations

import base64
from dataclasses import replace
from pathlib import Path
from typing import Any

from andromede.iam.model import Principal
from andromede.loadbalancing.core import LbLimits
from andromede.loadbalancing.trust_stores import mutual_from
from andromede.wiring.load_balancer_hosts import ListenerCertificates
from support.client_pki import ClientCa
from support.elbapp import ElbWorld, elb_world, refused
from support.tls_certificates import TestCa


class Bucket:
    """The ``BucketObjects`` port over a dictionary: (bucket, key, version) → bytes; each
    read's caller is noted."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str | None], bytes] = {}
        self.callers: list[object] = []

    async def read(
        self, caller: object, bucket: str, key: str, version: str | None, limit: int
    ) -> bytes | None:
        self.callers.append(caller)
        data = self.objects.get((bucket, key, version))
        return None if data is None else data[: limit + 1]


def _data(location: str) -> bytes:
    head, _, payload = location.partition(",")
    assert head.startswith("data:") and head.endswith(";base64")
    return base64.b64decode(payload)


async def _store(world: ElbWorld, bucket: Bucket, name: str, pem: str) -> dict[str, Any]:
    bucket.objects[("certs", f"{name}.pem", None)] = pem.encode()
    made = await world.client.call(
        "CreateTrustStore", Name=name, CaCertificatesBundleS3Bucket="certs",
        CaCertificatesBundleS3Key=f"{name}.pem",
    )  # fmt: skip
    return dict(made["TrustStores"][0])


async def test_trust_stores_and_their_revocations(tmp_path: Path) -> None:
    limits = replace(LbLimits(), max_trust_stores=2)
    async with elb_world(tmp_path, limits=limits) as world:
        bucket = Bucket()
        world.service.objects = bucket
        ca, other = ClientCa(), ClientCa("Other CA")
        made = await _store(world, bucket, "clients", ca.pem)
        arn = made["TrustStoreArn"]
        assert arn.startswith(
            f"arn:aws:elasticloadbalancing:eu-fr-1:{world.tenant_id}:truststore/clients/"
        )
        assert made == {"Name": "clients", "TrustStoreArn": arn, "Status": "ACTIVE",
                        "NumberOfCaCertificates": 1, "TotalRevokedEntries": 0}  # fmt: skip
        caller = bucket.callers[-1]  # the bundle read as the caller
        assert isinstance(caller, Principal) and caller.tenant_id == world.tenant_id
        await refused(
            world.client,
            "CreateTrustStore",
            "DuplicateTrustStoreName",
            Name="clients",
            CaCertificatesBundleS3Bucket="certs",
            CaCertificatesBundleS3Key="clients.pem",
        )
        await refused(
            world.client,
            "CreateTrustStore",
            "CaCertificatesBundleNotFound",
            Name="x",
            CaCertificatesBundleS3Bucket="certs",
            CaCertificatesBundleS3Key="none.pem",
        )
        bucket.objects[("certs", "leaf.pem", None)] = ca.issue("leaf").pem.encode()
        await refused(
            world.client,
            "CreateTrustStore",
            "InvalidCaCertificatesBundle",
            Name="x",
            CaCertificatesBundleS3Bucket="certs",
            CaCertificatesBundleS3Key="leaf.pem",
        )
        second = await _store(world, bucket, "partners", other.pem)
        await refused(
            world.client,
            "CreateTrustStore",
            "TooManyTrustStores",
            Name="third",
            CaCertificatesBundleS3Bucket="certs",
            CaCertificatesBundleS3Key="clients.pem",
        )
        listed = await world.client.call("DescribeTrustStores")
        assert [s["Name"] for s in listed["TrustStores"]] == ["clients", "partners"]
        named = await world.client.call("DescribeTrustStores", Names=["partners"])
        assert named["TrustStores"] == [second]
        await refused(world.client, "DescribeTrustStores", "TrustStoreNotFound", Names=["gone"])
        paged = await world.client.call("DescribeTrustStores", PageSize=1)
        assert paged["NextMarker"] and len(paged["TrustStores"]) == 1
        bundle = await world.client.call("GetTrustStoreCaCertificatesBundle", TrustStoreArn=arn)
        assert _data(bundle["Location"]) == ca.pem.encode()
        # Tags on the trust store's ARN.
        await world.client.call("AddTags", ResourceArns=[arn], Tags=[{"Key": "team", "Value": "a"}])
        tags = await world.client.call("DescribeTags", ResourceArns=[arn])
        assert tags["TagDescriptions"][0]["Tags"] == [{"Key": "team", "Value": "a"}]
        # Revocations: a CRL of the store's CA, numbered from 1.
        revoked = [ca.issue("r1").serial, ca.issue("r2").serial]
        bucket.objects[("certs", "ca.crl", "v1")] = ca.crl(*revoked)
        bucket.objects[("certs", "other.crl", None)] = other.crl(5)
        added = await world.client.call(
            "AddTrustStoreRevocations", TrustStoreArn=arn,
            RevocationContents=[{"S3Bucket": "certs", "S3Key": "ca.crl", "S3ObjectVersion": "v1",
                                 "RevocationType": "CRL"}],
        )  # fmt: skip
        assert added["TrustStoreRevocations"] == [{"TrustStoreArn": arn, "RevocationId": 1,
            "RevocationType": "CRL", "NumberOfRevokedEntries": 2}]  # fmt: skip
        await refused(world.client, "AddTrustStoreRevocations", "InvalidRevocationContent",
                      TrustStoreArn=arn, RevocationContents=[{"S3Bucket": "certs",
                                                              "S3Key": "other.crl"}])  # fmt: skip
        await refused(world.client, "AddTrustStoreRevocations", "RevocationContentNotFound",
                      TrustStoreArn=arn, RevocationContents=[{"S3Bucket": "certs",
                                                              "S3Key": "ca.crl"}])  # fmt: skip
        described = await world.client.call("DescribeTrustStoreRevocations", TrustStoreArn=arn)
        assert [r["RevocationId"] for r in described["TrustStoreRevocations"]] == [1]
        content = await world.client.call(
            "GetTrustStoreRevocationContent", TrustStoreArn=arn, RevocationId=1
        )
        assert _data(content["Location"]) == bucket.objects[("certs", "ca.crl", "v1")]
        await refused(world.client, "GetTrustStoreRevocationContent", "RevocationIdNotFound",
                      TrustStoreArn=arn, RevocationId=7)  # fmt: skip
        shown = await world.client.call("DescribeTrustStores", TrustStoreArns=[arn])
        assert shown["TrustStores"][0]["TotalRevokedEntries"] == 2
        # ModifyTrustStore: a new bundle (two CAs), the revocations kept.
        bucket.objects[("certs", "both.pem", None)] = (ca.pem + other.pem).encode()
        modified = await world.client.call(
            "ModifyTrustStore", TrustStoreArn=arn, CaCertificatesBundleS3Bucket="certs",
            CaCertificatesBundleS3Key="both.pem",
        )  # fmt: skip
        assert modified["TrustStores"][0]["NumberOfCaCertificates"] == 2
        assert modified["TrustStores"][0]["TotalRevokedEntries"] == 2
        await refused(world.client, "RemoveTrustStoreRevocations", "RevocationIdNotFound",
                      TrustStoreArn=arn, RevocationIds=[1, 2])  # fmt: skip
        await world.client.call("RemoveTrustStoreRevocations", TrustStoreArn=arn, RevocationIds=[1])
        described = await world.client.call("DescribeTrustStoreRevocations", TrustStoreArn=arn)
        assert described["TrustStoreRevocations"] == []
        await world.client.call("DeleteTrustStore", TrustStoreArn=second["TrustStoreArn"])
        await refused(world.client, "DeleteTrustStore", "TrustStoreNotFound",
                      TrustStoreArn=second["TrustStoreArn"])  # fmt: skip
        # Another account's ARN is not found; a malformed one is a ValidationError.
        foreign = arn.replace(world.tenant_id, "999999999999")
        await refused(world.client, "DeleteTrustStore", "TrustStoreNotFound", TrustStoreArn=foreign)
        await refused(world.client, "DeleteTrustStore", "ValidationError", TrustStoreArn="arn:x")


async def test_https_listeners_mutual_authentication(tmp_path: Path) -> None:
    async with elb_world(tmp_path) as world:
        bucket = Bucket()
        world.service.objects = bucket
        ca = ClientCa()
        store = (await _store(world, bucket, "clients", ca.pem))["TrustStoreArn"]
        revoked = ca.issue("r").serial
        bucket.objects[("certs", "ca.crl", None)] = ca.crl(revoked)
        await world.client.call(
            "AddTrustStoreRevocations", TrustStoreArn=store,
            RevocationContents=[{"S3Bucket": "certs", "S3Key": "ca.crl"}],
        )  # fmt: skip
        group = await world.ec2.root.call(
            "CreateSecurityGroup", GroupName="alb", Description="alb", VpcId=world.vpc_id
        )
        lb = await world.load_balancer(
            "shop", Type="application", SecurityGroups=[group["GroupId"]]
        )
        api = (await world.target_group("api", Protocol="HTTP", Port=8080))["TargetGroupArn"]
        issued = TestCa().issue("www.example.test")
        certificate = (
            await world.ec2.identity.upload_server_certificate(
                world.tenant_id, "www", issued.body, issued.key
            )
        ).arn
        forward = [{"Type": "forward", "TargetGroupArn": api}]
        await refused(
            world.client, "CreateListener", "InvalidConfigurationRequest",
            LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTPS", Port=443,
            Certificates=[{"CertificateArn": certificate}], DefaultActions=forward,
            MutualAuthentication={"Mode": "verify"},
        )  # fmt: skip
        await refused(
            world.client, "CreateListener", "ValidationError",
            LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
            DefaultActions=forward, MutualAuthentication={"Mode": "passthrough"},
        )  # fmt: skip
        made = await world.client.call(
            "CreateListener", LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTPS", Port=443,
            Certificates=[{"CertificateArn": certificate}], DefaultActions=forward,
            MutualAuthentication={"Mode": "verify", "TrustStoreArn": store,
                                  "IgnoreClientCertificateExpiry": True},
        )  # fmt: skip
        listener = made["Listeners"][0]
        assert listener["MutualAuthentication"] == {
            "Mode": "verify", "TrustStoreArn": store, "IgnoreClientCertificateExpiry": True,
            "AdvertiseTrustStoreCaNames": "off",
        }  # fmt: skip
        described = await world.client.call(
            "DescribeListeners", ListenerArns=[listener["ListenerArn"]]
        )
        assert described["Listeners"][0]["MutualAuthentication"]["Mode"] == "verify"
        await refused(world.client, "DeleteTrustStore", "TrustStoreInUse", TrustStoreArn=store)
        # What its hosts are handed: the CA bundle and the revoked serials, with the keys.
        views = [v for v in await world.service.forwarding_views() if v.tls is not None]
        assert views[0].tls is not None and views[0].tls.mutual is not None
        assert views[0].tls.mutual.ca_bundle == ca.pem and views[0].tls.mutual.ignore_expiry
        opened = ListenerCertificates(world.service.certificate_material, 25, 2048)
        served = (await opened.tls_of(views))[views[0].listener_id]
        assert served is not None
        handed = mutual_from(served.mutual)
        assert handed is not None and {s for _, s in handed.revoked} == {revoked}
        assert served.without_keys().mutual == ""  # withheld with the keys
        # ModifyListener: passthrough takes no trust store; then off.
        await refused(
            world.client, "ModifyListener", "InvalidConfigurationRequest",
            ListenerArn=listener["ListenerArn"],
            MutualAuthentication={"Mode": "passthrough", "TrustStoreArn": store},
        )  # fmt: skip
        changed = await world.client.call(
            "ModifyListener", ListenerArn=listener["ListenerArn"],
            MutualAuthentication={"Mode": "passthrough"},
        )  # fmt: skip
        assert changed["Listeners"][0]["MutualAuthentication"] == {
            "Mode": "passthrough", "IgnoreClientCertificateExpiry": False,
        }  # fmt: skip
        # A ModifyListener without MutualAuthentication keeps it.
        kept = await world.client.call(
            "ModifyListener", ListenerArn=listener["ListenerArn"], Port=8443
        )
        assert kept["Listeners"][0]["MutualAuthentication"]["Mode"] == "passthrough"
        await world.client.call("DeleteTrustStore", TrustStoreArn=store)


def test_trust_store_settings_reach_the_service(tmp_path: Path) -> None:
    import pydantic
    import pytest

    from andromede.settings import Settings
    from andromede.wiring.loadbalancing import load_balancing_service

    defaults = Settings(data_dir=tmp_path)
    service = load_balancing_service(defaults, None, None)  # type: ignore[arg-type]
    assert (
        service.limits.max_trust_stores,
        service.limits.trust_store_bundle_bytes,
        service.limits.trust_store_ca_certificates,
        service.limits.trust_store_revocation_bytes,
        service.limits.trust_store_revoked_entries,
    ) == (100, 1048576, 25, 10485760, 100000)
    tuned = Settings(
        data_dir=tmp_path,
        elb_max_trust_stores_per_tenant=3,
        elb_trust_store_max_bundle_bytes=4096,
        elb_trust_store_max_ca_certificates=2,
        elb_trust_store_max_revocation_bytes=2048,
        elb_trust_store_max_revoked_entries=10,
    )
    limits = load_balancing_service(tuned, None, None).limits  # type: ignore[arg-type]
    assert (
        limits.max_trust_stores,
        limits.trust_store_bundle_bytes,
        limits.trust_store_ca_certificates,
        limits.trust_store_revocation_bytes,
        limits.trust_store_revoked_entries,
    ) == (3, 4096, 2, 2048, 10)
    for bad in (
        {"elb_max_trust_stores_per_tenant": 0},
        {"elb_trust_store_max_bundle_bytes": 10},
        {"elb_trust_store_max_ca_certificates": 0},
        {"elb_trust_store_max_revocation_bytes": 10},
        {"elb_trust_store_max_revoked_entries": 0},
    ):
        with pytest.raises(pydantic.ValidationError):
            Settings(data_dir=tmp_path, **bad)  # type: ignore[arg-type]


async def test_bundle_and_revocation_sizes_are_bounded(tmp_path: Path) -> None:
    limits = replace(LbLimits(), trust_store_bundle_bytes=1024, trust_store_revocation_bytes=1024)
    async with elb_world(tmp_path, limits=limits) as world:
        bucket = Bucket()
        world.service.objects = bucket
        ca = ClientCa()
        big = "".join(ClientCa(f"CA {i}").pem for i in range(3))
        assert len(big) > 1024 >= len(ca.pem)
        bucket.objects[("certs", "big.pem", None)] = big.encode()
        await refused(
            world.client,
            "CreateTrustStore",
            "InvalidCaCertificatesBundle",
            Name="x",
            CaCertificatesBundleS3Bucket="certs",
            CaCertificatesBundleS3Key="big.pem",
        )
        arn = (await _store(world, bucket, "clients", ca.pem))["TrustStoreArn"]
        bucket.objects[("certs", "big.crl", None)] = ca.crl(*range(1, 60))
        await refused(world.client, "AddTrustStoreRevocations", "InvalidRevocationContent",
                      TrustStoreArn=arn, RevocationContents=[{"S3Bucket": "certs",
                                                              "S3Key": "big.crl"}])  # fmt: skip
