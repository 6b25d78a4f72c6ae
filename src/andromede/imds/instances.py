"""What the metadata service needs from the rest of Andromède, as ports it defines.

The service knows nothing of how instances are stored: it asks an :class:`InstanceDirectory`
which instance owns the address a connection comes from (the instance's public address, unique
on the host: the tenant network DNATs 169.254.169.254 to the metadata port and the packets keep
that source), and a :class:`CredentialsIssuer` for the credentials of the instance's profile.
The compute service implements the first; :mod:`andromede.imds.identity` the second, over
identity. Test doubles are plain implementations of the same protocols.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

__all__ = [
    "CredentialsIssuer",
    "InstanceDirectory",
    "InstanceMetadata",
    "InterfaceMetadata",
    "PublicKey",
    "RoleCredentials",
]


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A key pair's public half, as ``public-keys/<index>=<name>`` lists it."""

    name: str
    openssh_key: str  # "ssh-ed25519 AAAA… name"


@dataclass(frozen=True, slots=True)
class InterfaceMetadata:
    """One of the instance's network interfaces, as ``network/interfaces/macs/<mac>/`` shows
    it (decision 0161): its primary (device 0) and those attached beyond it."""

    mac: str
    interface_id: str
    device_number: int
    local_ipv4s: tuple[str, ...]
    local_hostname: str
    owner_id: str
    security_group_ids: tuple[str, ...]
    subnet_id: str
    subnet_cidr: str
    vpc_id: str
    vpc_cidr: str
    # Decision 0217: its IPv6 addresses and its subnet's and VPC's IPv6 blocks (EC2 lists the
    # paths only when there are some).
    ipv6s: tuple[str, ...] = ()
    subnet_ipv6_cidrs: tuple[str, ...] = ()
    vpc_ipv6_cidrs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class InstanceMetadata:
    """One instance as its guest sees it. Optional fields absent: their paths answer 404."""

    instance_id: str
    account_id: str
    instance_type: str
    image_id: str
    region: str
    availability_zone: str
    private_ip: str
    mac: str
    launched_at: datetime  # the identity document's pendingTime
    local_hostname: str
    public_ip: str | None = None
    public_hostname: str | None = None
    public_keys: tuple[PublicKey, ...] = ()
    user_data: bytes | None = None
    # The instance profile it was launched with: a name or ARN of the account's, or None.
    instance_profile: str | None = None
    architecture: str = "x86_64"
    # Its metadata options (decision 0145): whether a read needs a token (IMDSv2 only),
    # whether the service answers it at all, and its tags when it shows them (None: not).
    tokens_required: bool = True
    endpoint_enabled: bool = True
    tags: tuple[tuple[str, str], ...] | None = None
    # HttpPutResponseHopLimit: the IP TTL the token PUT's answer reaches the guest with
    # (decision 0148).
    put_response_hop_limit: int = 1
    # Its network interfaces in device order (decision 0161); none: no ``network/`` tree.
    interfaces: tuple[InterfaceMetadata, ...] = ()
    # A Spot Instance's interruption under way (decision 0202): the action ("terminate" or
    # "stop") and when; None: ``spot/`` answers 404, as on EC2 before a notice.
    spot_action: tuple[str, datetime] | None = None


@dataclass(frozen=True, slots=True)
class RoleCredentials:
    """The credentials of an instance's role, with what ``iam/info`` shows of its profile."""

    instance_profile_arn: str
    instance_profile_id: str
    role_name: str
    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime
    issued_at: datetime  # LastUpdated

    def __repr__(self) -> str:  # never print the secret or the token
        return (
            f"RoleCredentials(role_name={self.role_name!r}, "
            f"access_key_id={self.access_key_id!r}, expiration={self.expiration.isoformat()})"
        )


class InstanceDirectory(Protocol):
    async def by_address(self, address: str) -> InstanceMetadata | None:
        """The running instance whose public (host-side) address is ``address``; None when no
        instance has it."""


class CredentialsIssuer(Protocol):
    async def __call__(self, instance: InstanceMetadata) -> RoleCredentials | None:
        """Fresh credentials of the role of the instance's profile; None when the instance has
        no profile, the profile no role, or the role does not trust the EC2 service."""
