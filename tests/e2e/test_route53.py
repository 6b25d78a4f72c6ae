"""Route 53 end to end (decisions 0280, 0284), on the session's ``andromede serve`` (no server
of its own): boto3's ``route53`` client (its own handlers: the ``/hostedzone/`` prefixes taken off,
its signing) makes a zone, writes and lists its records, waits for its change with botocore's
``resource_record_sets_changed`` waiter, asks the public name servers and TestDNSAnswer for a
name (decision 0289) — the query written into the zone's query log group (decision 0305) —,
writes weighted sets and an alias, and deletes it; the aws CLI lists and reads it. A zone
signed with a KSK in KMS (decision 0317) is validated by dnspython. A traffic policy instance
(decision 0330) is answered by the name servers. Another account's VPC is associated by
authorisation, and a zone made on a reusable delegation set (decision 0346)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import pytest
from botocore.exceptions import ClientError

from andromede.route53.dnssec_model import dnssec
from e2e.clients import aws_cli
from e2e.iam_helpers import REGION, client_for, new_tenant
from support.server import ServerProcess

pytestmark = pytest.mark.e2e


def test_boto3_and_the_cli_manage_a_zone(server: ServerProcess, tmp_path: Path) -> None:
    tenant = new_tenant(server, "route53-e2e")
    route53: Any = client_for(server, "route53", tenant.access_key_id, tenant.secret_access_key)
    made = route53.create_hosted_zone(Name="e2e.example.", CallerReference="e2e-1")
    zone_id = made["HostedZone"]["Id"]
    assert zone_id.startswith("/hostedzone/Z")
    changed = route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": "www.e2e.example",
                        "Type": "A",
                        "TTL": 60,
                        "ResourceRecords": [{"Value": "192.0.2.10"}],
                    },
                }
            ]
        },
    )
    waiter = route53.get_waiter("resource_record_sets_changed")
    waiter.wait(Id=changed["ChangeInfo"]["Id"], WaiterConfig={"Delay": 1, "MaxAttempts": 3})
    # Decision 0305: the zone's queries logged into a group Route 53 is let into.
    logs: Any = client_for(server, "logs", tenant.access_key_id, tenant.secret_access_key)
    group = "/aws/route53/e2e.example"
    logs.create_log_group(logGroupName=group)
    allowed = {
        "Effect": "Allow",
        "Principal": {"Service": "route53.amazonaws.com"},
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": f"arn:aws:logs:{REGION}:{tenant.account}:log-group:/aws/route53/*",
    }
    document = json.dumps({"Version": "2012-10-17", "Statement": [allowed]})
    logs.put_resource_policy(policyName="route53", policyDocument=document)
    logging = route53.create_query_logging_config(
        HostedZoneId=zone_id,
        CloudWatchLogsLogGroupArn=f"arn:aws:logs:{REGION}:{tenant.account}:log-group:{group}",
    )["QueryLoggingConfig"]
    # Decision 0289: the public name servers answer it at once, as TestDNSAnswer says.
    (listen,) = json.loads(server.extra_env["ANDROMEDE_ROUTE53_DNS_LISTEN"])
    host, port = listen.rsplit(":", 1)
    query = dns.message.make_query("www.e2e.example", "A")
    answered = dns.query.udp(query, host, timeout=5, port=int(port))
    assert answered.flags & dns.flags.AA
    assert [d.to_text() for d in answered.answer[0]] == ["192.0.2.10"]
    tested = route53.test_dns_answer(
        HostedZoneId=zone_id, RecordName="www.e2e.example", RecordType="A"
    )
    assert (tested["RecordData"], tested["ResponseCode"]) == (["192.0.2.10"], "NOERROR")
    stream = f"{zone_id.split('/')[-1]}/{REGION}"
    # A worker learns of the configuration at its next flush (every half second here): the
    # queries it answered before are not logged (AWS too takes a while to start). Ask again
    # until a line is written.
    for _ in range(40):
        found = logs.describe_log_streams(logGroupName=group)["logStreams"]
        if found:
            break
        dns.query.udp(query, host, timeout=5, port=int(port))
        time.sleep(0.25)
    events = logs.get_log_events(logGroupName=group, logStreamName=stream)["events"]
    assert events
    assert {tuple(e["message"].split(" ")[2:8]) for e in events} == {
        (zone_id.split("/")[-1], "www.e2e.example", "A", "NOERROR", "UDP", REGION)
    }
    assert route53.list_query_logging_configs(HostedZoneId=zone_id)["QueryLoggingConfigs"] == [
        logging
    ]
    records = route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    assert [(r["Name"], r["Type"]) for r in records] == [
        ("e2e.example.", "NS"), ("e2e.example.", "SOA"), ("www.e2e.example.", "A")
    ]  # fmt: skip
    with pytest.raises(ClientError) as refused:
        route53.delete_hosted_zone(Id=zone_id)
    assert refused.value.response["Error"]["Code"] == "HostedZoneNotEmpty"

    # Decision 0284: weighted sets and an alias to one of the zone's names, as boto3 writes
    # them; an alias to nothing refused with AWS's words.
    routed = [
        {"Name": "api.e2e.example", "Type": "A", "SetIdentifier": name, "Weight": weight,
         "TTL": 30, "ResourceRecords": [{"Value": value}]}
        for name, weight, value in (("blue", 3, "192.0.2.11"), ("green", 1, "192.0.2.12"))
    ] + [
        {"Name": "e2e.example", "Type": "A", "AliasTarget": {
            "HostedZoneId": zone_id.split("/")[-1], "DNSName": "api.e2e.example",
            "EvaluateTargetHealth": False}},
    ]  # fmt: skip
    route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": r} for r in routed]},
    )
    listed_sets = route53.list_resource_record_sets(
        HostedZoneId=zone_id, StartRecordName="api.e2e.example", StartRecordType="A",
        StartRecordIdentifier="green", MaxItems="1",
    )  # fmt: skip
    assert listed_sets["ResourceRecordSets"][0]["Weight"] == 1
    assert listed_sets["NextRecordName"] == "www.e2e.example."
    with pytest.raises(ClientError) as dangling:
        route53.change_resource_record_sets(
            HostedZoneId=zone_id,
            ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": {
                "Name": "x.e2e.example", "Type": "A", "AliasTarget": {
                    "HostedZoneId": zone_id.split("/")[-1], "DNSName": "nope.e2e.example",
                    "EvaluateTargetHealth": False}}}]},
        )  # fmt: skip
    assert "but that target was not found" in dangling.value.response["Error"]["Message"]
    route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": r} for r in routed]},
    )

    # The admin's CLI sees only its own zones; the tenant's zone is not its.
    aws = aws_cli(server, tmp_path)
    listed = json.loads(aws("route53", "list-hosted-zones").stdout)["HostedZones"]
    assert zone_id not in [z["Id"] for z in listed]
    own = json.loads(
        aws("route53", "create-hosted-zone", "--name", "cli.example", "--caller-reference",
            "cli-1").stdout
    )["HostedZone"]["Id"]  # fmt: skip
    shown = json.loads(aws("route53", "get-hosted-zone", "--id", own).stdout)
    assert shown["HostedZone"]["Name"] == "cli.example."
    aws("route53", "delete-hosted-zone", "--id", own)

    route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "DELETE",
                    "ResourceRecordSet": {
                        "Name": "www.e2e.example.",
                        "Type": "A",
                        "TTL": 60,
                        "ResourceRecords": [{"Value": "192.0.2.10"}],
                    },
                }
            ]
        },
    )
    route53.delete_hosted_zone(Id=zone_id)


def test_boto3_makes_a_health_check_the_gateway_runs(server: ServerProcess) -> None:
    """Decision 0285 on the real serve: a CLOUDWATCH_METRIC check on an alarm that does not
    exist (no network probe) is run by the gateway's rounds, its observation read back."""
    tenant = new_tenant(server, "route53-health-e2e")
    route53: Any = client_for(server, "route53", tenant.access_key_id, tenant.secret_access_key)
    made = route53.create_health_check(
        CallerReference="e2e-h1",
        HealthCheckConfig={
            "Type": "CLOUDWATCH_METRIC",
            "AlarmIdentifier": {"Region": "us-east-1", "Name": "no-such-alarm"},
            "InsufficientDataHealthStatus": "Unhealthy",
        },
    )
    check_id = made["HealthCheck"]["Id"]
    assert route53.get_health_check_count()["HealthCheckCount"] == 1
    route53.change_tags_for_resource(
        ResourceType="healthcheck", ResourceId=check_id, AddTags=[{"Key": "k", "Value": "v"}]
    )
    tags = route53.list_tags_for_resource(ResourceType="healthcheck", ResourceId=check_id)
    assert tags["ResourceTagSet"]["Tags"] == [{"Key": "k", "Value": "v"}]
    deadline = time.monotonic() + 20
    observations: list[Any] = []
    while not observations and time.monotonic() < deadline:
        time.sleep(0.5)
        status = route53.get_health_check_status(HealthCheckId=check_id)
        observations = status["HealthCheckObservations"]
    assert observations, "no round of the gateway ran the check"
    assert observations[0]["StatusReport"]["Status"].startswith("Unhealthy: The CloudWatch alarm")
    route53.delete_health_check(HealthCheckId=check_id)
    assert route53.list_health_checks()["HealthChecks"] == []


