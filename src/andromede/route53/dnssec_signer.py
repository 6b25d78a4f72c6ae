"""The public name servers' DNSSEC signing of a response (decision 0317), as Route 53 signs:
online, each response's record sets signed when asked.

- A DNSKEY query at a signed zone's apex is answered with the zone's DNSKEY set: its active
  key-signing keys (flag 257) and its zone-signing keys (256), signed by the KSKs — those
  signatures made by KMS beforehand (``dnssec_material``), the KSKs' private keys never
  leaving it.
- When the query sets DO (RFC 3225), every record set of the answer and the authority of a
  signed zone gets its RRSIG by the zone's active ZSK; the signatures are valid from an hour
  before now (clocks drift) for ``validity`` seconds.
- Denial as Route 53 does it (its "proof of nonexistence"): a name that does not exist is
  answered NOERROR with an NSEC at the name itself, its next name ``\\000.<name>`` and its
  types RRSIG, NSEC and NXNAME — compact denial of existence ("black lies", RFC 9824) — so
  that no answer lists a zone's other names; a name without the type asked gets the same
  minimal NSEC listing the types it has (RRSIG and NSEC with them; DNSKEY at the apex). The
  NSEC's TTL is the negative answer's (RFC 9077). A referral gets the NSEC of its cut (NS,
  RRSIG, NSEC: no DS there), signed by the parent; a referral to a cut with a DS set
  (decision 0324) carries that set instead. A DS set, in a referral or answered to a DS
  query, is signed by the parent's key (it is the parent's, RFC 4035 §2.4), even when the
  child zone is served here. A wildcard's answer is signed under the name asked, as online
  signers do, with no NSEC of the wildcard.
- Without DO nothing is added but the apex's DNSKEY answer, and NXDOMAIN stays NXDOMAIN.
- A signed zone's TTLs are answered one week at most (``MAX_TTL``), as Route 53 limits them
  once signing is enabled.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from cryptography.hazmat.primitives.asymmetric import ec
from dns.rdtypes.ANY.DNSKEY import DNSKEY

from andromede.route53.answers import ZoneAnswers
from andromede.route53.dnssec_model import dnssec

__all__ = ["CLOCK_SKEW", "DNSKEY_TTL", "MAX_TTL", "ResponseSigner", "ZoneKeys", "signed_rrset"]

DNSKEY_TTL: Final = 3600  # the DNSKEY set's TTL, as Route 53 serves it
CLOCK_SKEW: Final = 3600  # a signature is valid from this many seconds before it was made
MAX_TTL: Final = 604800  # a signed zone's TTLs are capped at one week, as Route 53 caps them


@dataclass(frozen=True)
class ZoneKeys:
    """What the name servers sign one zone's answers with."""

    zone: str  # its name, absolute, lower case
    dnskeys: dns.rrset.RRset  # the DNSKEY set published at the apex
    dnskey_signatures: dns.rrset.RRset | None  # its RRSIGs by the KSKs (None: none could be made)
    zone_key: ec.EllipticCurvePrivateKey  # the active ZSK
    zone_dnskey: DNSKEY


def signed_rrset(
    rrset: dns.rrset.RRset,
    key: ec.EllipticCurvePrivateKey,
    dnskey: DNSKEY,
    signer: dns.name.Name,
    now: float,
    validity: int,
) -> dns.rrset.RRset:
    """The RRSIG set of ``rrset`` by ``key`` (its TTL the set's)."""
    inception = int(now) - CLOCK_SKEW
    rrsig = dnssec.sign(
        rrset, key, signer, dnskey, inception=inception, expiration=int(now) + validity
    )
    return dns.rrset.from_rdata(rrset.name, rrset.ttl, rrsig)


def _nsec(owner: dns.name.Name, types: set[str], ttl: int) -> dns.rrset.RRset:
    following = dns.name.Name((b"\x00", *owner.labels))
    ordered = sorted(types, key=dns.rdatatype.from_text)
    rdata = dns.rdata.from_text(
        dns.rdataclass.IN, dns.rdatatype.NSEC, " ".join([following.to_text(), *ordered])
    )
    return dns.rrset.from_rdata(owner, ttl, rdata)


def _wants_dnssec(query: dns.message.Message) -> bool:
    return query.edns >= 0 and bool(query.ednsflags & dns.flags.DO)


