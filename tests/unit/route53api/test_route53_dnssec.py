"""Decision 0317's DNSSEC signing through botocore's rest-xml model, over a real KMS (the key
file provider, the memory store) and the public name servers' answer path: CreateKeySigningKey
with AWS's key policy for ``dnssec-route53.amazonaws.com``, GetDNSSEC's fields checked
against dnspython's own DNSKEY, key tag and DS, Enable/Disable, Activate/Deactivate/Delete
with AWS's refusals; then signed answers validated with ``dns.dnssec.validate`` against the
zone's DNSKEY set (itself validated against the KSK the DS names), compact denial of
existence, no signatures without DO or once disabled; KMS's uses audited and metered."""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.billing.model import parse_month
from andromede.billing.service import BillingService
from andromede.billing.store import MemoryBillingStore
from andromede.db.database import open_database
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.route53.dnssec import DnssecService
from andromede.route53.dnssec_material import SigningMaterial
from andromede.route53.dnssec_model import KSK_FLAG, dnskey_of, dnssec
from andromede.route53.dnssec_store import MemoryDnssecStore
from andromede.route53.dnssec_store_sql import SqlDnssecStore
from andromede.route53.model import Change, RecordSet
from andromede.route53.public_zones import PublicZones
from andromede.route53_dnssec_keys import DNSSEC_SERVICE, KmsKeySigningKeys
from andromede.route53api.public_dns import DnsLimits, PublicNameServer
from andromede.settings import Settings
from andromede.wiring.queues import KeySealer
from andromede.wiring.route53 import route53_api
from support.kmskit import REGION, Kit, kit_over, root
from support.route53app import NAME_SERVERS, World, route53_world
from support.schema import migrated_sqlite

VALIDITY = 86400
ROTATION = 30 * 86400


def key_policy(account: str, **overrides: Any) -> str:
    """AWS's documented key policy for a KSK's key: the account's root, and the DNSSEC
    service conditioned on the account and its hosted zones."""
    service = {
        "Sid": "Allow Route 53 DNSSEC Service",
        "Effect": "Allow",
        "Principal": {"Service": DNSSEC_SERVICE},
        "Action": ["kms:DescribeKey", "kms:GetPublicKey", "kms:Sign"],
        "Resource": "*",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": account},
            "ArnLike": {"aws:SourceArn": "arn:aws:route53:::hostedzone/*"},
        },
    }
    service.update(overrides)
    admin = {
        "Sid": "Enable IAM User Permissions",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [admin, service]})


@dataclass
class Signed:
    r53: World
    kit: Kit
    service: DnssecService
    store: MemoryDnssecStore
    server: PublicNameServer
    zones: PublicZones
    billing: BillingService
    now: list[float]

    async def key(self, policy: str | None = None, spec: str = "ECC_NIST_P256") -> str:
        made = await self.kit.service.create_key(
            root(self.r53.tenant_id),
            key_usage="SIGN_VERIFY",
            key_spec=spec,
            policy=policy if policy is not None else key_policy(self.r53.tenant_id),
        )
        return made.arn

    async def ask(self, name: str, rdtype: str, do: bool = True) -> dns.message.Message:
        self.zones.invalidate()
        query = dns.message.make_query(name, rdtype, want_dnssec=do)
        wire = await self.server.answer(query.to_wire(), udp=False)
        assert wire is not None
        return dns.message.from_wire(wire)


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    yield from kit_over(tmp_path / "kms")


@pytest.fixture
async def signed(tmp_path: Path, kit: Kit) -> AsyncIterator[Signed]:
    billing = BillingService(MemoryBillingStore(), region=REGION, instance_types=[])
    async for r53 in route53_world(tmp_path / "r53"):
        now = [1_800_000_000.0]

        def clock(now: list[float] = now) -> float:
            return now[0]

        store = MemoryDnssecStore()
        kms = KmsKeySigningKeys(kit.service, REGION, r53.audit, billing)
        sealer = KeySealer(kit.keys)
        service = DnssecService(r53.service, store, kms, sealer, clock=clock)
        r53.app.dnssec = service
        r53.service.zone_deleted = service.zone_deleted
        material = SigningMaterial(store, kms, sealer, VALIDITY, ROTATION, clock=clock)
        zones = PublicZones(r53.service, NAME_SERVERS, 60.0, signing=material)
        r53.service.public_changed = zones.invalidate
        server = PublicNameServer(zones, DnsLimits(rate_limit=0))
        try:
            yield Signed(r53, kit, service, store, server, zones, billing, now)
        finally:
            await billing.close()