def test_boto3_signs_a_zone_that_dnspython_validates(server: ServerProcess) -> None:
    """Decision 0317: a KMS key with AWS's key policy for Route 53's DNSSEC service, a KSK,
    signing enabled; the session server's name servers answer with DO and dnspython validates
    the DNSKEY set against the DS GetDNSSEC gives, then the answer against the DNSKEY set;
    once disabled, no RRSIG."""
    tenant = new_tenant(server, "route53-dnssec")
    route53: Any = client_for(server, "route53", tenant.access_key_id, tenant.secret_access_key)
    kms: Any = client_for(server, "kms", tenant.access_key_id, tenant.secret_access_key)
    service = {
        "Sid": "Allow Route 53 DNSSEC Service", "Effect": "Allow",
        "Principal": {"Service": "dnssec-route53.amazonaws.com"},
        "Action": ["kms:DescribeKey", "kms:GetPublicKey", "kms:Sign"], "Resource": "*",
        "Condition": {"StringEquals": {"aws:SourceAccount": tenant.account},
                      "ArnLike": {"aws:SourceArn": "arn:aws:route53:::hostedzone/*"}},
    }  # fmt: skip
    admin = {"Sid": "Root", "Effect": "Allow", "Action": "kms:*", "Resource": "*",
             "Principal": {"AWS": f"arn:aws:iam::{tenant.account}:root"}}  # fmt: skip
    key = kms.create_key(
        KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY",
        Policy=json.dumps({"Version": "2012-10-17", "Statement": [admin, service]}),
    )["KeyMetadata"]  # fmt: skip
    zone_id = route53.create_hosted_zone(Name="signed.example.", CallerReference="dnssec-1")[
        "HostedZone"
    ]["Id"].split("/")[-1]
    route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": {
            "Name": "www.signed.example", "Type": "A", "TTL": 60,
            "ResourceRecords": [{"Value": "192.0.2.20"}]}}]},
    )  # fmt: skip
    ksk = route53.create_key_signing_key(
        CallerReference="ksk-1", HostedZoneId=zone_id, KeyManagementServiceArn=key["Arn"],
        Name="e2e_ksk", Status="ACTIVE",
    )["KeySigningKey"]  # fmt: skip
    route53.enable_hosted_zone_dnssec(HostedZoneId=zone_id)
    state = route53.get_dnssec(HostedZoneId=zone_id)
    assert state["Status"]["ServeSignature"] == "SIGNING"
    assert state["KeySigningKeys"][0]["DSRecord"] == ksk["DSRecord"]

    (listen,) = json.loads(server.extra_env["ANDROMEDE_ROUTE53_DNS_LISTEN"])
    host, port = listen.rsplit(":", 1)
    apex = dns.name.from_text("signed.example.")

    def ask(name: str, rdtype: str) -> dns.message.Message:
        query = dns.message.make_query(name, rdtype, want_dnssec=True)
        return dns.query.tcp(query, host, timeout=5, port=int(port))

    def signed(message: dns.message.Message) -> bool:
        return any(r.rdtype == dns.rdatatype.RRSIG for r in message.answer)

    def ask_until(name: str, rdtype: str, wanted: Callable[[dns.message.Message], bool]) -> Any:
        # Each query may land on another worker of the server (SO_REUSEPORT), and each sees the
        # change within route53_dns_cache_seconds of its own: every question is asked again until
        # answered as wanted, on a deadline long enough for a loaded machine.
        deadline = time.monotonic() + 30
        while True:
            message = ask(name, rdtype)
            if wanted(message) or time.monotonic() > deadline:
                return message
            time.sleep(0.25)

    keys_answer = ask_until("signed.example.", "DNSKEY", signed)
    keys = keys_answer.find_rrset(keys_answer.answer, apex, dns.rdataclass.IN,
                                  dns.rdatatype.DNSKEY)  # fmt: skip
    signatures = keys_answer.find_rrset(keys_answer.answer, apex, dns.rdataclass.IN,
                                        dns.rdatatype.RRSIG, dns.rdatatype.DNSKEY)  # fmt: skip
    dnssec.validate(keys, signatures, {apex: keys})
    ksks = [k for k in keys if k.flags == 257]
    assert [dnssec.make_ds(apex, k, "SHA256").to_text().upper() for k in ksks] == [ksk["DSRecord"]]
    answer = ask_until("www.signed.example.", "A", signed)
    www = dns.name.from_text("www.signed.example.")
    rrset = answer.find_rrset(answer.answer, www, dns.rdataclass.IN, dns.rdatatype.A)
    rrsig = answer.find_rrset(answer.answer, www, dns.rdataclass.IN, dns.rdatatype.RRSIG,
                              dns.rdatatype.A)  # fmt: skip
    dnssec.validate(rrset, rrsig, {apex: keys})

    route53.disable_hosted_zone_dnssec(HostedZoneId=zone_id)
    plain = ask_until("www.signed.example.", "A", lambda message: not signed(message))
    assert [r.rdtype for r in plain.answer] == [dns.rdatatype.A]
    route53.deactivate_key_signing_key(HostedZoneId=zone_id, Name="e2e_ksk")
    route53.delete_key_signing_key(HostedZoneId=zone_id, Name="e2e_ksk")
    route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": {
            "Name": "www.signed.example", "Type": "A", "TTL": 60,
            "ResourceRecords": [{"Value": "192.0.2.20"}]}}]},
    )  # fmt: skip
    route53.delete_hosted_zone(Id=zone_id)


