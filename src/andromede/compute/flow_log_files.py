"""Flow log records, their aggregation and the log files' names and bodies, pure (decision
0153).

A host reports, per interval, one :class:`FlowRecord` per flow of a captured interface: the
5-tuple seen from the interface, the packets and bytes, the first and last second it was
seen and whether the router let it through (ACCEPT) or dropped it (REJECT).
:class:`FlowAggregator` merges what one interval saw of one flow into one record and holds at
most ``max_flows`` of them: past that, it counts what it skipped per interface, which the
file says as EC2 does, with a ``SKIPDATA`` record.

A flow log's file is EC2's: one line a record, its fields in the flow log's ``LogFormat``
order, ``-`` for what a record does not have, gzip-compressed (or the same records as a
Parquet file, ``flow_log_parquet.py``, ``.log.parquet``), named
``<prefix>AWSLogs/<account>/vpcflowlogs/<region>/<yyyy>/<mm>/<dd>/[<hh>/]<account>_vpcflowlogs_
<region>_<flow-log-id>_<yyyymmddThhmmZ>_<hash>.log.gz`` (or with Hive-style ``name=value``
folders).

A flow log to CloudWatch Logs (session 48) has the same records as events
(:func:`log_events`): one event a record, its message the record's line (no header line), its
timestamp the record's start, in one stream per network interface, named by its id.

A flow log to a Firehose stream (decision 0348) has the same records as Firehose records
(:func:`firehose_records`): one record a flow record, its line (no header line) ended by a
newline, so that the stream's objects are the lines one after another.

The TCP flags (decision 0348) are the OR of those the router saw in the interval, as EC2
writes them: FIN 1, SYN 2, RST 4, SYN-ACK 18 (a SYN with ACK; no other ACK counts); 0 when
none was seen, or for another protocol. The flow's direction is the interface's (``egress``
when the record's source is its address). The traffic path, egress records only, is what the
interface's subnet's route table says of the destination (its longest matching route):
1 through a resource of the VPC (the local route, a NAT gateway, a network interface), 4 an
intra-region peering connection, 7 a gateway VPC endpoint, 8 an internet gateway; ``-``
otherwise (and for ingress records), as EC2 writes it where none applies. The packet's
addresses' AWS service (``pkt-src-aws-service``, ``pkt-dst-aws-service``) is ``S3`` for the
object store's blocks, the one AWS service the routers can name, ``-`` otherwise.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import ipaddress
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from andromede.compute.flow_log import FlowLog

__all__ = [
    "FlowAggregator",
    "FlowKey",
    "FlowRecord",
    "InterfaceContext",
    "firehose_records",
    "log_body",
    "log_events",
    "log_key",
    "log_lines",
    "log_rows",
]

FLOW_LOG_VERSION = 2
_WIRE_OMITTED = "andromede.wire.omitted_at_default"
_PROTOCOLS = {"icmp": 1, "tcp": 6, "udp": 17, "icmpv6": 58}
# EC2's bits of the ``tcp-flags`` field (decision 0348).
TCP_FIN, TCP_SYN, TCP_RST, TCP_SYN_ACK = 1, 2, 4, 18


@dataclass(frozen=True, slots=True)
class FlowKey:
    """A flow as one interface sees it, and what the router did of it."""

    interface_id: str
    srcaddr: str
    dstaddr: str
    srcport: int
    dstport: int
    protocol: int  # IANA number
    action: str  # ACCEPT or REJECT
    # The packet's own addresses where the interface's differ (a NAT gateway's, decision
    # 0176: the instance's and the internet host's); "" = the interface's. Left out of the
    # agent wire while empty, so an older gateway still reads a record
    # (``andromede.compute.driver_network.WIRE_OMITTED_AT_DEFAULT``, which this module cannot
    # import).
    pkt_srcaddr: str = field(default="", metadata={_WIRE_OMITTED: True})
    pkt_dstaddr: str = field(default="", metadata={_WIRE_OMITTED: True})


@dataclass(frozen=True, slots=True)
class FlowRecord:
    key: FlowKey
    packets: int
    bytes: int
    start: int  # Unix seconds
    end: int
    # EC2's ``tcp-flags``: the OR of TCP_FIN, TCP_SYN, TCP_RST, TCP_SYN_ACK seen in the interval
    # (decision 0348). Left out of the agent wire while 0, as ``FlowKey``'s packet addresses.
    tcp_flags: int = field(default=0, metadata={_WIRE_OMITTED: True})

    def merged(self, other: FlowRecord) -> FlowRecord:
        return replace(
            self,
            packets=self.packets + other.packets,
            bytes=self.bytes + other.bytes,
            start=min(self.start, other.start),
            end=max(self.end, other.end),
            tcp_flags=self.tcp_flags | other.tcp_flags,
        )


def protocol_number(name: str) -> int:
    """conntrack's and nftables' protocol names (or numbers) as IANA numbers."""
    if name.isdigit():
        return int(name)
    return _PROTOCOLS.get(name.lower(), 0)


class FlowAggregator:
    """One interval's flows, merged per :class:`FlowKey`, at most ``max_flows`` of them.

    Memory is bounded by ``max_flows`` whatever the traffic: a flow not held yet when the
    cap is reached is counted as skipped for its interface, never kept."""

    def __init__(self, max_flows: int) -> None:
        self._max = max_flows
        self._flows: dict[FlowKey, FlowRecord] = {}
        self._skipped: dict[str, tuple[int, int]] = {}  # interface → (first, last) second

    def add(self, record: FlowRecord) -> None:
        held = self._flows.get(record.key)
        if held is not None:
            self._flows[record.key] = held.merged(record)
            return
        if len(self._flows) >= self._max:
            first, last = self._skipped.get(record.key.interface_id, (record.start, record.end))
            self._skipped[record.key.interface_id] = (
                min(first, record.start),
                max(last, record.end),
            )
            return
        self._flows[record.key] = record

    def __len__(self) -> int:
        return len(self._flows)

    def drain(self) -> tuple[list[FlowRecord], dict[str, tuple[int, int]]]:
        """The interval's records in a stable order and the interfaces with skipped flows
        (the seconds they span); the aggregator starts a new interval."""
        flows, skipped = self._flows, self._skipped
        self._flows, self._skipped = {}, {}
        ordered = sorted(flows.values(), key=lambda r: (r.start, r.key.interface_id, str(r.key)))
        return ordered, skipped


@dataclass(frozen=True, slots=True)
class InterfaceContext:
    """What a record says of its interface besides its id, for the optional fields."""

    vpc_id: str = "-"
    subnet_id: str = "-"
    instance_id: str = "-"
    # Decision 0348: the interface's private address (its records' direction: "" unknown), and
    # its subnet's routes as (block, EC2's traffic-path code), for the egress records: IPv4
    # blocks, and IPv6 ones (decision 0368).
    address: str = ""
    paths: tuple[tuple[str, int], ...] = ()
    # The blocks of AWS services as (IPv4 block, EC2's service name): the object store's.
    services: tuple[tuple[str, str], ...] = ()
    # Its IPv6 addresses (decision 0368): a record from one of them is egress too.
    ipv6_addresses: tuple[str, ...] = ()

    def service_of(self, address: str) -> str:
        """EC2's ``pkt-*-aws-service`` of ``address``: its service's name, or ``-``."""
        try:
            found = ipaddress.ip_address(address)
        except ValueError:
            return "-"
        for block, name in self.services:
            network = _network(block)
            if network is not None and found in network:
                return name
        return "-"

    def direction(self, record: FlowRecord) -> str:
        if not self.address:
            return "-"
        source = record.key.srcaddr
        return "egress" if source == self.address or source in self.ipv6_addresses else "ingress"

    def traffic_path(self, record: FlowRecord) -> str:
        """EC2's code of the path an egress record's packets take (its destination's longest
        matching route), ``-`` for an ingress one or when no route applies."""
        if self.direction(record) != "egress":
            return "-"
        try:
            destination = ipaddress.ip_address(record.key.pkt_dstaddr or record.key.dstaddr)
        except ValueError:
            return "-"
        best: tuple[int, int] | None = None
        for block, code in self.paths:
            network = _network(block)
            if network is not None and destination in network:
                if best is None or network.prefixlen > best[0]:
                    best = (network.prefixlen, code)
        return "-" if best is None else str(best[1])


@functools.lru_cache(maxsize=4096)
def _network(block: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(block, strict=False)
    except ValueError:
        return None


def _values(
    flow_log: FlowLog, region: str, record: FlowRecord, ctx: InterfaceContext
) -> dict[str, str]:
    key = record.key
    ipv6 = ":" in key.srcaddr
    return {
        "version": str(FLOW_LOG_VERSION),
        "account-id": flow_log.tenant_id,
        "interface-id": key.interface_id,
        "srcaddr": key.srcaddr,
        "dstaddr": key.dstaddr,
        "srcport": str(key.srcport),
        "dstport": str(key.dstport),
        "protocol": str(key.protocol),
        "packets": str(record.packets),
        "bytes": str(record.bytes),
        "start": str(record.start),
        "end": str(record.end),
        "action": key.action,
        "log-status": "OK",
        "vpc-id": ctx.vpc_id,
        "subnet-id": ctx.subnet_id,
        "instance-id": ctx.instance_id,
        "region": region,
        "type": "IPv6" if ipv6 else "IPv4",
        "pkt-srcaddr": key.pkt_srcaddr or key.srcaddr,
        "pkt-dstaddr": key.pkt_dstaddr or key.dstaddr,
        "tcp-flags": str(record.tcp_flags),
        "flow-direction": ctx.direction(record),
        "traffic-path": ctx.traffic_path(record),
        "pkt-src-aws-service": ctx.service_of(key.pkt_srcaddr or key.srcaddr),
        "pkt-dst-aws-service": ctx.service_of(key.pkt_dstaddr or key.dstaddr),
    }


def _skipdata(
    flow_log: FlowLog, region: str, interface_id: str, span: tuple[int, int]
) -> dict[str, str]:
    return {
        "version": str(FLOW_LOG_VERSION),
        "account-id": flow_log.tenant_id,
        "interface-id": interface_id,
        "start": str(span[0]),
        "end": str(span[1]),
        "log-status": "SKIPDATA",
        "region": region,
    }


def _records(
    flow_log: FlowLog,
    region: str,
    records: Iterable[FlowRecord],
    skipped: Mapping[str, tuple[int, int]],
    contexts: Mapping[str, InterfaceContext],
) -> Iterator[tuple[str, int, list[str]]]:
    """Each record of the flow log's interfaces and traffic type (others are left out), then a
    ``SKIPDATA`` one per interface of its with skipped flows: its interface, its start, and
    its values in the flow log's format, ``-`` for what a record does not have."""
    for record in records:
        ctx = contexts.get(record.key.interface_id)
        if ctx is None or not flow_log.traffic_type.records(record.key.action):
            continue
        values = _values(flow_log, region, record, ctx)
        row = [values.get(name, "-") for name in flow_log.log_format]
        yield record.key.interface_id, record.start, row
    for interface_id, span in sorted(skipped.items()):
        if interface_id in contexts:
            values = _skipdata(flow_log, region, interface_id, span)
            yield interface_id, span[0], [values.get(name, "-") for name in flow_log.log_format]