async def make_zone(signed: Signed) -> str:
    zone = await signed.r53.zone("example.com")
    zone_id = zone.rsplit("/", 1)[-1]
    records = [
        RecordSet("www.example.com.", "A", 60, ("192.0.2.1",)),
        RecordSet("*.apps.example.com.", "A", 20, ("192.0.2.7",)),
        RecordSet("sub.example.com.", "NS", 300, ("ns.elsewhere.net.",)),
        RecordSet(
            "long.example.com.", "TXT", 1_209_600, tuple(f'"{"x" * 200}{n}"' for n in range(3))
        ),
    ]
    await signed.r53.service.change_records(
        signed.r53.tenant_id, zone_id, [Change("CREATE", r) for r in records]
    )
    return zone_id


async def sign_zone(signed: Signed) -> tuple[str, dict[str, Any]]:
    zone_id = await make_zone(signed)
    arn = await signed.key()
    made = await signed.r53.client(
        "CreateKeySigningKey", CallerReference="ref-1", HostedZoneId=zone_id,
        KeyManagementServiceArn=arn, Name="ksk_one", Status="ACTIVE",
    )  # fmt: skip
    await signed.r53.client("EnableHostedZoneDNSSEC", HostedZoneId=zone_id)
    return zone_id, made


def validated_keys(answer: dns.message.Message, ds_text: str, now: float) -> dns.rrset.RRset:
    """The DNSKEY set of ``answer``, validated by its own KSK signatures and matching the DS
    GetDNSSEC gave (what a resolver does from the parent's DS)."""
    apex = dns.name.from_text("example.com.")
    keys = answer.find_rrset(answer.answer, apex, dns.rdataclass.IN, dns.rdatatype.DNSKEY)
    sigs = answer.find_rrset(
        answer.answer, apex, dns.rdataclass.IN, dns.rdatatype.RRSIG, dns.rdatatype.DNSKEY
    )
    dnssec.validate(keys, sigs, {apex: keys}, now=now)
    ksks = [k for k in keys if k.flags == KSK_FLAG]
    assert [dnssec.make_ds(apex, k, "SHA256").to_text().upper() for k in ksks] == [ds_text]
    return keys


def validate(
    answer: dns.message.Message, keys: dns.rrset.RRset, now: float, section: str = "answer"
) -> int:
    """Every set of ``section`` validated by its RRSIG; how many were."""
    apex = dns.name.from_text("example.com.")
    rrsets = getattr(answer, section)
    checked = 0
    for rrset in rrsets:
        if rrset.rdtype == dns.rdatatype.RRSIG:
            continue
        sigs = [
            r for r in rrsets
            if r.rdtype == dns.rdatatype.RRSIG and r.name == rrset.name and r.covers == rrset.rdtype
        ]  # fmt: skip
        assert sigs, f"no RRSIG for {rrset.name} {dns.rdatatype.to_text(rrset.rdtype)}"
        dnssec.validate(rrset, sigs[0], {apex: keys}, now=now)
        checked += 1
    return checked