def _signing_key(kms: Any, account: str) -> str:
    """A KMS key with AWS's key policy for Route 53's DNSSEC service."""
    service = {
        "Sid": "Allow Route 53 DNSSEC Service", "Effect": "Allow",
        "Principal": {"Service": "dnssec-route53.amazonaws.com"},
        "Action": ["kms:DescribeKey", "kms:GetPublicKey", "kms:Sign"], "Resource": "*",
        "Condition": {"StringEquals": {"aws:SourceAccount": account}},
    }  # fmt: skip
    admin = {"Sid": "Root", "Effect": "Allow", "Action": "kms:*", "Resource": "*",
             "Principal": {"AWS": f"arn:aws:iam::{account}:root"}}  # fmt: skip
    policy = json.dumps({"Version": "2012-10-17", "Statement": [admin, service]})
    made = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY", Policy=policy)
    return str(made["KeyMetadata"]["Arn"])


def test_a_parent_zone_delegates_securely_to_a_signed_child(server: ServerProcess) -> None:
    """Decision 0324: a signed parent zone delegates to a signed child served by the same name
    servers and holds the child's DS record (written with boto3 as type DS); dnspython
    validates the chain parent DNSKEY → DS → child DNSKEY → the child's answer."""
    tenant = new_tenant(server, "route53-ds")
    route53: Any = client_for(server, "route53", tenant.access_key_id, tenant.secret_access_key)
    kms: Any = client_for(server, "kms", tenant.access_key_id, tenant.secret_access_key)
    made: dict[str, tuple[str, str]] = {}  # zone name -> (zone id, DS of its KSK)
    for name in ("chain.example.", "shop.chain.example."):
        zone = route53.create_hosted_zone(Name=name, CallerReference=f"ds-{name}")
        zone_id = zone["HostedZone"]["Id"].split("/")[-1]
        ksk = route53.create_key_signing_key(
            CallerReference=f"ksk-{name}", HostedZoneId=zone_id, Name="chain_ksk",
            KeyManagementServiceArn=_signing_key(kms, tenant.account), Status="ACTIVE",
        )["KeySigningKey"]  # fmt: skip
        route53.enable_hosted_zone_dnssec(HostedZoneId=zone_id)
        made[name] = (zone_id, ksk["DSRecord"])
        servers = zone["DelegationSet"]["NameServers"]
    parent_id, parent_ds = made["chain.example."]
    child_id, child_ds = made["shop.chain.example."]

    def record(name: str, kind: str, values: list[str]) -> dict[str, Any]:
        return {"Action": "CREATE", "ResourceRecordSet": {
            "Name": name, "Type": kind, "TTL": 300,
            "ResourceRecords": [{"Value": v} for v in values]}}  # fmt: skip

    with pytest.raises(ClientError, match="not permitted because no RRSet of type NS"):
        route53.change_resource_record_sets(
            HostedZoneId=parent_id,
            ChangeBatch={"Changes": [record("shop.chain.example", "DS", [child_ds])]},
        )
    route53.change_resource_record_sets(
        HostedZoneId=parent_id,
        ChangeBatch={"Changes": [
            record("shop.chain.example", "NS", servers),
            record("shop.chain.example", "DS", [child_ds]),
        ]},
    )  # fmt: skip
    route53.change_resource_record_sets(
        HostedZoneId=child_id,
        ChangeBatch={"Changes": [record("www.shop.chain.example", "A", ["192.0.2.30"])]},
    )

    (listen,) = json.loads(server.extra_env["ANDROMEDE_ROUTE53_DNS_LISTEN"])
    host, port = listen.rsplit(":", 1)

    def signed(name: str, rdtype: dns.rdatatype.RdataType) -> tuple[Any, Any]:
        owner = dns.name.from_text(name)
        for _ in range(40):  # another worker of the server sees the change within its cache
            query = dns.message.make_query(owner, rdtype, want_dnssec=True)
            answer = dns.query.tcp(query, host, timeout=5, port=int(port))
            sigs = [r for r in answer.answer if r.rdtype == dns.rdatatype.RRSIG]
            if sigs and any(r.rdtype == rdtype for r in answer.answer):
                break
            time.sleep(0.25)
        found = answer.find_rrset(answer.answer, owner, dns.rdataclass.IN, rdtype)
        sig = answer.find_rrset(
            answer.answer, owner, dns.rdataclass.IN, dns.rdatatype.RRSIG, rdtype
        )
        return found, sig

    parent = dns.name.from_text("chain.example.")
    child = dns.name.from_text("shop.chain.example.")
    parent_keys, sig = signed("chain.example.", dns.rdatatype.DNSKEY)
    dnssec.validate(parent_keys, sig, {parent: parent_keys})
    ksks = [k for k in parent_keys if k.flags == 257]
    assert [dnssec.make_ds(parent, k, "SHA256").to_text().upper() for k in ksks] == [parent_ds]
    ds, sig = signed("shop.chain.example.", dns.rdatatype.DS)
    dnssec.validate(ds, sig, {parent: parent_keys})
    child_keys, sig = signed("shop.chain.example.", dns.rdatatype.DNSKEY)
    dnssec.validate(child_keys, sig, {child: child_keys})
    assert any(dnssec.make_ds(child, k, "SHA256") in ds for k in child_keys if k.flags == 257)
    www, sig = signed("www.shop.chain.example.", dns.rdatatype.A)
    dnssec.validate(www, sig, {child: child_keys})
    assert [r.to_text() for r in www] == ["192.0.2.30"]

    with pytest.raises(ClientError) as refused:
        route53.disable_hosted_zone_dnssec(HostedZoneId=child_id)
    assert refused.value.response["Error"]["Code"] == "KeySigningKeyInParentDSRecord"
    assert "StatusMessage" not in route53.get_dnssec(HostedZoneId=child_id)["Status"]


