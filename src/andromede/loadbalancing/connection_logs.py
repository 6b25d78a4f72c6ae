"""Application Load Balancers' connection logs (decisions 0287 and 0307), pure: one client
connection's entry and its line in AWS's documented format, the ``tls_verify_status`` AWS
words a failed handshake with, the client certificate's fields, the objects' names and the
checks of the ``connection_logs.s3.*`` attributes. Delivered as the access logs are (every
five minutes per node, gzip'd, sealed: :mod:`~andromede.loadbalancing.access_logs`), into
their own destination.

A line is AWS's, field for field and in its order: ``timestamp client_ip client_port
listener_port tls_protocol tls_cipher tls_handshake_latency "leaf_client_cert_subject"
leaf_client_cert_validity leaf_client_cert_serial_number tls_verify_status conn_trace_id`` —
the time the connection was established or failed (ISO 8601, microseconds, ``Z``), the
handshake's latency in seconds with millisecond precision (``-`` when it failed; the
protocol, cipher and latency all ``-`` for a plain HTTP listener's connection), the leaf's
subject (RFC 2253, quoted and escaped as the access logs' quoted fields), validity
(``NotBefore=…;NotAfter=…``) and serial number (hexadecimal) only under mutual TLS, ``-``
for a value absent, and the ``conn_trace_id`` the connection's requests carry in the access
logs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from cryptography import x509

from andromede.loadbalancing.access_logs import Destination, checked_destination, quoted_field

__all__ = [
    "SUCCESS",
    "UNMAPPED",
    "ConnectionLogEntry",
    "check_connection_log_attributes",
    "connection_destination",
    "connection_line_time",
    "connection_log_line",
    "connection_object_key",
    "failed_status",
    "leaf_fields",
]

SUCCESS: Final = "Success"
# A handshake that failed for another reason than the client's certificate.
UNMAPPED: Final = "Failed:UnmappedConnectionError"
# OpenSSL's verify results (<openssl/x509_vfy.h>) as AWS's reason codes name them.
_VERIFY_REASONS: Final[Mapping[int, str]] = {
    2: "ClientCertUntrusted",  # X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT
    9: "ClientCertNotYetValid",  # X509_V_ERR_CERT_NOT_YET_VALID
    10: "ClientCertExpired",  # X509_V_ERR_CERT_HAS_EXPIRED
    18: "ClientCertUntrusted",  # X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
    19: "ClientCertUntrusted",  # X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN
    20: "ClientCertUntrusted",  # X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    21: "ClientCertUntrusted",  # X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE
    22: "ClientCertMaxChainDepthExceeded",  # X509_V_ERR_CERT_CHAIN_TOO_LONG
    23: "ClientCertCrlHit",  # X509_V_ERR_CERT_REVOKED
    26: "ClientCertPurposeInvalid",  # X509_V_ERR_INVALID_PURPOSE
    27: "ClientCertUntrusted",  # X509_V_ERR_CERT_UNTRUSTED
}


@dataclass(frozen=True, slots=True)
class ConnectionLogEntry:
    """What a listener's proxy knew of one client connection once its handshake ended
    (and, under mutual TLS, its certificate was judged); a plain HTTP listener's connection
    once accepted, its TLS fields empty (decision 0307)."""

    time: datetime
    client: tuple[str, int]
    listener_port: int
    verify_status: str  # SUCCESS or Failed:<reason>
    conn_trace_id: str
    tls_protocol: str = ""  # OpenSSL's name: TLSv1.2…
    tls_cipher: str = ""
    handshake_latency: float | None = None  # seconds; None: the handshake failed
    cert_subject: str = ""
    cert_validity: str = ""
    cert_serial: str = ""


def _plain(text: str) -> str:
    return text.replace(" ", "+") if text else "-"


def connection_log_line(entry: ConnectionLogEntry) -> str:
    """The entry's line, AWS's twelve fields."""
    latency = "-" if entry.handshake_latency is None else f"{max(entry.handshake_latency, 0):.3f}"
    return " ".join(
        (
            entry.time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            entry.client[0] or "-",
            str(entry.client[1]),
            str(entry.listener_port),
            _plain(entry.tls_protocol),
            _plain(entry.tls_cipher),
            latency,
            quoted_field(entry.cert_subject),
            _plain(entry.cert_validity),
            _plain(entry.cert_serial),
            _plain(entry.verify_status),
            _plain(entry.conn_trace_id),
        )
    )


def connection_line_time(line: str) -> datetime | None:
    """A connection log line's time (its first field), None for a line that has none."""
    try:
        moment = datetime.strptime(line.split(" ", 1)[0], "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC)


def failed_status(verify_code: int | None) -> str:
    """``tls_verify_status`` of a handshake that failed: OpenSSL's verify result of the
    client's certificate as AWS's reason (``ClientCertInvalid`` for one it does not name),
    ``UnmappedConnectionError`` when no certificate was judged (``verify_code`` None)."""
    if verify_code is None:
        return UNMAPPED
    return f"Failed:{_VERIFY_REASONS.get(verify_code, 'ClientCertInvalid')}"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def leaf_fields(leaf_der: bytes) -> tuple[str, str, str]:
    """The client's leaf certificate's subject (RFC 2253), validity and serial number as a
    connection log line gives them (the ``X-Amzn-Mtls-Clientcert-*`` headers' forms);
    ``-`` each for a certificate that cannot be parsed, as AWS's."""
    try:
        leaf = x509.load_der_x509_certificate(leaf_der)
        subject = leaf.subject.rfc4514_string()
    except ValueError:
        return "", "", ""
    validity = (
        f"NotBefore={_iso(leaf.not_valid_before_utc)};NotAfter={_iso(leaf.not_valid_after_utc)}"
    )
    serial = f"{leaf.serial_number:X}"
    return subject, validity, serial.zfill(len(serial) + len(serial) % 2)


def connection_object_key(
    prefix: str,
    account: str,
    region: str,
    lb_name: str,
    lb_id: str,
    end: datetime,
    address: str,
    random: str,
) -> str:
    """AWS's name of a connection log object: ``<prefix>/AWSLogs/<account>/elasticloadbalancing/
    <region>/yyyy/mm/dd/conn_log.<account>_elasticloadbalancing_<region>_app.<name>.<id>_<end>_
    <ip>_<random>.log.gz``, dated by the interval's end (UTC)."""
    end = end.astimezone(UTC)
    root = f"{prefix}/AWSLogs/{account}" if prefix else f"AWSLogs/{account}"
    return (
        f"{root}/elasticloadbalancing/{region}/{end:%Y/%m/%d}/"
        f"conn_log.{account}_elasticloadbalancing_{region}_app.{lb_name}.{lb_id}_"
        f"{end:%Y%m%dT%H%MZ}_{address}_{random}.log.gz"
    )


def connection_destination(attributes: Mapping[str, str]) -> Destination | None:
    """The destination the attributes enable, None when the connection logs are off."""
    if attributes.get("connection_logs.s3.enabled", "false") != "true":
        return None
    return Destination(
        attributes.get("connection_logs.s3.bucket", ""),
        attributes.get("connection_logs.s3.prefix", ""),
    )


def check_connection_log_attributes(attributes: Mapping[str, str]) -> Destination | None:
    """The merged attributes' connection log destination, checked as the access logs' is."""
    return checked_destination(
        attributes.get("connection_logs.s3.prefix", ""),
        connection_destination(attributes),
        "connection_logs",
        "connection logs",
    )