async def test_a_ksk_made_and_shown_as_dnspython_computes_it(signed: Signed) -> None:
    zone_id = await make_zone(signed)
    arn = await signed.key()
    made = await signed.r53.client(
        "CreateKeySigningKey", CallerReference="ref-1", HostedZoneId=zone_id,
        KeyManagementServiceArn=arn, Name="ksk_one", Status="ACTIVE",
    )  # fmt: skip
    assert made["Location"] == f"/2013-04-01/keysigningkey/{zone_id}/ksk_one"
    ksk = made["KeySigningKey"]
    record = await signed.kit.service.signing_key_for_service_use(arn)
    assert record.public_key is not None
    dnskey = dnskey_of(record.public_key, KSK_FLAG)
    ds = dnssec.make_ds(dns.name.from_text("example.com."), dnskey, "SHA256")
    assert ksk["KeyTag"] == dnssec.key_id(dnskey) == ds.key_tag
    assert (ksk["Flag"], ksk["SigningAlgorithmType"], ksk["DigestAlgorithmType"]) == (257, 13, 2)
    assert ksk["SigningAlgorithmMnemonic"] == "ECDSAP256SHA256"
    assert ksk["DigestAlgorithmMnemonic"] == "SHA-256"
    assert ksk["DigestValue"] == ds.digest.hex().upper()
    assert base64.b64decode(ksk["PublicKey"]) == dnskey.key
    assert ksk["DSRecord"] == f"{ds.key_tag} 13 2 {ds.digest.hex().upper()}"
    assert ksk["DNSKEYRecord"] == f"257 3 13 {ksk['PublicKey']}"
    assert (ksk["Status"], ksk["KmsArn"], ksk["Name"]) == ("ACTIVE", arn, "ksk_one")
    got = await signed.r53.client("GetDNSSEC", HostedZoneId=zone_id)
    assert got["Status"] == {"ServeSignature": "NOT_SIGNING"}
    assert [k["DSRecord"] for k in got["KeySigningKeys"]] == [ksk["DSRecord"]]
    await signed.r53.client("EnableHostedZoneDNSSEC", HostedZoneId=zone_id)
    got = await signed.r53.client("GetDNSSEC", HostedZoneId=zone_id)
    assert got["Status"]["ServeSignature"] == "SIGNING"
    # Audited as the operations are; KMS's uses audited as the service's and metered.
    await signed.r53.audit.flush()
    events = [e for _, e in await signed.r53.audit_store.list_events(None, after_id=0, limit=500)]
    actions = {e.action for e in events}
    assert {"route53:CreateKeySigningKey", "route53:EnableHostedZoneDNSSEC"} <= actions
    uses = [(e.principal, e.action) for e in events if e.action.startswith("kms:")]
    assert (DNSSEC_SERVICE, "kms:GetPublicKey") in uses
    assert (DNSSEC_SERVICE, "kms:DescribeKey") in uses


async def test_aws_refusals_of_key_signing_keys(signed: Signed) -> None:
    r53 = signed.r53
    zone_id = await make_zone(signed)
    arn = await signed.key()

    async def create(code: str, **changed: str) -> str:
        params = {"CallerReference": "r", "HostedZoneId": zone_id, "KeyManagementServiceArn": arn,
                  "Name": "ksk_one", "Status": "ACTIVE", **changed}  # fmt: skip
        return (await r53.fails("CreateKeySigningKey", code, **params)).message

    await create("NoSuchHostedZone", HostedZoneId="ZNOTHERE")
    await create("InvalidKeySigningKeyName", Name="no-dashes")
    await create("InvalidKeySigningKeyStatus", Status="SIGNING")
    assert "arn" in (await create("InvalidKMSArn", KeyManagementServiceArn="nope")).lower()
    symmetric = (await signed.kit.service.create_key(root(r53.tenant_id))).arn
    await create("InvalidKMSArn", KeyManagementServiceArn=symmetric)
    await create("InvalidKMSArn", KeyManagementServiceArn=await signed.key(spec="ECC_NIST_P384"))
    no_service = await signed.key(policy=key_policy(r53.tenant_id, Action=["kms:DescribeKey"]))
    assert DNSSEC_SERVICE in await create("InvalidKMSArn", KeyManagementServiceArn=no_service)
    other_account = key_policy(r53.tenant_id, Condition={
        "StringEquals": {"aws:SourceAccount": "999999999999"}})  # fmt: skip
    await create("InvalidKMSArn", KeyManagementServiceArn=await signed.key(policy=other_account))
    # A private zone (with a VPC of the account) is not signed.
    r53.vpcs.add((r53.tenant_id, "eu-fr-1", "vpc-1"))
    private_zone = await r53.client(
        "CreateHostedZone", Name="private.example", CallerReference="p",
        HostedZoneConfig={"PrivateZone": True}, VPC={"VPCRegion": "eu-fr-1", "VPCId": "vpc-1"},
    )  # fmt: skip
    private_id = private_zone["HostedZone"]["Id"].rsplit("/", 1)[-1]
    assert "public" in (await create("InvalidInput", HostedZoneId=private_id))
    await r53.fails("EnableHostedZoneDNSSEC", "InvalidInput", HostedZoneId=private_id)
    # No active KSK yet, no DNSSEC resources yet.
    await r53.fails("EnableHostedZoneDNSSEC", "KeySigningKeyWithActiveStatusNotFound",
                    HostedZoneId=zone_id)  # fmt: skip
    await r53.fails("DisableHostedZoneDNSSEC", "DNSSECNotFound", HostedZoneId=zone_id)
    await r53.client("CreateKeySigningKey", CallerReference="r", HostedZoneId=zone_id,
                     KeyManagementServiceArn=arn, Name="ksk_one", Status="ACTIVE")  # fmt: skip
    await create("KeySigningKeyAlreadyExists", Name="ksk_two")  # the same KMS key
    await create("KeySigningKeyAlreadyExists", KeyManagementServiceArn=await signed.key())
    second = await signed.key()
    await r53.client("CreateKeySigningKey", CallerReference="r2", HostedZoneId=zone_id,
                     KeyManagementServiceArn=second, Name="ksk_two", Status="INACTIVE")  # fmt: skip
    await create(
        "TooManyKeySigningKeys", Name="ksk_three", KeyManagementServiceArn=await signed.key()
    )
    await r53.client("EnableHostedZoneDNSSEC", HostedZoneId=zone_id)
    await r53.fails("DeactivateKeySigningKey", "KeySigningKeyInUse", HostedZoneId=zone_id,
                    Name="ksk_one")  # fmt: skip
    await r53.fails("DeleteKeySigningKey", "InvalidKeySigningKeyStatus", HostedZoneId=zone_id,
                    Name="ksk_one")  # fmt: skip
    await r53.fails("ActivateKeySigningKey", "NoSuchKeySigningKey", HostedZoneId=zone_id,
                    Name="ksk_none")  # fmt: skip
    await r53.client("ActivateKeySigningKey", HostedZoneId=zone_id, Name="ksk_two")
    await r53.client("DeactivateKeySigningKey", HostedZoneId=zone_id, Name="ksk_one")
    await r53.client("DeleteKeySigningKey", HostedZoneId=zone_id, Name="ksk_one")
    got = await r53.client("GetDNSSEC", HostedZoneId=zone_id)
    assert [k["Name"] for k in got["KeySigningKeys"]] == ["ksk_two"]
    await r53.client("DisableHostedZoneDNSSEC", HostedZoneId=zone_id)
    await r53.client("DeactivateKeySigningKey", HostedZoneId=zone_id, Name="ksk_two")
    # Another account sees no zone; a zone's DNSSEC goes with it.
    await r53.client("DeleteKeySigningKey", HostedZoneId=zone_id, Name="ksk_two")
    assert await signed.store.keys(r53.tenant_id, zone_id) == []