def test_boto3_makes_a_traffic_policy_instance_the_name_servers_answer(
    server: ServerProcess,
) -> None:
    """Decision 0330: a failover policy (its primary a weighted rule) made with boto3, an
    instance of it in a public zone, and the session server's name servers answering the
    instance's name with the primary's address; updated to a new version, answered anew;
    deleted, answered NXDOMAIN."""
    tenant = new_tenant(server, "route53-traffic")
    route53: Any = client_for(server, "route53", tenant.access_key_id, tenant.secret_access_key)
    zone_id = route53.create_hosted_zone(Name="flow.example.", CallerReference="traffic-1")[
        "HostedZone"
    ]["Id"]
    document = {
        "AWSPolicyFormatVersion": "2015-10-01",
        "RecordType": "A",
        "StartRule": "site",
        "Endpoints": {
            "main": {"Type": "value", "Value": "192.0.2.21"},
            "spare": {"Type": "value", "Value": "192.0.2.22"},
            "sorry": {"Type": "value", "Value": "192.0.2.29"},
        },
        "Rules": {
            "site": {
                "RuleType": "failover",
                "Primary": {"RuleReference": "spread"},
                "Secondary": {"EndpointReference": "sorry"},
            },
            "spread": {
                "RuleType": "weighted",
                "Items": [
                    {"EndpointReference": "main", "Weight": "100"},
                    {"EndpointReference": "spare", "Weight": "0"},
                ],
            },
        },
    }
    policy = route53.create_traffic_policy(Name="flow", Document=json.dumps(document))[
        "TrafficPolicy"
    ]
    instance = route53.create_traffic_policy_instance(
        HostedZoneId=zone_id,
        Name="www.flow.example",
        TTL=45,
        TrafficPolicyId=policy["Id"],
        TrafficPolicyVersion=1,
    )["TrafficPolicyInstance"]
    assert instance["State"] == "Applied"
    sets = route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    assert {s.get("TrafficPolicyInstanceId") for s in sets if s["Type"] == "A"} == {instance["Id"]}
    (listen,) = json.loads(server.extra_env["ANDROMEDE_ROUTE53_DNS_LISTEN"])
    host, port = listen.rsplit(":", 1)

    def answer(wanted: str | None) -> dns.message.Message:
        # Another worker of the server sees the change within route53_dns_cache_seconds.
        for _ in range(40):
            query = dns.message.make_query("www.flow.example", "A")
            answered = dns.query.udp(query, host, timeout=5, port=int(port))
            found = [d.to_text() for r in answered.answer for d in r]
            gone = answered.rcode() == dns.rcode.NXDOMAIN  # the zone's own "no such name"
            if (wanted is None and gone) or (wanted is not None and found == [wanted]):
                return answered
            time.sleep(0.25)
        raise AssertionError(f"never answered {wanted}: {answered}")

    answered = answer("192.0.2.21")
    assert answered.flags & dns.flags.AA and answered.answer[0].ttl == 45
    with pytest.raises(ClientError) as refused:
        route53.delete_traffic_policy(Id=policy["Id"], Version=1)
    assert refused.value.response["Error"]["Code"] == "TrafficPolicyInUse"
    document["Endpoints"]["main"]["Value"] = "192.0.2.31"
    route53.create_traffic_policy_version(Id=policy["Id"], Document=json.dumps(document))
    route53.update_traffic_policy_instance(
        Id=instance["Id"], TTL=45, TrafficPolicyId=policy["Id"], TrafficPolicyVersion=2
    )
    answer("192.0.2.31")
    route53.delete_traffic_policy_instance(Id=instance["Id"])
    assert answer(None).rcode() == dns.rcode.NXDOMAIN
    route53.delete_traffic_policy(Id=policy["Id"], Version=1)
    route53.delete_traffic_policy(Id=policy["Id"], Version=2)
    route53.delete_hosted_zone(Id=zone_id)


