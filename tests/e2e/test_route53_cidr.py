"""Decision 0353 end to end, on the session's ``andromede serve``: boto3's ``route53`` client
makes a CIDR collection, puts locations into it under its version, lists them, writes IP-based
sets naming them, and the public name servers answer a query over UDP from 127.0.0.1 by its
source address, or by the EDNS client subnet it carries (the subnet given back with its
scope), else the ``*`` default set; the collection is refused deletion while in use, then
emptied and deleted."""

from __future__ import annotations

import json
import time
from typing import Any

import dns.edns
import dns.message
import dns.query
import pytest
from botocore.exceptions import ClientError

from e2e.iam_helpers import client_for, new_tenant
from support.server import ServerProcess

pytestmark = pytest.mark.e2e

NAME = "www.ip-routed.example"


def _ip_set(identifier: str, value: str, collection: str, location: str) -> dict[str, Any]:
    return {
        "Name": NAME,
        "Type": "A",
        "SetIdentifier": identifier,
        "TTL": 30,
        "ResourceRecords": [{"Value": value}],
        "CidrRoutingConfig": {"CollectionId": collection, "LocationName": location},
    }


def test_boto3_writes_ip_based_sets_the_name_servers_answer(server: ServerProcess) -> None:
    tenant = new_tenant(server, "route53-cidr")
    route53: Any = client_for(server, "route53", tenant.access_key_id, tenant.secret_access_key)
    made = route53.create_cidr_collection(Name="networks", CallerReference="cidr-1")["Collection"]
    collection = made["Id"]
    assert made["Version"] == 1 and made["Arn"].endswith(f"cidrcollection/{collection}")
    route53.change_cidr_collection(
        Id=collection,
        CollectionVersion=1,
        Changes=[
            {"LocationName": "loopback", "Action": "PUT", "CidrList": ["127.0.0.0/8"]},
            {"LocationName": "isp", "Action": "PUT", "CidrList": ["198.51.100.0/24"]},
        ],
    )
    with pytest.raises(ClientError) as stale:
        route53.change_cidr_collection(
            Id=collection,
            CollectionVersion=1,
            Changes=[{"LocationName": "isp", "Action": "PUT", "CidrList": ["192.0.2.0/24"]}],
        )
    assert stale.value.response["Error"]["Code"] == "CidrCollectionVersionMismatchException"
    locations = route53.list_cidr_locations(CollectionId=collection)["CidrLocations"]
    assert [loc["LocationName"] for loc in locations] == ["isp", "loopback"]
    blocks = route53.list_cidr_blocks(CollectionId=collection, LocationName="isp")["CidrBlocks"]
    assert blocks == [{"CidrBlock": "198.51.100.0/24", "LocationName": "isp"}]
    zone_id = route53.create_hosted_zone(Name="ip-routed.example.", CallerReference="cidr-z")[
        "HostedZone"
    ]["Id"]
    sets = [
        _ip_set("loopback", "192.0.2.61", collection, "loopback"),
        _ip_set("isp", "192.0.2.62", collection, "isp"),
        _ip_set("rest", "192.0.2.69", collection, "*"),
    ]
    route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": s} for s in sets]},
    )
    (listen,) = json.loads(server.extra_env["ANDROMEDE_ROUTE53_DNS_LISTEN"])
    host, port = listen.rsplit(":", 1)

    def answer(wanted: str, subnet: str | None = None) -> dns.message.Message:
        # Another worker of the server sees the change within route53_dns_cache_seconds.
        found: list[str] = []
        for _ in range(40):
            query = dns.message.make_query(NAME, "A")
            if subnet is not None:
                query.use_edns(0, 0, 1232, options=[dns.edns.ECSOption(subnet, 24)])
            answered = dns.query.udp(query, host, timeout=5, port=int(port))
            found = [d.to_text() for r in answered.answer for d in r]
            if found == [wanted]:
                return answered
            time.sleep(0.25)
        raise AssertionError(f"never answered {wanted}: {found}")

    answer("192.0.2.61")  # the query's source, 127.0.0.1
    by_subnet = answer("192.0.2.62", "198.51.100.0")
    (option,) = [o for o in by_subnet.options if isinstance(o, dns.edns.ECSOption)]
    assert (option.address, option.srclen, option.scopelen) == ("198.51.100.0", 24, 24)
    answer("192.0.2.69", "203.0.113.0")
    tested = route53.test_dns_answer(
        HostedZoneId=zone_id, RecordName=NAME, RecordType="A", ResolverIP="198.51.100.53"
    )
    assert tested["RecordData"] == ["192.0.2.62"]
    with pytest.raises(ClientError) as in_use:
        route53.delete_cidr_collection(Id=collection)
    assert in_use.value.response["Error"]["Code"] == "CidrCollectionInUseException"
    route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": s} for s in sets]},
    )
    route53.delete_hosted_zone(Id=zone_id)
    route53.change_cidr_collection(
        Id=collection,
        Changes=[
            {"LocationName": "loopback", "Action": "DELETE_IF_EXISTS", "CidrList": ["127.0.0.0/8"]},
            {"LocationName": "isp", "Action": "DELETE_IF_EXISTS", "CidrList": ["198.51.100.0/24"]},
        ],
    )
    route53.delete_cidr_collection(Id=collection)
    with pytest.raises(ClientError) as gone:
        route53.list_cidr_locations(CollectionId=collection)
    assert gone.value.response["Error"]["Code"] == "NoSuchCidrCollectionException"