async def test_signed_answers_validate_against_the_zone_keys(signed: Signed) -> None:
    _, made = await sign_zone(signed)
    ds = made["KeySigningKey"]["DSRecord"]
    keys_answer = await signed.ask("example.com.", "DNSKEY")
    assert keys_answer.rcode() == dns.rcode.NOERROR and keys_answer.flags & dns.flags.AA
    assert keys_answer.ednsflags & dns.flags.DO
    keys = validated_keys(keys_answer, ds, signed.now[0])
    assert sorted(k.flags for k in keys) == [256, 257]
    answer = await signed.ask("www.example.com.", "A")
    assert [r.to_text() for r in answer.answer[0]] == ["192.0.2.1"]
    assert validate(answer, keys, signed.now[0]) == 1
    rrsig = next(r for r in answer.answer if r.rdtype == dns.rdatatype.RRSIG)[0]
    assert rrsig.expiration - rrsig.inception == VALIDITY + 3600  # the setting, an hour back
    assert rrsig.expiration == int(signed.now[0]) + VALIDITY
    wildcard = await signed.ask("x.y.apps.example.com.", "A")
    assert validate(wildcard, keys, signed.now[0]) == 1
    assert wildcard.answer[0].name == dns.name.from_text("x.y.apps.example.com.")


