"""The metadata server in process (httpx's ASGI transport, the peer address chosen per call)
over a directory of instances held in a dict and an issuer that hands out numbered
credentials, with a clock the test moves."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx

from andromede.imds.app import ImdsLimits, MetadataApp
from andromede.imds.credentials import CredentialsCache
from andromede.imds.instances import InstanceMetadata, PublicKey, RoleCredentials
from andromede.imds.tokens import TokenAuthority
from support.clock import Clock

WEB_ADDRESS = "100.65.0.7"
DB_ADDRESS = "100.65.0.8"
PROFILE_ARN = "arn:aws:iam::123456789012:instance-profile/web"

WEB = InstanceMetadata(
    instance_id="i-0aaaaaaaaaaaaaaa1",
    account_id="123456789012",
    instance_type="t3.micro",
    image_id="ami-0123456789abcdef0",
    region="eu-fr-1",
    availability_zone="eu-fr-1a",
    private_ip="10.0.0.7",
    mac="02:00:0a:00:00:07",
    launched_at=datetime(2026, 11, 29, 9, 0, tzinfo=UTC),
    local_hostname="ip-10-0-0-7.eu-fr-1.compute.internal",
    public_ip=WEB_ADDRESS,
    public_keys=(PublicKey("deploy", "ssh-ed25519 AAAAC3Nza deploy"),),
    user_data=b"#!/bin/sh\necho hello\n",
    instance_profile=PROFILE_ARN,
)
DB = InstanceMetadata(
    instance_id="i-0bbbbbbbbbbbbbbb2",
    account_id="123456789012",
    instance_type="t3.small",
    image_id="ami-0123456789abcdef0",
    region="eu-fr-1",
    availability_zone="eu-fr-1a",
    private_ip="10.0.0.8",
    mac="02:00:0a:00:00:08",
    launched_at=datetime(2026, 11, 29, 9, 5, tzinfo=UTC),
    local_hostname="ip-10-0-0-8.eu-fr-1.compute.internal",
)


@dataclass
class Instances:
    """A directory of instances by public address: what compute implements."""

    by_ip: dict[str, InstanceMetadata] = field(
        default_factory=lambda: {WEB_ADDRESS: WEB, DB_ADDRESS: DB}
    )

    async def by_address(self, address: str) -> InstanceMetadata | None:
        return self.by_ip.get(address)


@dataclass
class Issuer:
    """Numbered credentials lasting ``duration`` from the clock's now; None while refusing."""

    clock: Clock
    duration: int = 3600
    issued: list[str] = field(default_factory=list)
    refusing: bool = False
    delay: float = 0.0  # seconds each issue takes

    async def __call__(self, instance: InstanceMetadata) -> RoleCredentials | None:
        await asyncio.sleep(self.delay)
        if self.refusing or instance.instance_profile is None:
            return None
        now = datetime.fromtimestamp(self.clock(), UTC)
        number = len(self.issued) + 1
        self.issued.append(instance.instance_id)
        return RoleCredentials(
            instance_profile_arn=PROFILE_ARN,
            instance_profile_id="AIPAEXAMPLE",
            role_name="web-role",
            access_key_id=f"ASIAEXAMPLE{number:05d}",
            secret_access_key=f"secret-{number}",
            session_token=f"token-{number}",
            expiration=now + timedelta(seconds=self.duration),
            issued_at=now,
        )


@dataclass
class Metadata:
    app: MetadataApp
    instances: Instances
    issuer: Issuer
    clock: Clock

    def client(self, address: str = WEB_ADDRESS) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, client=(address, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://169.254.169.254")

    async def token(self, address: str = WEB_ADDRESS, ttl: int = 21600) -> str:
        async with self.client(address) as client:
            answer = await client.put(
                "/latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": str(ttl)}
            )
        assert answer.status_code == 200, answer.text
        return answer.text

    async def get(self, path: str, address: str = WEB_ADDRESS) -> httpx.Response:
        token = await self.token(address)
        async with self.client(address) as client:
            return await client.get(path, headers={"X-aws-ec2-metadata-token": token})


def metadata_world(clock: Clock) -> Metadata:
    instances, issuer = Instances(), Issuer(clock)
    limits = ImdsLimits()
    cache = CredentialsCache(issuer, refresh_margin=limits.credentials_refresh_margin, clock=clock)
    app = MetadataApp(instances, cache, TokenAuthority(clock), limits)
    return Metadata(app, instances, issuer, clock)
