"""Route 53's pure rules (decision 0280): DNS names as Route 53 writes them, hosted zones and
their record sets, the SOA and NS records a zone is made with, AWS's order of record sets
(labels reversed, then type), and a change batch applied all or nothing with AWS's
``InvalidChangeBatch`` wording. No I/O."""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype

from andromede.route53.errors import InvalidChangeBatch, InvalidDomainName, InvalidInput
from andromede.route53.geoproximity import GeoProximity
from andromede.route53.routing import check_routing, routing_problems

__all__ = [
    "POLICY_TYPES",
    "RECORD_TYPES",
    "AliasTarget",
    "Change",
    "HostedZone",
    "RecordSet",
    "apply_changes",
    "display_name",
    "made_records",
    "normalise_name",
    "record_order",
    "value_problem",
    "within",
]

# The types whose values dnspython's rdata parser judges (decision 0324): their wire forms
# are dnspython's, so a value it reads is one the name servers can answer.
PARSED_TYPES: Final = frozenset({"DS", "NAPTR", "SPF", "HTTPS", "SVCB", "TLSA", "SSHFP"})
RECORD_TYPES: Final = (
    frozenset({"A", "AAAA", "CNAME", "MX", "TXT", "SRV", "PTR", "NS", "SOA", "CAA"}) | PARSED_TYPES
)
# Types AWS knows that are not served yet: refused by name, not as unknown (none now).
NOT_YET_TYPES: Final[frozenset[str]] = frozenset()
# The types a routing policy may answer, as Route 53's ResourceRecordSet documents them: the
# newer types (DS, HTTPS, SVCB, TLSA, SSHFP) are simple sets only.
POLICY_TYPES: Final = frozenset(
    {"A", "AAAA", "CAA", "CNAME", "MX", "NAPTR", "PTR", "SPF", "SRV", "TXT"}
)
_MULTIVALUE_TYPES: Final = frozenset({"A", "AAAA", "MX", "NAPTR", "PTR", "SPF", "SRV", "TXT"})
_LABEL: Final = re.compile(r"^[a-z0-9_\-*]{1,63}$")
_OCTAL: Final = re.compile(r"\\([0-7]{3})")
SOA_TTL: Final = 900
NS_TTL: Final = 172800


def normalise_name(name: str) -> str:
    """A DNS name as Route 53 keeps it: lower case, ``\\ddd`` escapes read, one final dot."""
    text = _OCTAL.sub(lambda m: chr(int(m[1], 8)), name.strip()).lower()
    if text.endswith("."):
        text = text[:-1]
    if not text or len(text) > 253:
        raise InvalidDomainName(f"{name[:300]} is not a valid domain name")
    for label in text.split("."):
        if not _LABEL.match(label):
            raise InvalidDomainName(f"{name[:300]} is not a valid domain name")
    return text + "."


def display_name(name: str) -> str:
    """A name as Route 53 answers it: ``*`` written ``\\052``."""
    return name.replace("*", "\\052")


def within(name: str, zone: str) -> bool:
    return name == zone or name.endswith("." + zone)


def record_order(name: str, record_type: str) -> tuple[tuple[str, ...], str]:
    """AWS's order of ListResourceRecordSets: the labels reversed, then the type."""
    return tuple(reversed(name.rstrip(".").split("."))), record_type


@dataclass(frozen=True)
class AliasTarget:
    """Where an alias record points (decision 0284): a record set of a zone (this one) or a
    load balancer (its ``CanonicalHostedZoneId`` and DNS name)."""

    hosted_zone_id: str
    dns_name: str  # normalised: lower case, final dot
    evaluate_target_health: bool