async def test_compact_denial_of_existence(signed: Signed) -> None:
    _, made = await sign_zone(signed)
    keys = validated_keys(
        await signed.ask("example.com.", "DNSKEY"), made["KeySigningKey"]["DSRecord"], signed.now[0]
    )
    missing = await signed.ask("nothere.example.com.", "A")
    assert missing.rcode() == dns.rcode.NOERROR and not missing.answer  # black lie
    assert validate(missing, keys, signed.now[0], "authority") == 2  # the SOA and the NSEC
    nsec = next(r for r in missing.authority if r.rdtype == dns.rdatatype.NSEC)
    assert nsec.name == dns.name.from_text("nothere.example.com.")
    assert nsec[0].next == dns.name.from_text("\\000.nothere.example.com.")
    assert nsec[0].to_text().split()[1:] == ["RRSIG", "NSEC", "NXNAME"]
    soa = next(r for r in missing.authority if r.rdtype == dns.rdatatype.SOA)
    assert nsec.ttl == soa.ttl == 900
    nodata = await signed.ask("www.example.com.", "AAAA")
    assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer
    nsec = next(r for r in nodata.authority if r.rdtype == dns.rdatatype.NSEC)
    assert nsec[0].to_text().split()[1:] == ["A", "RRSIG", "NSEC"]
    assert validate(nodata, keys, signed.now[0], "authority") == 2
    apex = await signed.ask("example.com.", "TXT")
    nsec = next(r for r in apex.authority if r.rdtype == dns.rdatatype.NSEC)
    assert nsec[0].to_text().split()[1:] == ["NS", "SOA", "RRSIG", "NSEC", "DNSKEY"]
    referral = await signed.ask("host.sub.example.com.", "A")
    assert not referral.flags & dns.flags.AA
    cut = next(r for r in referral.authority if r.rdtype == dns.rdatatype.NSEC)
    assert cut.name == dns.name.from_text("sub.example.com.")
    assert cut[0].to_text().split()[1:] == ["NS", "RRSIG", "NSEC"]
    signatures = [r for r in referral.authority if r.rdtype == dns.rdatatype.RRSIG]
    assert [s.covers for s in signatures] == [dns.rdatatype.NSEC]  # the NS set is the child's
    dnssec.validate(
        cut, signatures[0], {dns.name.from_text("example.com."): keys}, now=signed.now[0]
    )


async def test_ttls_capped_at_a_week_and_truncation_keeps_do(signed: Signed) -> None:
    _, made = await sign_zone(signed)
    keys = validated_keys(
        await signed.ask("example.com.", "DNSKEY"), made["KeySigningKey"]["DSRecord"], signed.now[0]
    )
    long = await signed.ask("long.example.com.", "TXT")
    assert long.answer[0].ttl == 604800  # two weeks stored, one week answered (AWS's cap)
    assert validate(long, keys, signed.now[0]) == 1
    signed.zones.invalidate()
    query = dns.message.make_query("long.example.com.", "TXT", want_dnssec=True, payload=512)
    wire = await signed.server.answer(query.to_wire(), udp=True)
    assert wire is not None
    truncated = dns.message.from_wire(wire)
    assert truncated.flags & dns.flags.TC and truncated.ednsflags & dns.flags.DO


async def test_without_do_or_once_disabled_nothing_is_signed(signed: Signed) -> None:
    zone_id, _ = await sign_zone(signed)
    plain = await signed.ask("www.example.com.", "A", do=False)
    assert not any(r.rdtype == dns.rdatatype.RRSIG for r in plain.answer)
    missing = await signed.ask("nothere.example.com.", "A", do=False)
    assert missing.rcode() == dns.rcode.NXDOMAIN
    assert not any(r.rdtype == dns.rdatatype.NSEC for r in missing.authority)
    keys = await signed.ask("example.com.", "DNSKEY", do=False)
    assert [r.rdtype for r in keys.answer] == [dns.rdatatype.DNSKEY]  # served, unsigned
    await signed.r53.client("DisableHostedZoneDNSSEC", HostedZoneId=zone_id)
    after = await signed.ask("www.example.com.", "A")
    assert [r.rdtype for r in after.answer] == [dns.rdatatype.A]
    assert (await signed.ask("example.com.", "DNSKEY")).answer == []
    got = await signed.r53.client("GetDNSSEC", HostedZoneId=zone_id)
    assert got["Status"]["ServeSignature"] == "NOT_SIGNING"


