"""A DNS query's wire form to its response's, around :class:`~andromede.route53.answers.
ZoneAnswers`: shared by a VPC's zone responder (decision 0284) and the public name servers
(decision 0289).

- A message that cannot be read is answered FORMERR when its header can (its id and opcode
  kept, RFC 1035 §4.1.1), ignored when not or when it is itself a response (never answering
  a response: no loop between two servers).
- An EDNS version other than 0 is answered BADVERS (RFC 6891 §6.1.3).
- Over UDP the response fits the client's EDNS payload (512 bytes without EDNS, RFC 1035),
  never more than ``max_udp`` (4,096 unless told; the payload the response offers); a larger
  one is sent empty with TC set, for the client to ask again over TCP. Over TCP it is whole
  (up to 65,535 bytes)."""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from typing import Final

import dns.exception
import dns.flags
import dns.message
import dns.rcode

from andromede.route53.answers import ZoneAnswers
from andromede.route53.client_places import ClientGeography
from andromede.route53.geoproximity import Point

__all__ = ["EDNS_PAYLOAD", "MAX_TCP_MESSAGE", "UDP_PAYLOAD", "formerr", "wire_reply"]

log = logging.getLogger(__name__)

UDP_PAYLOAD: Final = 512  # without EDNS, as RFC 1035 bounds a UDP answer
MAX_TCP_MESSAGE: Final = 65535
# The largest UDP response unless the server says otherwise: RFC 6891 §6.2.5's suggestion.
EDNS_PAYLOAD: Final = 4096
_HEADER: Final = struct.Struct("!HHHHHH")


def formerr(wire: bytes) -> bytes | None:
    """A FORMERR response to a query that cannot be read, None when even its header cannot
    or it is a response."""
    if len(wire) < _HEADER.size:
        return None
    query_id, flags = _HEADER.unpack_from(wire)[:2]
    if flags & dns.flags.QR:
        return None
    opcode_bits = flags & 0x7800
    return _HEADER.pack(query_id, dns.flags.QR | opcode_bits | dns.rcode.FORMERR, 0, 0, 0, 0)


def wire_reply(
    answers: ZoneAnswers,
    wire: bytes,
    udp: bool,
    max_udp: int = EDNS_PAYLOAD,
    finish: Callable[[dns.message.Message, dns.message.Message], None] | None = None,
    origin: Callable[[dns.message.Message], Point | None] | None = None,
    source: str | None = None,
    geography: ClientGeography | None = None,
) -> tuple[bytes | None, dns.message.Message | None]:
    """The response's wire form to one query's (None: nothing to send) and the query read
    (None when it could not be); ``finish`` completes the response before it is sized (the
    public name servers' DNSSEC signing, decision 0317); ``origin`` where the query's client
    is (decision 0339's geoproximity answers); ``source`` the address the query came from
    (decision 0353's IP-based answers, the response keeping the client subnet option the
    answers give it); ``geography`` where the operator places the client (decision 0395's
    geolocation and latency answers)."""
    try:
        query = dns.message.from_wire(wire)
    except dns.exception.DNSException:
        return formerr(wire), None
    if query.flags & dns.flags.QR:
        return None, None
    if query.edns > 0:
        response = dns.message.make_response(query)
        response.set_rcode(dns.rcode.BADVERS)
    else:
        try:
            where = None if origin is None else origin(query)
            response = answers.respond(query, where, source, geography)
            if finish is not None:
                finish(query, response)
        except Exception:  # a bad set answers SERVFAIL, never silence
            log.exception("Route 53 DNS: the answer failed")
            response = dns.message.make_response(query)
            response.set_rcode(dns.rcode.SERVFAIL)
    if query.edns >= 0:  # the payload offered is what this server sends at most
        response.use_edns(0, response.ednsflags, max_udp, options=list(response.options))
    if not udp:
        return response.to_wire(max_size=MAX_TCP_MESSAGE), query
    limit = max(UDP_PAYLOAD, query.payload if query.edns >= 0 else UDP_PAYLOAD)
    limit = min(limit, max(UDP_PAYLOAD, max_udp))
    try:
        return response.to_wire(max_size=limit), query
    except dns.exception.TooBig:
        truncated = dns.message.make_response(query)
        if query.edns >= 0:  # the DO bit a signed response set is kept (decision 0317)
            truncated.use_edns(0, response.ednsflags, max_udp)
        truncated.set_rcode(response.rcode())
        truncated.flags |= dns.flags.TC | (response.flags & dns.flags.AA)
        return truncated.to_wire(max_size=limit), query