def log_rows(
    flow_log: FlowLog,
    region: str,
    records: Iterable[FlowRecord],
    skipped: Mapping[str, tuple[int, int]],
    contexts: Mapping[str, InterfaceContext],
) -> list[list[str]]:
    """The flow log's records for its interfaces and traffic type (others are left out), a
    ``SKIPDATA`` record per interface of its with skipped flows: each its values in the flow
    log's format, ``-`` for what a record does not have."""
    return [row for _, _, row in _records(flow_log, region, records, skipped, contexts)]


def log_events(
    flow_log: FlowLog,
    region: str,
    records: Iterable[FlowRecord],
    skipped: Mapping[str, tuple[int, int]],
    contexts: Mapping[str, InterfaceContext],
) -> dict[str, list[tuple[int, str]]]:
    """The records as CloudWatch Logs events, per stream (the interface's id): each its
    timestamp in milliseconds (the record's start) and its line, in time order."""
    streams: dict[str, list[tuple[int, str]]] = {}
    for interface_id, start, row in _records(flow_log, region, records, skipped, contexts):
        streams.setdefault(interface_id, []).append((start * 1000, " ".join(row)))
    return {name: sorted(events, key=lambda e: e[0]) for name, events in sorted(streams.items())}


def firehose_records(
    flow_log: FlowLog,
    region: str,
    records: Iterable[FlowRecord],
    skipped: Mapping[str, tuple[int, int]],
    contexts: Mapping[str, InterfaceContext],
) -> list[bytes]:
    """The records as Firehose records (decision 0348): each its line and a newline, in time
    order, no header line."""
    rows = sorted(_records(flow_log, region, records, skipped, contexts), key=lambda r: r[1])
    return [(" ".join(row) + "\n").encode() for _, _, row in rows]