async def test_ksk_signatures_come_from_kms_cached_and_metered(signed: Signed) -> None:
    await sign_zone(signed)
    first = await signed.ask("example.com.", "DNSKEY")
    again = await signed.ask("example.com.", "DNSKEY")
    sig = [r for r in first.answer if r.rdtype == dns.rdatatype.RRSIG]
    assert sig == [r for r in again.answer if r.rdtype == dns.rdatatype.RRSIG]  # cached
    signed.now[0] += VALIDITY / 2 + 1  # less than half left: made again
    later = await signed.ask("example.com.", "DNSKEY")
    fresh = [r for r in later.answer if r.rdtype == dns.rdatatype.RRSIG]
    assert fresh != sig
    await signed.r53.audit.flush()
    events = [e for _, e in await signed.r53.audit_store.list_events(None, after_id=0, limit=500)]
    signs = [e for e in events if e.action == "kms:Sign" and e.principal == DNSSEC_SERVICE]
    assert len(signs) == 2
    await signed.billing.flush()
    month = time.strftime("%Y-%m", time.gmtime())
    report = await signed.billing.usage_report(signed.r53.tenant_id, parse_month(month))
    used = sum(line.quantity for line in report.lines if line.meter == "kms.requests")
    assert used == 2 + 2  # DescribeKey and GetPublicKey at create, two signatures


async def test_a_key_kms_refuses_is_action_needed(signed: Signed) -> None:
    zone_id, made = await sign_zone(signed)
    arn = made["KeySigningKey"]["KmsArn"]
    await signed.kit.service.disable_key(root(signed.r53.tenant_id), arn)
    answer = await signed.ask("example.com.", "DNSKEY")
    assert not any(r.rdtype == dns.rdatatype.RRSIG for r in answer.answer)
    got = await signed.r53.client("GetDNSSEC", HostedZoneId=zone_id)
    assert got["Status"]["ServeSignature"] == "ACTION_NEEDED"
    assert got["KeySigningKeys"][0]["Status"] == "ACTION_NEEDED"
    assert "disabled" in got["Status"]["StatusMessage"]
    await signed.kit.service.enable_key(root(signed.r53.tenant_id), arn)
    signed.now[0] += 61  # asked again after a minute
    answer = await signed.ask("example.com.", "DNSKEY")
    validated_keys(answer, made["KeySigningKey"]["DSRecord"], signed.now[0])
    got = await signed.r53.client("GetDNSSEC", HostedZoneId=zone_id)
    assert got["Status"]["ServeSignature"] == "SIGNING"


async def test_zone_keys_are_sealed_and_rolled_on_schedule(signed: Signed) -> None:
    zone_id, made = await sign_zone(signed)
    held = await signed.store.signing(signed.r53.tenant_id, zone_id)
    assert held is not None and len(held.zone_keys) == 1
    first = held.zone_keys[0]
    assert b"\x30\x81" not in first.sealed_private_key[:8]  # not a PKCS#8 DER in clear
    ds = made["KeySigningKey"]["DSRecord"]

    async def zsk_tags() -> tuple[list[int], int]:
        answer = await signed.ask("example.com.", "DNSKEY")
        keys = validated_keys(answer, ds, signed.now[0])
        www = await signed.ask("www.example.com.", "A")
        validate(www, keys, signed.now[0])
        signer = next(r for r in www.answer if r.rdtype == dns.rdatatype.RRSIG)[0].key_tag
        return sorted(dnssec.key_id(k) for k in keys if k.flags == 256), signer

    tags, signer = await zsk_tags()
    assert tags == [signer]
    signed.now[0] += ROTATION - 3600  # due: the next one is published, not yet signing
    tags, signer_after = await zsk_tags()
    assert len(tags) == 2 and signer_after == signer
    signed.now[0] += 3600  # published a DNSKEY TTL: it signs
    tags, signer_later = await zsk_tags()
    assert len(tags) == 2 and signer_later != signer
    signed.now[0] += VALIDITY + 2 * 3600  # the old one's signatures expired: it goes
    tags, last = await zsk_tags()
    assert tags == [last] == [signer_later]


async def test_settings_bound_the_signing(tmp_path: Path) -> None:
    from pydantic import ValidationError

    settings = Settings(data_dir=tmp_path)
    assert settings.route53_dnssec_signature_validity_seconds == 172800
    assert settings.route53_dnssec_zsk_rotation_seconds == 90 * 86400
    for field, value in (
        ("route53_dnssec_signature_validity_seconds", 3600),
        ("route53_dnssec_zsk_rotation_seconds", 3600),
    ):
        with pytest.raises(ValidationError):
            Settings(data_dir=tmp_path, **{field: value})


