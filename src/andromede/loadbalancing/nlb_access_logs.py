"""Network Load Balancers' access logs (decision 0269), pure: one TLS connection's entry, its line
in AWS's documented format (version 2.0), and the objects' names. AWS logs an NLB's TLS
listeners only, one line per TLS connection, delivered as an ALB's are (every five minutes,
gzip'd, into the ``access_logs.s3.*`` destination: :mod:`~andromede.loadbalancing.access_logs`).

A line is AWS's, field for field and in its order: ``type version time elb listener
client:port destination:port connection_time tls_handshake_time received_bytes sent_bytes
incoming_tls_alert chosen_cert_arn chosen_cert_serial tls_cipher tls_protocol_version
tls_named_group domain_name alpn_fe_protocol alpn_be_protocol alpn_client_preference_list
tls_connection_creation_time`` — ``type`` ``tls``, ``version`` ``2.0``, the times ISO 8601
without a zone (UTC) as AWS writes them, the durations in milliseconds, ``-`` for a value
absent (a handshake that failed has no time, cipher nor protocol; ``chosen_cert_serial`` and
``tls_named_group`` are reserved by AWS and always ``-``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final
from urllib.parse import quote

__all__ = ["LOG_TYPE", "LOG_VERSION", "TlsConnectionEntry", "nlb_object_key", "tls_log_line"]

LOG_TYPE: Final = "tls"
LOG_VERSION: Final = "2.0"
# OpenSSL's protocol names as AWS's NLB logs write them.
_PROTOCOLS: Final = {
    "TLSv1": "tlsv1",
    "TLSv1.1": "tlsv11",
    "TLSv1.2": "tlsv12",
    "TLSv1.3": "tlsv13",
}
_DOMAIN_BYTES: Final = 256


@dataclass(frozen=True, slots=True)
class TlsConnectionEntry:
    """What a TLS listener's terminator knew of one connection when it ended. Durations are
    seconds (``handshake_time`` None: no handshake completed); bytes are the plaintext's."""

    created: datetime  # the connection's beginning
    ended: datetime
    client: tuple[str, int]
    destination: tuple[str, int]  # the listener's node address and port
    connection_time: float
    handshake_time: float | None
    received_bytes: int  # from the client, after decryption
    sent_bytes: int  # to the client, before encryption
    chosen_cert_arn: str = ""
    tls_cipher: str = ""
    tls_protocol: str = ""  # OpenSSL's name: TLSv1.2…
    domain_name: str = ""  # the client's SNI
    alpn_fe_protocol: str = ""  # negotiated with the client
    alpn_be_protocol: str = ""  # negotiated with the target


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _millis(value: float | None) -> str:
    return "-" if value is None else str(round(max(value, 0.0) * 1000))


def _plain(text: str) -> str:
    return text if text else "-"


def _domain(name: str) -> str:
    """The SNI name URL-encoded (AWS's), so that no byte of it can split the line."""
    return quote(name.encode("utf-8", "replace")[:_DOMAIN_BYTES], safe=".-_*") if name else "-"


def tls_log_line(elb: str, listener_id: str, entry: TlsConnectionEntry) -> str:
    """The entry's line for the load balancer ``elb`` (``net/NAME/ID``) and the TLS listener
    ``listener_id`` (its ARN's last part)."""
    return " ".join(
        (
            LOG_TYPE,
            LOG_VERSION,
            _time(entry.ended),
            elb,
            listener_id,
            f"{entry.client[0]}:{entry.client[1]}",
            f"{entry.destination[0]}:{entry.destination[1]}",
            _millis(entry.connection_time),
            _millis(entry.handshake_time),
            str(entry.received_bytes),
            str(entry.sent_bytes),
            "-",  # incoming_tls_alert: OpenSSL's alerts are not surfaced by Python's ssl
            _plain(entry.chosen_cert_arn),
            "-",  # chosen_cert_serial: reserved by AWS
            _plain(entry.tls_cipher),
            _PROTOCOLS.get(entry.tls_protocol, "-"),
            "-",  # tls_named_group: reserved by AWS
            _domain(entry.domain_name),
            _plain(entry.alpn_fe_protocol),
            _plain(entry.alpn_be_protocol),
            "-",  # alpn_client_preference_list: the client hello's list is not surfaced
            _time(entry.created),
        )
    )


def nlb_object_key(
    prefix: str,
    account: str,
    region: str,
    lb_name: str,
    lb_id: str,
    end: datetime,
    random: str,
) -> str:
    """AWS's name of an NLB log object: ``<prefix>/AWSLogs/<account>/elasticloadbalancing/
    <region>/yyyy/mm/dd/<account>_elasticloadbalancing_<region>_net.<name>.<id>_<end>_
    <random>.log.gz`` (no node address in it, unlike an ALB's), dated by the interval's end."""
    end = end.astimezone(UTC)
    root = f"{prefix}/AWSLogs/{account}" if prefix else f"AWSLogs/{account}"
    return (
        f"{root}/elasticloadbalancing/{region}/{end:%Y/%m/%d}/"
        f"{account}_elasticloadbalancing_{region}_net.{lb_name}.{lb_id}_"
        f"{end:%Y%m%dT%H%MZ}_{random}.log.gz"
    )
