"""A TLS listener's settings (decision 0210), pure: ELBv2's security policies served here —
their names, protocols and ciphers in AWS's order, as DescribeSSLPolicies answers them, and
what Python's ``ssl`` makes of each (:func:`ssl_settings`) —, the ALPN policies and what
each offers, and the listener's TLS settings as the data plane receives them (its mutual
TLS too, decision 0256).

The policies are AWS's own tables (Elastic Load Balancing, "Security policies for your
Network Load Balancer"); OpenSSL names the TLS 1.2 and earlier ciphers exactly as AWS does,
so a policy's list is its cipher string. TLS 1.3's three suites cannot be narrowed through
Python's ``ssl`` (OpenSSL chooses them apart from the cipher string): every policy with
TLS 1.3 has the three, so nothing is lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from andromede.loadbalancing.trust_stores import MutualTls

__all__ = [
    "ALPN_POLICIES",
    "DEFAULT_SSL_POLICY",
    "SSL_POLICIES",
    "SslPolicy",
    "TlsSettings",
    "alpn_protocols",
]

DEFAULT_SSL_POLICY: Final = "ELBSecurityPolicy-2016-08"

_TLS13: Final = ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256")
_FS_GCM: Final = (
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
)
_TLS12: Final = (
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES128-SHA256",
    "ECDHE-RSA-AES128-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-AES256-SHA384",
    "ECDHE-RSA-AES256-SHA384",
    "AES128-GCM-SHA256",
    "AES128-SHA256",
    "AES256-GCM-SHA384",
    "AES256-SHA256",
)
_2016: Final = (
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES128-SHA256",
    "ECDHE-RSA-AES128-SHA256",
    "ECDHE-ECDSA-AES128-SHA",
    "ECDHE-RSA-AES128-SHA",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-AES256-SHA384",
    "ECDHE-RSA-AES256-SHA384",
    "ECDHE-RSA-AES256-SHA",
    "ECDHE-ECDSA-AES256-SHA",
    "AES128-GCM-SHA256",
    "AES128-SHA256",
    "AES128-SHA",
    "AES256-GCM-SHA384",
    "AES256-SHA256",
    "AES256-SHA",
)


@dataclass(frozen=True, slots=True)
class SslPolicy:
    name: str
    protocols: tuple[str, ...]  # AWS's names: TLSv1, TLSv1.1, TLSv1.2, TLSv1.3
    ciphers: tuple[str, ...]  # in AWS's priority order, the TLS 1.3 suites first

    @property
    def cipher_string(self) -> str:
        """The OpenSSL cipher string of its TLS 1.2 and earlier ciphers; ``@SECLEVEL=0`` when
        it offers TLS 1.0 or 1.1, which OpenSSL 3 refuses at its default level (AWS's
        policy offers them: a client that asks for them gets them, as at AWS)."""
        classic = ":".join(c for c in self.ciphers if not c.startswith("TLS_"))
        return classic + (":@SECLEVEL=0" if "TLSv1" in self.protocols else "")


SSL_POLICIES: Final = {
    policy.name: policy
    for policy in (
        SslPolicy(DEFAULT_SSL_POLICY, ("TLSv1", "TLSv1.1", "TLSv1.2"), _2016),
        SslPolicy("ELBSecurityPolicy-TLS-1-1-2017-01", ("TLSv1.1", "TLSv1.2"), _2016),
        SslPolicy("ELBSecurityPolicy-TLS-1-2-2017-01", ("TLSv1.2",), _TLS12),
        SslPolicy("ELBSecurityPolicy-FS-1-2-Res-2020-10", ("TLSv1.2",), _FS_GCM),
        SslPolicy("ELBSecurityPolicy-TLS13-1-2-2021-06", ("TLSv1.2", "TLSv1.3"), _TLS13 + _TLS12),
        SslPolicy(
            "ELBSecurityPolicy-TLS13-1-2-Res-2021-06", ("TLSv1.2", "TLSv1.3"), _TLS13 + _FS_GCM
        ),
        SslPolicy("ELBSecurityPolicy-TLS13-1-3-2021-06", ("TLSv1.3",), _TLS13),
    )
}

# ELBv2's AlpnPolicy values and the protocols each offers a client, in preference order
# ("None": no ALPN).
ALPN_POLICIES: Final[dict[str, tuple[str, ...]]] = {
    "HTTP1Only": ("http/1.1",),
    "HTTP2Only": ("h2",),
    "HTTP2Optional": ("http/1.1", "h2"),
    "HTTP2Preferred": ("h2", "http/1.1"),
    "None": (),
}


def alpn_protocols(policy: str) -> tuple[str, ...]:
    return ALPN_POLICIES.get(policy, ())


@dataclass(frozen=True, slots=True)
class TlsSettings:
    """What a router's TLS terminator needs of a listener: its certificates' ARNs (the
    default first, then those for SNI), its security and ALPN policies, and whether its
    target group speaks TLS (re-encrypted to the target, whose certificate is not checked,
    as AWS's)."""

    certificates: tuple[str, ...]
    ssl_policy: str = DEFAULT_SSL_POLICY
    alpn_policy: str = "None"
    target_tls: bool = False
    # Decision 0256: an HTTPS listener's mutual TLS (None: off).
    mutual: MutualTls | None = None
    # Decision 0269: an NLB TLS listener's load balancer (``net/NAME/ID``) its access log
    # lines name, "" while its access logs are off; the lines a terminator holds at most.
    access_log: str = ""
    access_log_max_lines: int = 100000