@dataclass(frozen=True)
class RecordSet:
    """A resource record set: its name, type and values (or alias target), and its routing
    policy (decisions 0284, 0339) when it has a ``set_identifier``."""

    name: str
    type: str
    ttl: int
    values: tuple[str, ...]
    set_identifier: str | None = None
    weight: int | None = None
    region: str | None = None  # latency
    geo_location: tuple[tuple[str, str], ...] = ()  # (ContinentCode|CountryCode|…, code)
    failover: str | None = None  # PRIMARY or SECONDARY
    multivalue: bool | None = None
    health_check_id: str | None = None
    cidr_routing: tuple[str, str] | None = None  # (CollectionId, LocationName)
    geoproximity: GeoProximity | None = None  # decision 0339
    alias: AliasTarget | None = None
    # The traffic policy instance that made the set (decision 0330): only it changes it.
    traffic_policy_instance_id: str | None = None

    def key(self) -> tuple[str, str, str]:
        return self.name, self.type, self.set_identifier or ""

    @property
    def policy(self) -> str:
        """The routing policy's name as AWS's messages write it."""
        if self.weight is not None:
            return "weighted"
        if self.region is not None:
            return "latency"
        if self.geo_location:
            return "geo"
        if self.failover is not None:
            return "failover"
        if self.multivalue is not None:
            return "multivalue"
        if self.cidr_routing is not None:
            return "cidr"
        if self.geoproximity is not None:
            return "geoproximity"
        return "simple"

    def label(self) -> str:
        """How AWS's ``InvalidChangeBatch`` messages name the set."""
        identifier = (
            "" if self.set_identifier is None else f", set-identifier='{self.set_identifier}'"
        )
        return f"[name='{display_name(self.name)}', type='{self.type}'{identifier}]"


@dataclass(frozen=True)
class Change:
    action: str  # CREATE, DELETE or UPSERT
    record: RecordSet


@dataclass(frozen=True)
class HostedZone:
    tenant_id: str
    zone_id: str
    name: str
    caller_reference: str
    comment: str
    private: bool
    created: int  # ms
    vpcs: tuple[tuple[str, str], ...] = ()  # (region, vpc id)
    tags: tuple[tuple[str, str], ...] = ()
    records: tuple[RecordSet, ...] = ()
    version: int = 1
    # The reusable delegation set the zone's name servers are (decision 0346), None for the
    # platform's default delegation.
    delegation_set_id: str | None = None
    # (region, VPC id) of other accounts' VPCs whose owners may associate them (0346).
    authorised_vpcs: tuple[tuple[str, str], ...] = ()

    def sorted_records(self) -> list[RecordSet]:
        return sorted(self.records, key=lambda r: (*record_order(r.name, r.type), r.key()[2]))

    def replaced(self, **fields: object) -> HostedZone:
        return dataclasses.replace(self, version=self.version + 1, **fields)  # type: ignore[arg-type]


def made_records(zone_name: str, name_servers: Sequence[str]) -> tuple[RecordSet, ...]:
    """The SOA and NS records a zone is made with, as AWS makes them (its first name server
    as the SOA's primary, ``awsdns-hostmaster.amazon.com.`` its mailbox, AWS's timers)."""
    servers = tuple(s if s.endswith(".") else s + "." for s in name_servers)
    soa = f"{servers[0]} awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400"
    return (
        RecordSet(zone_name, "NS", NS_TTL, servers),
        RecordSet(zone_name, "SOA", SOA_TTL, (soa,)),
    )


def _ipv4(value: str) -> bool:
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return False
    return True


def _ipv6(value: str) -> bool:
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


def _matches(pattern: str) -> Callable[[str], bool]:
    compiled = re.compile(pattern)
    return lambda value: compiled.match(value) is not None


# Each type's check of one value, and AWS's code and words for a value that fails it.
_VALUE_RULES: Final[dict[str, tuple[Callable[[str], bool], str, str]]] = {
    "A": (_ipv4, "ARRDATAIllegalIPv4Address", "Value is not a valid IPv4 address"),
    "AAAA": (_ipv6, "AAAARRDATAIllegalIPv6Address", "Value is not a valid IPv6 address"),
    "MX": (_matches(r"^\d{1,5} \S+$"), "MXRRDATANotTwoFields", "Value should contain two fields"),
    "SRV": (
        _matches(r"^\d{1,5} \d{1,5} \d{1,5} \S+$"),
        "SRVRRDATANotFourFields",
        "Value should contain four fields",
    ),
    "CAA": (
        _matches(r'^\d{1,3} [a-zA-Z0-9]+ ".*"$'),
        "CAARRDATANotThreeFields",
        "Value should contain three fields",
    ),
    "TXT": (
        _matches(r'^("([^"\\]|\\.){0,255}"\s*)+$'),
        "TXTRDATANotQuoted",
        "Value should be one or more quoted strings of 255 characters at most",
    ),
    "SOA": (
        lambda value: len(value.split()) == 7,
        "SOARRDATANotSevenFields",
        "Value should contain seven fields",
    ),
    "CNAME": (_matches(r"^\S+$"), "DomainLabelEmpty", "Domain label is empty"),
    "NS": (_matches(r"^\S+$"), "DomainLabelEmpty", "Domain label is empty"),
    "PTR": (_matches(r"^\S+$"), "DomainLabelEmpty", "Domain label is empty"),
}