async def test_serve_wires_dnssec_over_the_database(tmp_path: Path, kit: Kit) -> None:
    """``route53_api`` given the KMS services serves DNSSEC over the database's store; a
    zone's DNSSEC state goes with the zone and with a closed tenant; without them it is not
    served (``InvalidInput``)."""
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    settings = Settings(data_dir=tmp_path / "data", region=REGION)
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    audit = AuditService(MemoryAuditStore())
    apis: dict[str, Any] = {}
    forget = route53_api(apis, settings, db, identity, audit, None, None, None, None, None,
                         kit.service, kit.keys)  # fmt: skip
    try:
        app = apis["route53"]
        assert app.dnssec is not None and isinstance(app.dnssec.store, SqlDnssecStore)
        account = "111111111111"
        key = await kit.service.create_key(
            root(account), key_usage="SIGN_VERIFY", key_spec="ECC_NIST_P256",
            policy=key_policy(account),
        )  # fmt: skip
        for name in ("a.example", "b.example"):
            zone, _ = await app.service.create_zone(account, name, name, "", False, None)
            await app.dnssec.create_key(account, zone.zone_id, "ksk_1", key.arn, "ACTIVE", "r")
            await app.dnssec.enable(account, zone.zone_id)
        assert len(await app.dnssec.store.signed_zones()) == 2
        await app.service.delete_zone(account, zone.zone_id)
        assert len(await app.dnssec.store.signed_zones()) == 1
        await forget(account)
        assert await app.dnssec.store.signed_zones() == []
        bare: dict[str, Any] = {}
        route53_api(bare, settings, db, identity, audit, None, None)
        assert bare["route53"].dnssec is None
    finally:
        await audit.close()
        await db.close()


def rrset_and_signature(
    answer: dns.message.Message, section: str, name: str, rdtype: dns.rdatatype.RdataType
) -> tuple[dns.rrset.RRset, dns.rrset.RRset]:
    rrsets = getattr(answer, section)
    owner = dns.name.from_text(name)
    found = answer.find_rrset(rrsets, owner, dns.rdataclass.IN, rdtype)
    sig = answer.find_rrset(rrsets, owner, dns.rdataclass.IN, dns.rdatatype.RRSIG, rdtype)
    return found, sig