class ResponseSigner:
    """Signs the responses of ``answers`` for the zones of ``keys`` (by zone name)."""

    def __init__(
        self,
        answers: ZoneAnswers,
        keys: Mapping[str, ZoneKeys],
        validity: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._answers = answers
        self._keys = keys
        self._validity = validity
        self._clock = clock

    def signs(self, zone: str | None) -> bool:
        return zone is not None and zone in self._keys

    def __call__(self, query: dns.message.Message, response: dns.message.Message) -> None:
        if len(query.question) != 1 or response.rcode() not in (
            dns.rcode.NOERROR,
            dns.rcode.NXDOMAIN,
        ):
            return
        question = query.question[0]
        name = question.name.to_text().lower()
        zone = self._answers.zone_answering(name, dns.rdatatype.to_text(question.rdtype))
        if zone is None or zone not in self._keys:
            return
        keys = self._keys[zone]
        for rrset in (*response.answer, *response.authority):
            rrset.ttl = min(rrset.ttl, MAX_TTL)
        if question.rdtype == dns.rdatatype.DNSKEY and name == zone:
            response.answer = [keys.dnskeys]
            response.authority = []
            response.set_rcode(dns.rcode.NOERROR)
        if not _wants_dnssec(query):
            return
        response.ednsflags |= dns.flags.DO
        now = self._clock()
        referral = not response.flags & dns.flags.AA
        if referral:
            cuts = [r for r in response.authority if r.rdtype == dns.rdatatype.NS]
            secure = any(r.rdtype == dns.rdatatype.DS for r in response.authority)
            if cuts and not secure:  # the NSEC proves the cut has no DS (RFC 4035 §3.1.4)
                ttl = self._negative_ttl(zone, cuts[0].ttl)
                response.authority.append(_nsec(cuts[0].name, {"NS", "RRSIG", "NSEC"}, ttl))
        else:
            self._deny(question.rdtype, name, zone, response)
        response.answer = self._with_signatures(response.answer, now, zone)
        response.authority = self._with_signatures(response.authority, now, zone)

    def _negative_ttl(self, zone: str, fallback: int) -> int:
        soa = self._answers.negative_soa(zone)
        return fallback if soa is None else soa.ttl

    def _deny(
        self, rdtype: dns.rdatatype.RdataType, name: str, zone: str, response: dns.message.Message
    ) -> None:
        """The NSEC of compact denial, when the response answers nothing of the type asked."""
        final = name
        for rrset in response.answer:
            if rrset.rdtype == dns.rdatatype.CNAME:
                final = rrset[0].target.to_text().lower()
        answered = any(r.rdtype == rdtype for r in response.answer)
        if answered or (rdtype == dns.rdatatype.ANY and response.answer):
            return
        if self._answers.zone_answering(final, dns.rdatatype.to_text(rdtype)) != zone:
            return  # a CNAME out of the zone: the client's resolver asks the target's zone
        types = set(self._answers.types_of(final, zone))
        if final == zone:
            types.add("DNSKEY")
        types |= {"RRSIG", "NSEC"} if types else {"RRSIG", "NSEC", "NXNAME"}
        soa = [r for r in response.authority if r.rdtype == dns.rdatatype.SOA]
        ttl = soa[0].ttl if soa else self._negative_ttl(zone, DNSKEY_TTL)
        response.set_rcode(dns.rcode.NOERROR)  # compact denial: no NXDOMAIN (RFC 9824)
        response.authority.append(_nsec(dns.name.from_text(final), types, ttl))

    def _with_signatures(
        self, rrsets: list[dns.rrset.RRset], now: float, responding: str
    ) -> list[dns.rrset.RRset]:
        """Each set followed by its RRSIG by its zone's key; an NSEC is the responding zone's
        (at a child's apex too: the parent denies its DS there)."""
        signed: list[dns.rrset.RRset] = []
        for rrset in rrsets:
            signed.append(rrset)
            if rrset.rdtype == dns.rdatatype.RRSIG:
                continue
            owner = rrset.name.to_text().lower()
            zone = (
                responding
                if rrset.rdtype == dns.rdatatype.NSEC
                else self._answers.zone_answering(owner, dns.rdatatype.to_text(rrset.rdtype))
            )
            keys = None if zone is None else self._keys.get(zone)
            if keys is None:
                continue
            if rrset.rdtype == dns.rdatatype.NS and owner != zone:
                continue  # a delegation's NS set is the child's, unsigned (RFC 4035 §2.2)
            if rrset.rdtype == dns.rdatatype.DNSKEY:
                if keys.dnskey_signatures is not None:
                    signed.append(keys.dnskey_signatures)
                continue
            signer = dns.name.from_text(keys.zone)
            signed.append(
                signed_rrset(rrset, keys.zone_key, keys.zone_dnskey, signer, now, self._validity)
            )
        return signed