def _parses(record_type: str) -> Callable[[str], bool]:
    rdtype = dns.rdatatype.from_text(record_type)

    def parses(value: str) -> bool:
        try:
            # Route 53 reads the names in a value as absolute: the root is their origin.
            dns.rdata.from_text(dns.rdataclass.IN, rdtype, value, dns.name.root, relativize=False)
        except (dns.exception.DNSException, ValueError, UnicodeError):
            return False
        return True

    return parses


_VALUE_RULES.update(
    {
        record_type: (
            _parses(record_type),
            f"{record_type}RRDATAIllegal",
            f"Value is not a valid {record_type} record",
        )
        for record_type in PARSED_TYPES
    }
)
# SPF's value is TXT's (RFC 7208 §3.1), quoted as Route 53 wants TXT's to be.
_VALUE_RULES["SPF"] = (
    _VALUE_RULES["TXT"][0],
    "SPFRDATANotQuoted",
    "Value should be one or more quoted strings of 255 characters at most",
)


def value_problem(record: RecordSet) -> str | None:
    """AWS's complaint about one value of ``record``, else None."""
    if record.alias is not None:
        return None
    check, code, words = _VALUE_RULES[record.type]
    for value in record.values:
        if not check(value):
            return f"{code} ({words}) encountered with '{value[:64]}'"
    return None


def change_words(action: str, record: RecordSet) -> str:
    """How AWS's ``InvalidInput`` messages name a change."""
    identifier = record.set_identifier if record.set_identifier is not None else "null"
    return (
        f"Change with [Action={action}, Name={display_name(record.name)}, Type={record.type}, "
        f"SetIdentifier={identifier}]"
    )


def check_record(record: RecordSet, action: str = "CREATE") -> None:
    """A record set's own shape, before any batch rule: refused with ``InvalidInput`` for a
    type AWS serves that is not served here, else ``InvalidChangeBatch``."""
    if record.type in NOT_YET_TYPES:
        raise InvalidInput(f"Record type {record.type} is not supported yet")
    if record.type not in RECORD_TYPES:
        raise InvalidInput(
            f"Invalid XML ; cvc-enumeration-valid: Value '{record.type[:16]}' is not facet-valid"
        )
    if record.alias is not None and record.values:
        raise InvalidInput(
            "Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and "
            "ResourceRecords], or TrafficPolicyInstanceId], but found more than one in "
            + change_words(action, record)
        )
    if record.alias is None and not record.values:
        raise InvalidInput(
            "Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and "
            "ResourceRecords], or TrafficPolicyInstanceId], but found none in "
            + change_words(action, record)
        )
    if record.alias is None and not 0 <= record.ttl <= 2147483647:
        raise InvalidInput(f"Invalid TTL {record.ttl}")
    allowed = _MULTIVALUE_TYPES if record.policy == "multivalue" else POLICY_TYPES
    if record.policy != "simple" and record.type not in allowed:
        raise InvalidInput(
            f"Invalid request: RRSet of type {record.type} does not support {record.policy} "
            f"routing in {change_words(action, record)}"
        )
    check_routing(record, change_words(action, record))