async def test_a_secure_delegation_between_two_zones_served_here(signed: Signed) -> None:
    """Decision 0324: the parent delegates ``shop.example.com`` to these name servers and
    holds the child's DS; a validator goes parent DNSKEY → DS (answered and signed by the
    parent, though the child is served here) → child DNSKEY → the child's answer."""
    r53 = signed.r53
    parent_id, parent_made = await sign_zone(signed)
    child_id = (await r53.zone("shop.example.com")).rsplit("/", 1)[-1]
    www = RecordSet("www.shop.example.com.", "A", 60, ("192.0.2.9",))
    await r53.service.change_records(r53.tenant_id, child_id, [Change("CREATE", www)])
    child_made = await r53.client(
        "CreateKeySigningKey", CallerReference="ref-2", HostedZoneId=child_id,
        KeyManagementServiceArn=await signed.key(), Name="ksk_child", Status="ACTIVE",
    )  # fmt: skip
    await r53.client("EnableHostedZoneDNSSEC", HostedZoneId=child_id)
    child_ds = child_made["KeySigningKey"]["DSRecord"]
    servers = tuple(f"{s}." for s in NAME_SERVERS)
    cut_ns = RecordSet("shop.example.com.", "NS", 300, servers)
    cut_ds = RecordSet("shop.example.com.", "DS", 300, (child_ds,))
    now = signed.now[0]
    parent = dns.name.from_text("example.com.")
    child = dns.name.from_text("shop.example.com.")

    alone = await r53.client("GetDNSSEC", HostedZoneId=child_id)
    assert "StatusMessage" not in alone["Status"]  # no parent here: nothing to say
    await r53.service.change_records(r53.tenant_id, parent_id, [Change("CREATE", cut_ns)])
    broken = await r53.client("GetDNSSEC", HostedZoneId=child_id)
    assert broken["Status"]["ServeSignature"] == "SIGNING"
    assert broken["Status"]["StatusMessage"].startswith("The parent zone example.com. delegates")
    insecure = await signed.ask("shop.example.com.", "DS")  # no DS yet: the parent denies it
    assert insecure.flags & dns.flags.AA and not insecure.answer
    parent_keys = validated_keys(
        await signed.ask("example.com.", "DNSKEY"), parent_made["KeySigningKey"]["DSRecord"], now
    )
    nsec, nsec_sig = rrset_and_signature(insecure, "authority", "shop.example.com.", 47)
    dnssec.validate(nsec, nsec_sig, {parent: parent_keys}, now=now)
    assert "DS" not in nsec[0].to_text() and " NS " in f" {nsec[0].to_text()} "

    await r53.service.change_records(r53.tenant_id, parent_id, [Change("CREATE", cut_ds)])
    ds_answer = await signed.ask("shop.example.com.", "DS")
    assert ds_answer.flags & dns.flags.AA
    ds, ds_sig = rrset_and_signature(ds_answer, "answer", "shop.example.com.", dns.rdatatype.DS)
    dnssec.validate(ds, ds_sig, {parent: parent_keys}, now=now)
    assert ds_sig[0].signer == parent
    keys_answer = await signed.ask("shop.example.com.", "DNSKEY")
    child_keys, keys_sig = rrset_and_signature(
        keys_answer, "answer", "shop.example.com.", dns.rdatatype.DNSKEY
    )
    dnssec.validate(child_keys, keys_sig, {child: child_keys}, now=now)
    assert any(dnssec.make_ds(child, k, "SHA256") in ds for k in child_keys if k.flags == KSK_FLAG)
    answer = await signed.ask("www.shop.example.com.", "A")
    a, a_sig = rrset_and_signature(answer, "answer", "www.shop.example.com.", dns.rdatatype.A)
    dnssec.validate(a, a_sig, {child: child_keys}, now=now)
    plain = await signed.ask("shop.example.com.", "DS", do=False)
    assert [r.rdtype for r in plain.answer] == [dns.rdatatype.DS]

    chained = await r53.client("GetDNSSEC", HostedZoneId=child_id)
    assert "StatusMessage" not in chained["Status"]
    refusal = await r53.fails(
        "DisableHostedZoneDNSSEC", "KeySigningKeyInParentDSRecord", HostedZoneId=child_id
    )
    assert "ksk_child is specified in a parent DS record" in refusal.message
    await r53.client(
        "CreateKeySigningKey", CallerReference="ref-3", HostedZoneId=child_id,
        KeyManagementServiceArn=await signed.key(), Name="ksk_next", Status="ACTIVE",
    )  # fmt: skip
    await r53.fails(
        "DeactivateKeySigningKey", "KeySigningKeyInParentDSRecord",
        HostedZoneId=child_id, Name="ksk_child",
    )  # fmt: skip
    await r53.service.change_records(r53.tenant_id, parent_id, [Change("DELETE", cut_ds)])
    await r53.client("DeactivateKeySigningKey", HostedZoneId=child_id, Name="ksk_child")
    await r53.client("DisableHostedZoneDNSSEC", HostedZoneId=child_id)


async def test_a_referral_carries_the_cut_ds_signed_by_the_parent(signed: Signed) -> None:
    """A delegation elsewhere with a DS set: asked with DO, the referral's authority holds the
    NS set (unsigned), the DS set and its RRSIG by the parent, and no NSEC; without DO, the
    NS set alone."""
    zone_id, made = await sign_zone(signed)
    ds_value = "60485 13 2 " + "AB" * 32
    ds = RecordSet("sub.example.com.", "DS", 300, (ds_value,))
    await signed.r53.service.change_records(signed.r53.tenant_id, zone_id, [Change("CREATE", ds)])
    now = signed.now[0]
    keys = validated_keys(
        await signed.ask("example.com.", "DNSKEY"), made["KeySigningKey"]["DSRecord"], now
    )
    referral = await signed.ask("www.sub.example.com.", "A")
    assert not referral.flags & dns.flags.AA and not referral.answer
    kinds = [(r.rdtype, r.covers) for r in referral.authority]
    assert kinds == [
        (dns.rdatatype.NS, dns.rdatatype.NONE),
        (dns.rdatatype.DS, dns.rdatatype.NONE),
        (dns.rdatatype.RRSIG, dns.rdatatype.DS),
    ]
    signed_ds, ds_sig = referral.authority[1:]
    dnssec.validate(signed_ds, ds_sig, {dns.name.from_text("example.com."): keys}, now=now)
    assert signed_ds[0].to_text().upper() == ds_value
    plain = await signed.ask("www.sub.example.com.", "A", do=False)
    assert [r.rdtype for r in plain.authority] == [dns.rdatatype.NS]