def log_lines(
    flow_log: FlowLog,
    region: str,
    records: Iterable[FlowRecord],
    skipped: Mapping[str, tuple[int, int]],
    contexts: Mapping[str, InterfaceContext],
) -> list[str]:
    """The plain-text file's lines (``log_rows``): a header line naming the fields first, as
    EC2's files have."""
    rows = log_rows(flow_log, region, records, skipped, contexts)
    return [" ".join(flow_log.log_format), *(" ".join(row) for row in rows)]


def log_body(lines: Sequence[str]) -> bytes:
    """The lines gzip-compressed; no name nor time in the gzip header, so a body is the same
    wherever and whenever it is made."""
    return gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)


def log_key(flow_log: FlowLog, region: str, when: datetime, body: bytes) -> str:
    """The object's key, EC2's: the date folders (and the hour's with ``PerHourPartition``,
    Hive-style ``name=value`` ones with ``HiveCompatiblePartitions``), then the file name
    with the interval's time and a hash of the body."""
    when = when.astimezone(UTC)
    account = flow_log.tenant_id
    if flow_log.hive_compatible_partitions:
        folders = [
            f"aws-account-id={account}",
            "aws-service=vpcflowlogs",
            f"aws-region={region}",
            f"year={when:%Y}",
            f"month={when:%m}",
            f"day={when:%d}",
        ]
        if flow_log.per_hour_partition:
            folders.append(f"hour={when:%H}")
    else:
        folders = [account, "vpcflowlogs", region, f"{when:%Y}", f"{when:%m}", f"{when:%d}"]
        if flow_log.per_hour_partition:
            folders.append(f"{when:%H}")
    digest = hashlib.sha256(body).hexdigest()[:8]
    ending = "log.parquet" if flow_log.file_format == "parquet" else "log.gz"
    name = (
        f"{account}_vpcflowlogs_{region}_{flow_log.flow_log_id}_{when:%Y%m%dT%H%MZ}_{digest}"
        f".{ending}"
    )
    return f"{flow_log.destination.prefix}AWSLogs/" + "/".join(folders) + "/" + name