def test_boto3_writes_geoproximity_sets_the_name_servers_answer(server: ServerProcess) -> None:
    """Decision 0339: geoproximity sets written with boto3 (a Region, coordinates with a
    bias), listed back as written, and the session server's name servers answering a querier
    placed nowhere (loopback) from the server's region (eu-fr-1, Paris): Frankfurt, the
    nearest, until Tokyo's bias of 99 brings it nearer; an unknown Region refused."""
    tenant = new_tenant(server, "route53-geoproximity")
    route53: Any = client_for(server, "route53", tenant.access_key_id, tenant.secret_access_key)
    zone_id = route53.create_hosted_zone(Name="near.example.", CallerReference="geo-1")[
        "HostedZone"
    ]["Id"]

    def geo_set(identifier: str, value: str, where: dict[str, Any]) -> dict[str, Any]:
        return {
            "Name": "www.near.example",
            "Type": "A",
            "SetIdentifier": identifier,
            "TTL": 30,
            "ResourceRecords": [{"Value": value}],
            "GeoProximityLocation": where,
        }

    tokyo = {"Coordinates": {"Latitude": "35.68", "Longitude": "139.69"}, "Bias": 0}
    sets = [
        geo_set("frankfurt", "192.0.2.41", {"AWSRegion": "eu-central-1"}),
        geo_set("tokyo", "192.0.2.42", tokyo),
    ]
    route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": s} for s in sets]},
    )
    listed = route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    assert {r["SetIdentifier"]: r["GeoProximityLocation"] for r in listed if r["Type"] == "A"} == {
        "frankfurt": {"AWSRegion": "eu-central-1"},
        "tokyo": tokyo,
    }
    (listen,) = json.loads(server.extra_env["ANDROMEDE_ROUTE53_DNS_LISTEN"])
    host, port = listen.rsplit(":", 1)

    def answer(wanted: str) -> None:
        # Another worker of the server sees the change within route53_dns_cache_seconds.
        found: list[str] = []
        for _ in range(40):
            query = dns.message.make_query("www.near.example", "A")
            answered = dns.query.udp(query, host, timeout=5, port=int(port))
            found = [d.to_text() for r in answered.answer for d in r]
            if found == [wanted]:
                return
            time.sleep(0.25)
        raise AssertionError(f"never answered {wanted}: {found}")

    answer("192.0.2.41")
    sets[1]["GeoProximityLocation"] = {**tokyo, "Bias": 99}
    route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": sets[1]}]},
    )
    answer("192.0.2.42")
    tested = route53.test_dns_answer(
        HostedZoneId=zone_id, RecordName="www.near.example", RecordType="A"
    )
    assert tested["RecordData"] == ["192.0.2.42"]
    with pytest.raises(ClientError) as refused:
        route53.change_resource_record_sets(
            HostedZoneId=zone_id,
            ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": geo_set(
                "mars", "192.0.2.43", {"AWSRegion": "mars-north-1"})}]},
        )  # fmt: skip
    assert refused.value.response["Error"]["Code"] == "InvalidInput"
    route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": s} for s in sets]},
    )
    route53.delete_hosted_zone(Id=zone_id)


