"""A NAT gateway's record, pure (decision 0129).

A **NAT gateway** (``nat-…``) lets the instances of the subnets whose route tables send a
destination to it reach that destination without a public address of their own: it sits in a
(public) subnet, holds one of the tenant's Elastic IPs and one private address of its subnet,
and what it forwards leaves from the Elastic IP. Only ``public`` connectivity is offered.

Its private address is reserved as an instance's is: by a requester-managed network interface
(interface type ``nat_gateway``) on its subnet, which the store keeps unique with the others,
so it is never given to an instance or to another gateway. Its Elastic IP's record carries the
association (the gateway's interface and private address, and the gateway's id), written in the
same transaction as the gateway.

**States.** EC2's are ``pending``, ``available``, ``deleting``, ``deleted`` and ``failed``. Here
a gateway is stored ``available`` as soon as it is made (the hosts are told from the records:
decision 0129 says why no ``pending`` is stored) and ``deleted`` as soon as it is deleted, its
Elastic IP and interface let go of in the same write; a deleted gateway stays visible for a
while, as on EC2, then is no longer listed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from andromede.compute.model import FORMAT_VERSION, Tags

__all__ = [
    "CONNECTIVITY_PUBLIC",
    "INTERFACE_TYPE",
    "NatGateway",
    "NatGatewayState",
]

CONNECTIVITY_PUBLIC: Final = "public"
# What DescribeNetworkInterfaces calls the interface EC2 makes for a NAT gateway.
INTERFACE_TYPE: Final = "nat_gateway"


class NatGatewayState(enum.StrEnum):
    PENDING = "pending"
    AVAILABLE = "available"
    DELETING = "deleting"
    DELETED = "deleted"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class NatGateway:
    nat_gateway_id: str
    tenant_id: str
    vpc_id: str
    subnet_id: str
    # The Elastic IP it holds (allocation, association, address) and its private side
    # (its interface, and the subnet's address that interface holds).
    allocation_id: str
    association_id: str
    public_ip: str
    network_interface_id: str
    private_ip: str
    create_time: datetime
    state: NatGatewayState = NatGatewayState.AVAILABLE
    connectivity_type: str = CONNECTIVITY_PUBLIC
    delete_time: datetime | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    tags: Tags = ()
    # CreateNatGateway's idempotency: the token, and a digest of what was asked with it.
    client_token: str | None = None
    request_digest: str = ""
    format_version: int = FORMAT_VERSION
    revision: int = 0

    @property
    def resource_id(self) -> str:
        return self.nat_gateway_id

    @property
    def live(self) -> bool:
        """Neither deleted nor failed: it holds its address and its Elastic IP."""
        return self.state not in (NatGatewayState.DELETED, NatGatewayState.FAILED)

    @property
    def available(self) -> bool:
        return self.state is NatGatewayState.AVAILABLE

    def visible(self, now: datetime, window: timedelta) -> bool:
        """Whether DescribeNatGateways still lists it: a deleted (or failed) gateway is shown
        for ``window`` after it went, as EC2 shows one for about an hour."""
        if self.live:
            return True
        gone_at = self.delete_time or self.create_time
        return now - gone_at < window
