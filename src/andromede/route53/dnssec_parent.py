"""A signed zone's chain of trust inside the platform (decision 0324): the parent hosted zone
served here that delegates to it, and whether that parent holds a DS record naming one of the
zone's key-signing keys. On AWS the registry or the parent's operator holds the DS; when the
parent is another public hosted zone here, the platform can see it, and refuses what would
break the chain (``KeySigningKeyInParentDSRecord``) as Route 53 does.

The parent is the one the public name servers answer (decision 0289): of the public zones
whose name encloses the zone's, the most specific one, the first created of that name; it
delegates when it holds an NS set at the zone's name. The DS records are public DNS data:
reading another account's parent reveals nothing its name servers do not answer."""

from __future__ import annotations

from collections.abc import Sequence

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
from dns.rdtypes.ANY.DS import DS

from andromede.route53.dnssec_model import KSK_FLAG, KeySigningKey, dnskey_of, dnssec
from andromede.route53.model import HostedZone, within

__all__ = ["keys_in_parent_ds", "parent_ds"]


def parent_ds(zone: HostedZone, public_zones: Sequence[HostedZone]) -> tuple[str, tuple[str, ...]]:
    """The name of the parent zone delegating to ``zone`` and the DS values it holds at the
    zone's name; ("", ()) when no public zone here delegates to it."""
    name = zone.name.lower()
    enclosing = [z for z in public_zones if z.name.lower() != name and within(name, z.name.lower())]
    if zone.private or not enclosing:
        return "", ()
    longest = max(len(z.name) for z in enclosing)
    parent = min(
        (z for z in enclosing if len(z.name) == longest), key=lambda z: (z.created, z.zone_id)
    )
    at_cut = [r for r in parent.records if r.name.lower() == name]
    if not any(r.type == "NS" for r in at_cut):
        return "", ()
    return parent.name, tuple(v for r in at_cut if r.type == "DS" for v in r.values)


def keys_in_parent_ds(
    zone_name: str, keys: Sequence[KeySigningKey], ds_values: Sequence[str]
) -> list[KeySigningKey]:
    """The keys of ``keys`` a DS of ``ds_values`` names (any digest type it states)."""
    owner = dns.name.from_text(zone_name)
    held: list[DS] = []
    for value in ds_values:
        try:
            ds = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.DS, value, dns.name.root)
        except dns.exception.DNSException:
            continue
        if isinstance(ds, DS):
            held.append(ds)
    named = []
    for key in keys:
        dnskey = dnskey_of(key.public_key, KSK_FLAG)
        for ds in held:
            try:
                made = dnssec.make_ds(owner, dnskey, ds.digest_type)
            except (dns.exception.DNSException, ValueError):  # a digest type unknown
                continue
            if made == ds:
                named.append(key)
                break
    return named
