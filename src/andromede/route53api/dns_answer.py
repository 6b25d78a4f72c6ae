"""TestDNSAnswer (decision 0289): what the name servers answer for a record name and type of
one of the caller's public hosted zones, from the same answers as the public name servers
(``route53.answers`` with referrals, the health checks' status of now): the values of the
answer section as ``RecordData``, the DNS response code, the zone's first name server and
``UDP``, as AWS's response shape gives them.

``ResolverIP`` and ``EDNS0ClientSubnetIP``/``EDNS0ClientSubnetMask`` are checked as AWS
checks them; they place the querier for the geoproximity sets (decision 0339: the client
subnet's declared network, else the resolver's, else the gateway's region) and choose the
IP-based sets' answer (decision 0353: the client subnet, its mask 24 or 64 bits unless
given, else the resolver's address); geolocation sets answer their first healthy set
(decision 0284). AWS answers public zones only:
a private zone is refused in its words."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Final

import dns.edns
import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype

from andromede.http.response import Response
from andromede.route53.answers import ZoneAnswers
from andromede.route53.service import Route53Service
from andromede.route53api import wire
from andromede.route53api.errors import Route53WireError
from andromede.route53api.operations import Route

__all__ = ["answer_dns_test"]

# AWS's EDNS0ClientSubnetMask when none is given, by address family.
_DEFAULT_MASK: Final = {4: 24, 6: 64}
# The types TestDNSAnswer takes (botocore's RRType).
_TYPES: Final = frozenset(
    {"SOA", "A", "TXT", "NS", "CNAME", "MX", "NAPTR", "PTR", "SRV", "SPF", "AAAA", "CAA", "DS",
     "TLSA", "SSHFP", "SVCB", "HTTPS"}
)  # fmt: skip


def _required(query: Mapping[str, str], key: str, field: str) -> str:
    value = query.get(key)
    if not value:
        raise Route53WireError("InvalidInput", f"Invalid request: Missing field '{field}'")
    return value


def _address(value: str | None, field: str) -> None:
    if value is None:
        return
    try:
        ipaddress.ip_address(value)
    except ValueError as exc:
        raise Route53WireError("InvalidInput", f"Invalid {field}: {value[:64]}") from exc


async def answer_dns_test(
    service: Route53Service, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    zone_id = _required(query, "hostedzoneid", "HostedZoneId").removeprefix("/hostedzone/")
    record_name = _required(query, "recordname", "RecordName")
    record_type = _required(query, "recordtype", "RecordType").upper()
    if record_type not in _TYPES:
        raise Route53WireError("InvalidInput", f"Invalid RecordType: {record_type[:16]}")
    _address(query.get("resolverip"), "ResolverIP")
    _address(query.get("edns0clientsubnetip"), "EDNS0ClientSubnetIP")
    mask = query.get("edns0clientsubnetmask")
    if mask is not None and (not mask.isdigit() or int(mask) > 128):
        raise Route53WireError("InvalidInput", f"Invalid EDNS0ClientSubnetMask: {mask[:16]}")
    try:
        name = dns.name.from_text(record_name)
    except dns.exception.DNSException as exc:
        raise Route53WireError("InvalidInput", f"Invalid RecordName: {record_name[:255]}") from exc
    zone = await service.zone(tenant, zone_id)
    if zone.private:
        raise Route53WireError(
            "InvalidInput", "TestDNSAnswer only supports querying public hosted zones."
        )
    answers = ZoneAnswers(await service.document([zone]), referrals=True)
    # Decision 0339: the client subnet's place, else the resolver's, else the gateway's region.
    origin = service.client_location(query.get("edns0clientsubnetip")) or service.client_location(
        query.get("resolverip")
    )
    asked = dns.message.make_query(name, record_type)
    subnet = query.get("edns0clientsubnetip")
    if subnet is not None:  # decision 0353: the IP-based sets answer the client subnet
        family = 6 if ":" in subnet else 4
        wanted = int(mask) if mask is not None else _DEFAULT_MASK[family]
        length = min(wanted, 32 if family == 4 else 128)
        asked.use_edns(0, 0, 1232, options=[dns.edns.ECSOption(subnet, length)])
    response = answers.respond(asked, origin, query.get("resolverip"), service.geography)
    if response.rcode() == dns.rcode.REFUSED:
        data: list[str] = []  # a name outside the zone: its servers are not authoritative
    elif response.answer:
        data = [rdata.to_text() for rrset in response.answer for rdata in rrset]
    else:  # a referral: the delegation's name servers
        data = [rdata.to_text() for rrset in response.authority if rrset.rdtype ==
                dns.rdatatype.NS for rdata in rrset]  # fmt: skip
    apex_ns = next((r for r in zone.records if r.type == "NS" and r.name == zone.name), None)
    nameserver = apex_ns.values[0].rstrip(".") if apex_ns is not None and apex_ns.values else ""
    xml = wire.writer("TestDNSAnswerResponse")
    xml.element("Nameserver", nameserver)
    xml.element("RecordName", record_name)
    xml.element("RecordType", record_type)
    xml.open("RecordData")
    for value in data:
        xml.element("RecordDataEntry", value)
    xml.close("RecordData")
    xml.element("ResponseCode", dns.rcode.to_text(response.rcode()))
    xml.element("Protocol", "UDP")
    return wire.answer(xml)
