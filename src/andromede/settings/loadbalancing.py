"""Elastic Load Balancing's Network Load Balancers (decision 0191): the account's and each
resource's limits, the DNS domain of the load balancers' names, and the health checker.

One group of ``andromede.settings.Settings``, which is composed of them all; the fields keep
their ``ANDROMEDE_<NAME>`` environment variables and TOML keys.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, Field, field_validator

_DNS_DOMAIN = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*$")


class LoadBalancingSettings(BaseModel):
    """Network Load Balancers' limits and names."""

    elb_max_load_balancers_per_tenant: int = Field(
        default=50,
        ge=1,
        le=100000,
        description="Most Network Load Balancers one tenant may hold (AWS's quota: 50; "
        "TooManyLoadBalancers above) (decision 0191).",
    )
    elb_max_target_groups_per_tenant: int = Field(
        default=3000,
        ge=1,
        le=100000,
        description="Most target groups one tenant may hold (AWS's quota: 3,000; "
        "TooManyTargetGroups above) (decision 0191).",
    )
    elb_max_listeners_per_load_balancer: int = Field(
        default=50,
        ge=1,
        le=1000,
        description="Most listeners one load balancer may have (AWS's quota: 50; "
        "TooManyListeners above) (decision 0191).",
    )
    elb_max_targets_per_target_group: int = Field(
        default=500,
        ge=1,
        le=100000,
        description="Most targets one target group may hold (TooManyTargets above) "
        "(decision 0191).",
    )
    elb_max_tags: int = Field(
        default=50,
        ge=1,
        le=1000,
        description="Most tags one load balancer, target group or listener may carry (AWS: 50; "
        "TooManyTags above) (decision 0191).",
    )
    elb_max_security_groups: int = Field(
        default=5,
        ge=1,
        le=100,
        description="Most security groups one Network Load Balancer may have (AWS's quota: "
        "5; ValidationError above) (decision 0191, session 49).",
    )
    elb_provisioning_seconds: float = Field(
        default=2.0,
        ge=0,
        le=3600,
        description="Seconds a new load balancer shows State provisioning before active "
        "(decision 0191).",
    )
    elb_upkeep_interval: float = Field(
        default=5.0,
        gt=0,
        le=300,
        description="Seconds between two rounds, in a process driving a local QEMU host, of "
        "applying the listeners to its VPC routers and probing the targets due (decision "
        "0191).",
    )
    elb_max_certificates_per_listener: int = Field(
        default=25,
        ge=1,
        le=100,
        description="Certificates a TLS listener can present, its default one included "
        "(AWS's 25; decision 0210).",
    )
    elb_tls_max_connections: int = Field(
        default=10000,
        ge=1,
        le=1000000,
        description="Connections a TLS listener's terminator holds at once on one host; "
        "beyond, a new one is closed as soon as accepted (the gateway's setting, handed to "
        "every host with the listener; decision 0210).",
    )
    elb_tls_buffer_bytes: int = Field(
        default=65536,
        ge=4096,
        le=16777216,
        description="Bytes a TLS listener's terminator reads or holds unsent at once for "
        "each direction of a connection (the gateway's setting, handed to every host with "
        "the listener; decision 0210).",
    )
    elb_max_trust_stores_per_tenant: int = Field(
        default=100,
        ge=1,
        le=10000,
        description="Trust stores an account can hold for its listeners' mutual TLS "
        "(TooManyTrustStores beyond; decision 0256).",
    )
    elb_trust_store_max_bundle_bytes: int = Field(
        default=1048576,
        ge=1024,
        le=16777216,
        description="Bytes of a trust store's CA certificates bundle read from S3 "
        "(InvalidCaCertificatesBundle beyond; AWS's 1 MiB; decision 0256).",
    )
    elb_trust_store_max_ca_certificates: int = Field(
        default=25,
        ge=1,
        le=1000,
        description="CA certificates a trust store's bundle can hold "
        "(InvalidCaCertificatesBundle beyond; decision 0256).",
    )
    elb_trust_store_max_revocation_bytes: int = Field(
        default=10485760,
        ge=1024,
        le=52428800,
        description="Bytes of a revocation list (CRL) read from S3 into a trust store "
        "(InvalidRevocationContent beyond; decision 0256).",
    )
    elb_trust_store_max_revoked_entries: int = Field(
        default=100000,
        ge=1,
        le=1000000,
        description="Revoked certificates a trust store holds over all its revocation lists "
        "(TooManyTrustStoreRevocationEntries beyond; decision 0256).",
    )
    elb_max_rules_per_load_balancer: int = Field(
        default=100,
        ge=1,
        le=1000,
        description="Listener rules an Application Load Balancer can have, its listeners' "
        "default rules not counted (AWS's 100; TooManyRules above) (decision 0216).",
    )
    elb_http_max_header_bytes: int = Field(
        default=65536,
        ge=1024,
        le=1048576,
        description="Bytes of an HTTP request's line and headers an Application Load "
        "Balancer's proxy reads before answering 400 (AWS's 64 KB; decision 0216).",
    )
    elb_access_log_max_buffered_lines: int = Field(
        default=100000,
        ge=1000,
        le=10000000,
        description="Access log lines an Application Load Balancer's proxy, or a Network "
        "Load Balancer's TLS terminator, keeps for the host's next report, the oldest dropped "
        "beyond; as many connection log lines an ALB's proxy (decisions 0264, 0269, 0287).",
    )
    elb_dns_domain: str = Field(
        default="amazonaws.com",
        max_length=150,
        description="The domain under which load balancers get their DNSName, "
        "<name>-<id>.elb.<region>.<elb_dns_domain> (decision 0191).",
    )

    @field_validator("elb_dns_domain")
    @classmethod
    def _elb_dns_domain(cls, value: str) -> str:
        domain = value.strip().lower().removesuffix(".")
        if not _DNS_DOMAIN.fullmatch(domain):
            raise ValueError(f"elb_dns_domain: {value!r} is no DNS domain name")
        return domain