def apply_changes(
    zone: HostedZone,
    changes: Sequence[Change],
    limit: int,
    more_problems: Sequence[str] = (),
) -> tuple[RecordSet, ...]:
    """The zone's record sets after ``changes``, all applied or none: every refusal is gathered
    into one ``InvalidChangeBatch``, worded as AWS words it (with ``more_problems``, the
    refusals found outside the zone: alias targets elsewhere)."""
    if len(changes) > limit:
        raise InvalidChangeBatch([f"Number of records limit of {limit} exceeded."])
    current: dict[tuple[str, str, str], RecordSet] = {r.key(): r for r in zone.records}
    owned = {(r.name, r.type) for r in zone.records if r.traffic_policy_instance_id}
    problems: list[str] = []
    for change in changes:
        record = change.record
        label = record.label()
        if (record.name, record.type) in owned:
            # Decision 0330: an instance's sets change only through its traffic policy.
            problems.append(
                f"Tried to {change.action.lower()} resource record set {label} but it was "
                "created by a traffic policy instance; use UpdateTrafficPolicyInstance or "
                "DeleteTrafficPolicyInstance"
            )
            continue
        if not within(record.name, zone.name):
            problems.append(
                f"RRSet with DNS name {display_name(record.name)} is not permitted in zone "
                f"{zone.name}"
            )
            continue
        problem = value_problem(record)
        if problem is not None:
            problems.append(f"Invalid Resource Record: 'FATAL problem: {problem}'")
            continue
        existing = current.get(record.key())
        if change.action == "CREATE":
            if existing is not None:
                problems.append(
                    f"Tried to create resource record set {label} but it already exists"
                )
                continue
            current[record.key()] = record
        elif change.action == "UPSERT":
            current[record.key()] = record
        else:  # DELETE: the values given must be the set's, exactly
            if existing is None:
                problems.append(f"Tried to delete resource record set {label} but it was not found")
                continue
            if _comparable(existing) != _comparable(record):
                problems.append(
                    f"Tried to delete resource record set {label} but the values provided do "
                    "not match the current values"
                )
                continue
            del current[record.key()]
    problems.extend(_zone_problems(zone.name, current.values(), changes))
    problems.extend(routing_problems(zone, tuple(current.values()), changes))
    problems.extend(more_problems)
    if problems:
        raise InvalidChangeBatch(problems)
    return tuple(current.values())


def _comparable(record: RecordSet) -> RecordSet:
    return dataclasses.replace(record, values=tuple(sorted(record.values)))


def _zone_problems(
    zone_name: str, records: Iterable[RecordSet], changes: Sequence[Change]
) -> list[str]:
    """The rules over the whole zone after the batch: CNAMEs alone at their name and never at
    the apex, one SOA and the NS set at the apex always there, SOA only at the apex, DS only
    at a delegation (beside an NS set, below the apex)."""
    problems: list[str] = []
    by_name: dict[str, list[RecordSet]] = {}
    for record in records:
        by_name.setdefault(record.name, []).append(record)
    touched = {c.record.name for c in changes}
    for name, sets in sorted(by_name.items()):
        if name not in touched:
            continue
        types = {r.type for r in sets}
        if "CNAME" in types:
            if name == zone_name:
                problems.append(
                    f"RRSet of type CNAME with DNS name {display_name(name)} is not permitted "
                    f"at apex in zone {zone_name}"
                )
            elif len(types) > 1:
                problems.append(
                    f"RRSet of type CNAME with DNS name {display_name(name)} is not permitted "
                    "as it conflicts with other records with the same DNS name in zone "
                    f"{zone_name}"
                )
            elif any(len(r.values) > 1 for r in sets if r.type == "CNAME"):
                problems.append(
                    f"RRSet of type CNAME with DNS name {display_name(name)} has more than one "
                    "value"
                )
        if "DS" in types and name == zone_name:
            problems.append(
                f"RRSet of type DS with DNS name {display_name(name)} is not permitted at apex "
                f"in zone {zone_name}"
            )
        elif "DS" in types and "NS" not in types:
            # A DS set says the child at a delegation is signed (RFC 4034 §5): no NS, no cut.
            problems.append(
                f"RRSet of type DS with DNS name {display_name(name)} is not permitted because "
                f"no RRSet of type NS with the same DNS name exists in zone {zone_name}"
            )
        if "SOA" in types and name != zone_name:
            problems.append(
                f"RRSet of type SOA with DNS name {display_name(name)} is not permitted because "
                "a conflicting RRSet of type SOA with the same DNS name already exists in zone "
                f"{zone_name}"
            )
    apex = {r.type for r in by_name.get(zone_name, [])}
    if "SOA" not in apex:
        problems.append("A HostedZone must contain exactly one SOA record.")
    if "NS" not in apex:
        problems.append("A HostedZone must contain at least one NS record for the zone itself.")
    return problems


@dataclass(frozen=True)
class ZonePage:
    zones: list[HostedZone] = field(default_factory=list)
    next_marker: str | None = None
