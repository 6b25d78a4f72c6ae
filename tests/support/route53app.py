"""Route 53's REST-XML app in process (decision 0280): Route53App over the in-memory identity
store and a zone store (memory by default), calls made through botocore's own ``route53``
model (its rest-xml serializer and parser, the parameters validated first, the
``/hostedzone/`` prefixes taken off ids as botocore's handler does), signed with SigV4 for
service ``route53`` in ``us-east-1``. The account's VPCs are a set the test fills."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HeadersDict
from botocore.credentials import Credentials
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from botocore.validate import validate_parameters

from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.route53.cidr_collections import (
    CidrCollectionService,
    CidrLimits,
    MemoryCidrCollectionStore,
)
from andromede.route53.client_places import ClientGeography, read_geolocation
from andromede.route53.delegation_sets import (
    DelegationSetLimits,
    DelegationSetService,
    MemoryDelegationSetStore,
)
from andromede.route53.geoproximity import ClientLocations, places
from andromede.route53.memory import MemoryZoneStore
from andromede.route53.service import Route53Limits, Route53Service
from andromede.route53.store import ZoneStore
from andromede.route53api.app import Route53App
from andromede.settings import Settings
from support.asgi import post
from support.json_client import Signers

MODEL: Final = botocore.session.get_session().get_service_model("route53")
NAME_SERVERS: Final = ("ns1.dns.example.net", "ns2.dns.example.net")
_ID_PARAMS: Final = ("Id", "HostedZoneId", "ResourceId", "DelegationSetId")


@dataclass
class CallFailed(Exception):
    status: int
    code: str
    message: str


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class World(Signers):
    app: Route53App
    identity: IdentityService
    credentials: Credentials | None
    tenant_id: str
    service: Route53Service
    audit_store: MemoryAuditStore
    audit: AuditService
    vpcs: set[tuple[str, str, str]] = field(default_factory=set)  # tenant, region, VPC id

    async def raw(self, method: str, path: str, body: bytes = b"", query: str = "") -> Reply:
        url = f"https://route53.amazonaws.com{path}" + (f"?{query}" if query else "")
        request = AWSRequest(method=method, url=url, data=body)
        if self.credentials is not None:
            SigV4Auth(self.credentials, "route53", "us-east-1").add_auth(request)
        status, headers, answer = await post(
            self.app, dict(request.headers.items()), body, ("127.0.0.1", 50000),
            method=method, path=path, query=query.encode(),
            host="route53.amazonaws.com", scheme="https",
        )  # fmt: skip
        assert headers["x-amzn-requestid"]
        return Reply(status, headers, answer)

    async def client(self, operation: str, **params: Any) -> dict[str, Any]:
        """``operation`` as boto3 sends it, parsed by botocore's rest-xml parser; a failure
        raises :class:`CallFailed`."""
        for name in _ID_PARAMS:
            if isinstance(params.get(name), str):
                params[name] = params[name].rsplit("/", 1)[-1]
        model = MODEL.operation_model(operation)
        validate_parameters(params, model.input_shape)
        request = create_serializer("rest-xml").serialize_to_request(params, model)
        query = urlencode(request["query_string"], doseq=True)
        body = request["body"] if isinstance(request["body"], bytes) else request["body"].encode()
        reply = await self.raw(request["method"], request["url_path"], body, query)
        parsed = create_parser("rest-xml").parse(
            {
                "status_code": reply.status,
                "headers": HeadersDict(reply.headers),
                "body": reply.body,
            },
            model.output_shape,
        )
        if reply.status >= 300:
            raise CallFailed(reply.status, parsed["Error"]["Code"], parsed["Error"]["Message"])
        parsed.pop("ResponseMetadata", None)
        return dict(parsed)

    async def fails(self, operation: str, code: str, **params: Any) -> CallFailed:
        try:
            await self.client(operation, **params)
        except CallFailed as exc:
            assert exc.code == code, (exc.code, exc.message)
            return exc
        raise AssertionError(f"{operation} did not fail")

    async def zone(self, name: str = "example.com", **params: Any) -> str:
        made = await self.client(
            "CreateHostedZone", Name=name, CallerReference=f"ref-{name}-{len(params)}", **params
        )
        return str(made["HostedZone"]["Id"])

    async def change(self, zone_id: str, *changes: tuple[str, str, str, int, list[str]]) -> Any:
        return await self.client(
            "ChangeResourceRecordSets",
            HostedZoneId=zone_id,
            ChangeBatch={
                "Changes": [
                    {
                        "Action": action,
                        "ResourceRecordSet": {
                            "Name": name,
                            "Type": kind,
                            "TTL": ttl,
                            "ResourceRecords": [{"Value": v} for v in values],
                        },
                    }
                    for action, name, kind, ttl, values in changes
                ]
            },
        )


async def route53_world(tmp_path: Path, store: ZoneStore | None = None) -> AsyncIterator[World]:
    settings = Settings(data_dir=tmp_path, region="eu-fr-1")
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    boot = await identity.bootstrap()
    assert boot is not None
    audit_store = MemoryAuditStore()
    audit = AuditService(audit_store)
    vpcs: set[tuple[str, str, str]] = set()

    async def vpc_exists(tenant_id: str, region: str, vpc_id: str) -> bool:
        return (tenant_id, region, vpc_id) in vpcs

    # Decision 0339's places: the settings' (eu-fr-1: Paris) and a Local Zone Group at Lyon.
    known = places({**settings.route53_region_coordinates, "eu-fr-1-lyo-1": "45.76,4.84"})
    service = Route53Service(
        store or MemoryZoneStore(),
        Route53Limits(
            name_servers=NAME_SERVERS,
            max_hosted_zones=5,
            max_vpc_authorisations=2,
            max_changes=10,
            region="eu-fr-1",
            places=known,
            # Decision 0339's client networks: a Tokyo resolver, a Paris client subnet.
            clients=ClientLocations(
                {"198.51.100.0/24": "ap-northeast-1", "203.0.113.0/24": "48.86,2.35"}, known
            ),
            # Decision 0395's: the Paris subnet in France, the Tokyo resolver's Region.
            geography=ClientGeography(
                read_geolocation(["203.0.113.0/24,EU,FR,"], 10),
                {"198.51.100.0/24": "ap-northeast-1"},
                known,
            ),
        ),
        vpc_exists,
    )

    async def vpc_owner(region: str, vpc_id: str) -> str | None:
        return next((t for t, r, v in vpcs if (r, v) == (region, vpc_id)), None)

    service.vpc_owner = vpc_owner
    app = Route53App(service, identity, audit, settings)
    app.delegation_sets = DelegationSetService(
        service, MemoryDelegationSetStore(), NAME_SERVERS, DelegationSetLimits(3, 2)
    )
    # Decision 0353's limits, small: two collections an account, six blocks a collection.
    app.cidr_collections = CidrCollectionService(
        service, MemoryCidrCollectionStore(), CidrLimits(2, 6)
    )
    try:
        yield World(
            app,
            identity,
            Credentials(boot.access_key_id, boot.secret_access_key),
            boot.tenant.id,
            service,
            audit_store,
            audit,
            vpcs,
        )
    finally:
        await audit.close()
