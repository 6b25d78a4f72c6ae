"""Decision 0324's record types, judged by Route 53's pure rules: DS, NAPTR, SPF, HTTPS, SVCB,
TLSA and SSHFP values read by dnspython's rdata parser (a good value accepted, a bad one
refused in ``InvalidChangeBatch``'s words), DS only at a delegation below the apex, and the
name servers answering each type with the value stored."""

from __future__ import annotations

import json

import dns.message
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest

from andromede.route53.answers import ZoneAnswers
from andromede.route53.errors import InvalidChangeBatch, InvalidInput
from andromede.route53.model import (
    NOT_YET_TYPES,
    Change,
    HostedZone,
    RecordSet,
    apply_changes,
    check_record,
    made_records,
)

GOOD: dict[str, tuple[str, str]] = {  # (a value Route 53 takes, one it refuses)
    "DS": ("60485 13 2 " + "ab" * 32, "60485 13 2 not-hex"),
    "NAPTR": ('100 10 "U" "E2U+sip" "!^.*$!sip:info@example.com!" .', "100 10 U"),
    "SPF": ('"v=spf1 ip4:192.0.2.0/24 -all"', "v=spf1 unquoted"),
    "HTTPS": ('1 . alpn="h2,h3"', "one . alpn=h2"),
    "SVCB": ("1 svc.example.com. port=8443", "1 svc.example.com. port=notaport"),
    "TLSA": ("3 1 1 " + "cd" * 32, "3 1 1 zz"),
    "SSHFP": ("4 2 " + "ef" * 32, "4 2"),
}


def zone() -> HostedZone:
    records = (
        *made_records("example.com.", ["ns-1.example.net"]),
        RecordSet("sub.example.com.", "NS", 300, ("ns.elsewhere.net.",)),
    )
    return HostedZone("t", "Z1", "example.com.", "ref", "", False, 0, records=records)


def refusal(*changes: Change) -> str:
    with pytest.raises(InvalidChangeBatch) as refused:
        apply_changes(zone(), changes, 1000)
    return str(refused.value)


@pytest.mark.parametrize("record_type", sorted(GOOD))
def test_each_type_is_validated_by_its_rdata(record_type: str) -> None:
    good, bad = GOOD[record_type]
    name = "sub.example.com." if record_type == "DS" else "x.example.com."
    made = apply_changes(zone(), [Change("CREATE", RecordSet(name, record_type, 60, (good,)))], 10)
    assert RecordSet(name, record_type, 60, (good,)) in made
    problem = refusal(Change("CREATE", RecordSet(name, record_type, 60, (bad,))))
    code = "SPFRDATANotQuoted" if record_type == "SPF" else f"{record_type}RRDATAIllegal"
    assert code in problem and bad[:20] in problem


def test_no_type_is_refused_as_not_yet_served() -> None:
    assert NOT_YET_TYPES == frozenset()


def test_ds_only_at_a_delegation_below_the_apex() -> None:
    ds = GOOD["DS"][0]
    assert "is not permitted at apex in zone example.com." in refusal(
        Change("CREATE", RecordSet("example.com.", "DS", 60, (ds,)))
    )
    assert "no RRSet of type NS with the same DNS name" in refusal(
        Change("CREATE", RecordSet("www.example.com.", "DS", 60, (ds,)))
    )
    with_ds = apply_changes(
        zone(), [Change("CREATE", RecordSet("sub.example.com.", "DS", 60, (ds,)))], 10
    )
    signed_cut = HostedZone("t", "Z1", "example.com.", "ref", "", False, 0, records=with_ds)
    ns = RecordSet("sub.example.com.", "NS", 300, ("ns.elsewhere.net.",))
    with pytest.raises(InvalidChangeBatch, match="no RRSet of type NS"):
        apply_changes(signed_cut, [Change("DELETE", ns)], 10)  # the cut would leave its DS


def test_the_newer_types_take_no_routing_policy() -> None:
    weighted = RecordSet("x.example.com.", "TLSA", 60, (GOOD["TLSA"][0],), "one", weight=1)
    with pytest.raises(InvalidInput, match="type TLSA does not support weighted routing"):
        check_record(weighted)
    multivalue = RecordSet(
        "x.example.com.", "CAA", 60, ('0 issue "ca.example"',), "a", multivalue=True
    )
    with pytest.raises(InvalidInput, match="type CAA does not support multivalue routing"):
        check_record(multivalue)
    check_record(
        RecordSet("x.example.com.", "NAPTR", 60, (GOOD["NAPTR"][0],), "a", multivalue=True)
    )


def test_each_type_is_answered_as_stored() -> None:
    sets = [
        {"name": "x.example.com.", "type": t, "ttl": 60, "values": [v], "policy": "simple"}
        for t, (v, _) in GOOD.items()
        if t != "DS"
    ]
    soa = "ns-1.example.net. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400"
    sets.append(
        {"name": "example.com.", "type": "SOA", "ttl": 900, "values": [soa], "policy": "simple"}
    )
    answers = ZoneAnswers(json.dumps({"zones": ["example.com."], "sets": sets}), referrals=True)
    for record_type, (value, _) in GOOD.items():
        if record_type == "DS":
            continue
        response = answers.respond(dns.message.make_query("x.example.com.", record_type))
        assert response.answer, record_type
        rdtype = dns.rdatatype.from_text(record_type)
        root = dns.name.root
        stored = dns.rdata.from_text(dns.rdataclass.IN, rdtype, value, root, relativize=False)
        assert list(response.answer[0]) == [stored], record_type