def test_boto3_associates_another_accounts_vpc_by_authorisation(server: ServerProcess) -> None:
    """Decision 0346 on the real server: the zone's account authorises the other account's VPC
    (found across accounts by the wiring), whose owner then associates it and lists the zone
    by its VPC; a reusable delegation set's zone carries the set."""
    hub, spoke = new_tenant(server, "route53-hub"), new_tenant(server, "route53-spoke")
    hub_route53: Any = client_for(server, "route53", hub.access_key_id, hub.secret_access_key)
    spoke_route53: Any = client_for(server, "route53", spoke.access_key_id, spoke.secret_access_key)
    hub_ec2: Any = client_for(server, "ec2", hub.access_key_id, hub.secret_access_key)
    spoke_ec2: Any = client_for(server, "ec2", spoke.access_key_id, spoke.secret_access_key)
    hub_vpc_id = hub_ec2.create_vpc(CidrBlock="10.61.0.0/16")["Vpc"]["VpcId"]
    spoke_vpc_id = spoke_ec2.create_vpc(CidrBlock="10.62.0.0/16")["Vpc"]["VpcId"]
    hub_vpc = {"VPCRegion": REGION, "VPCId": hub_vpc_id}
    spoke_vpc = {"VPCRegion": REGION, "VPCId": spoke_vpc_id}
    zone = hub_route53.create_hosted_zone(
        Name="hub.internal",
        CallerReference="hub-1",
        VPC=hub_vpc,
        HostedZoneConfig={"PrivateZone": True},
    )["HostedZone"]["Id"]
    with pytest.raises(ClientError) as refused:
        spoke_route53.associate_vpc_with_hosted_zone(HostedZoneId=zone, VPC=spoke_vpc)
    assert refused.value.response["Error"]["Code"] == "NotAuthorizedException"
    with pytest.raises(ClientError) as unknown:
        hub_route53.create_vpc_association_authorization(
            HostedZoneId=zone, VPC={"VPCRegion": REGION, "VPCId": "vpc-0123456789abcdef0"}
        )
    assert unknown.value.response["Error"]["Code"] == "InvalidVPCId"
    hub_route53.create_vpc_association_authorization(HostedZoneId=zone, VPC=spoke_vpc)
    listed = hub_route53.list_vpc_association_authorizations(HostedZoneId=zone)
    assert listed["VPCs"] == [spoke_vpc]
    spoke_route53.associate_vpc_with_hosted_zone(HostedZoneId=zone, VPC=spoke_vpc)
    hub_route53.delete_vpc_association_authorization(HostedZoneId=zone, VPC=spoke_vpc)
    assert hub_route53.get_hosted_zone(Id=zone)["VPCs"] == [hub_vpc, spoke_vpc]
    by_vpc = spoke_route53.list_hosted_zones_by_vpc(VPCId=spoke_vpc_id, VPCRegion=REGION)
    (summary,) = by_vpc["HostedZoneSummaries"]
    assert summary["Name"] == "hub.internal."
    assert summary["Owner"] == {"OwningAccount": hub.account}
    spoke_route53.disassociate_vpc_from_hosted_zone(HostedZoneId=zone, VPC=spoke_vpc)
    hub_route53.delete_hosted_zone(Id=zone)

    made = hub_route53.create_reusable_delegation_set(CallerReference="hub-set")["DelegationSet"]
    on_set = hub_route53.create_hosted_zone(
        Name="hub-set.example", CallerReference="hub-2", DelegationSetId=made["Id"]
    )
    assert on_set["DelegationSet"] == {"Id": made["Id"], "NameServers": made["NameServers"]}
    listed_zones = hub_route53.list_hosted_zones(DelegationSetId=made["Id"])["HostedZones"]
    assert [z["Id"] for z in listed_zones] == [on_set["HostedZone"]["Id"]]
    with pytest.raises(ClientError) as in_use:
        hub_route53.delete_reusable_delegation_set(Id=made["Id"])
    assert in_use.value.response["Error"]["Code"] == "DelegationSetInUse"
    hub_route53.delete_hosted_zone(Id=on_set["HostedZone"]["Id"])
    hub_route53.delete_reusable_delegation_set(Id=made["Id"])
