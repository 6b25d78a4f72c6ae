"""VPC gateway endpoints in the compute service (decision 0160): create, describe, modify,
delete; their routes in the route tables; what each host's VPC router sends to them.

An endpoint and the routes it puts in its tables are written together, at the revisions read
(``ComputeStore.change``): no table is left with a route to an endpoint that does not exist,
nor an endpoint naming a table that lacks its route. A table's route to an endpoint is the
endpoint's to manage: DeleteRoute and ReplaceRoute refuse it (``gateways.py``), as EC2 does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from andromede.compute.driver_network import (
    EndpointRoute,
)
from andromede.compute.errors import (
    ComputeError,
    DifferentNetworks,
    Duplicate,
    IncorrectState,
    InvalidId,
    InvalidParameterValue,
    NetworkLimitExceeded,
    NotFound,
    RouteExists,
)
from andromede.compute.gateways import RoutingMixin
from andromede.compute.network import NetworkInterface, Subnet, Vpc
from andromede.compute.resource_ids import (
    Tags,
    check_client_token,
    check_id,
    check_tags,
    new_id,
    request_digest,
    token_id,
)
from andromede.compute.routing import ORIGIN_ROUTE, Route, RouteTable
from andromede.compute.store import Record
from andromede.compute.vpc_endpoint import (
    DEFAULT_POLICY,
    VpcEndpoint,
    endpoint_routes,
    interface_service_names,
    managed_prefix_list_id,
    service_names,
)

__all__ = ["VpcEndpointsMixin"]

_ATTEMPTS = 8


class VpcEndpointsMixin(RoutingMixin):
    # -- the service ---------------------------------------------------------------------------

    def endpoint_service_names(self) -> tuple[str, ...]:
        """Every endpoint service's names: the object store's first (decision 0174)."""
        return interface_service_names(self.limits.region)

    def endpoint_prefix_list(self) -> tuple[str, str, tuple[str, ...]]:
        """The region's AWS-managed prefix list of the object store: its id, EC2's name and
        its blocks (the object store's addresses as the guests see them, a setting)."""
        return (
            managed_prefix_list_id(self.limits.region),
            service_names(self.limits.region)[0],
            self.limits.vpc_endpoint_s3_addresses,
        )

    def _service(self, name: str | None, *, interface: bool = False) -> str:
        """``ServiceName`` checked: the object store for a gateway endpoint, any of
        :data:`INTERFACE_SERVICES` for an Interface endpoint (decision 0174)."""
        if not name:
            raise InvalidParameterValue("The request must contain the parameter ServiceName")
        if name in service_names(self.limits.region):
            return name
        if name not in interface_service_names(self.limits.region):
            raise NotFound("vpce-service", name)
        if not interface:
            # EC2's words for a service that has Interface endpoints only.
            raise DifferentNetworks(
                "Endpoint type (Gateway) does not match available service types ([Interface])."
            )
        return name

    # -- the calls -----------------------------------------------------------------------------

    async def create_vpc_endpoint(
        self,
        tenant_id: str,
        vpc_id: str,
        service_name: str | None,
        route_table_ids: Sequence[str],
        policy: str | None = None,
        *,
        tags: Tags = (),
        client_token: str | None = None,
    ) -> VpcEndpoint:
        """A gateway endpoint of the VPC to the object store, routed in ``route_table_ids``
        (tables of the same VPC, each without a route to the service's prefix list)."""
        service = self._service(service_name)
        check_tags(tags)
        ids = tuple(dict.fromkeys(route_table_ids))
        text = policy if policy is not None else DEFAULT_POLICY
        endpoint_id, digest = new_id("vpce"), ""
        if client_token is not None:
            check_client_token(client_token)
            endpoint_id = token_id("vpce", tenant_id, client_token)
            digest = request_digest(
                {"vpc": vpc_id, "service": service, "tables": ids, "policy": text, "tags": tags}
            )
        for _ in range(_ATTEMPTS):
            if digest:
                earlier = await self._made_with_token(VpcEndpoint, tenant_id, endpoint_id, digest)
                if earlier is not None:
                    return earlier
            vpc = await self._owned(Vpc, tenant_id, vpc_id, "vpc")
            held = await self.store.list(VpcEndpoint, tenant_id)
            if len(held) >= self.limits.max_vpc_endpoints:
                raise NetworkLimitExceeded(
                    "vpce", "The maximum number of VPC endpoints has been reached."
                )
            endpoint = VpcEndpoint(
                endpoint_id,
                tenant_id,
                vpc_id,
                service,
                managed_prefix_list_id(self.limits.region),
                ids,
                text,
                self.clock(),
                tags=tags,
                client_token=client_token,
                request_digest=digest,
            )
            tables = await self._routed_tables(endpoint, ids, add=True)
            try:
                if await self.store.change(vpc, insert=[endpoint], replace=tables):
                    self._push_routes_later(tenant_id, vpc_id)
                    return endpoint
            except Duplicate:
                if client_token is None:
                    raise
        raise IncorrectState(f"{vpc_id} changed concurrently; retry")

    async def _routed_tables(
        self, endpoint: VpcEndpoint, ids: Iterable[str], *, add: bool
    ) -> list[RouteTable]:
        """The tables ``ids`` with the endpoint's route added (``add``) or taken away."""
        changed: list[RouteTable] = []
        for table_id in ids:
            table = await self._table(endpoint.tenant_id, table_id)
            if table.vpc_id != endpoint.vpc_id:
                raise InvalidParameterValue(
                    f"route table {table_id} and VPC {endpoint.vpc_id} belong to different networks"
                )
            existing = table.route_to(endpoint.prefix_list_id)
            if add:
                if existing is not None:
                    raise RouteExists(
                        f"route table {table_id} already has a route with destination-prefix-"
                        f"list-id {endpoint.prefix_list_id}"
                    )
                route = Route(
                    "",
                    endpoint.vpc_endpoint_id,
                    ORIGIN_ROUTE,
                    destination_prefix_list_id=endpoint.prefix_list_id,
                )
                changed.append(replace(table, routes=(*table.routes, route)))
            elif existing is not None and existing.gateway_id == endpoint.vpc_endpoint_id:
                kept = tuple(r for r in table.routes if r is not existing)
                changed.append(replace(table, routes=kept))
        return changed

    async def describe_vpc_endpoints(self, tenant_id: str, ids: Sequence[str]) -> list[VpcEndpoint]:
        """The tenant's endpoints (those named; one not found is InvalidVpcEndpointId.NotFound),
        each naming only the tables that still exist."""
        found = {e.vpc_endpoint_id: e for e in await self.store.list(VpcEndpoint, tenant_id)}
        for endpoint_id in ids:
            check_id(endpoint_id, "vpce")
            if endpoint_id not in found:
                raise NotFound("vpce", endpoint_id)
        wanted = sorted(set(ids) or set(found))
        tables = {t.route_table_id for t in await self.store.list(RouteTable, tenant_id)}
        return [
            replace(
                found[i], route_table_ids=tuple(t for t in found[i].route_table_ids if t in tables)
            )
            for i in wanted
        ]

    async def owns_vpc(self, tenant_id: str, vpc_id: str) -> bool:
        """Whether ``vpc_id`` is one of the tenant's VPCs (S3 Control's CreateAccessPoint with
        a ``VpcConfiguration``, decision 0157's addendum): never an error, another tenant's
        or a malformed id is simply not the tenant's."""
        try:
            await self._owned(Vpc, tenant_id, vpc_id, "vpc")
        except (NotFound, InvalidId):
            return False
        return True

    async def endpoint_of(self, vpc_endpoint_id: str) -> VpcEndpoint | None:
        """Any tenant's endpoint by id: the object store's view of one a request came
        through (its VPC and policy), never a tenant's call."""
        return await self.store.get(VpcEndpoint, vpc_endpoint_id)

    async def modify_vpc_endpoint(
        self,
        tenant_id: str,
        vpc_endpoint_id: str,
        *,
        add_route_table_ids: Sequence[str] = (),
        remove_route_table_ids: Sequence[str] = (),
        policy: str | None = None,
        reset_policy: bool = False,
    ) -> None:
        adding = tuple(dict.fromkeys(add_route_table_ids))
        removing = tuple(dict.fromkeys(remove_route_table_ids))
        if set(adding) & set(removing):
            raise InvalidParameterValue(
                "A route table cannot be both added to and removed from an endpoint"
            )
        if reset_policy and policy is not None:
            raise InvalidParameterValue("PolicyDocument and ResetPolicy cannot be used together")
        for _ in range(_ATTEMPTS):
            endpoint = await self._owned(VpcEndpoint, tenant_id, vpc_endpoint_id, "vpce")
            fresh = [t for t in adding if t not in endpoint.route_table_ids]
            tables = await self._routed_tables(endpoint, fresh, add=True)
            tables += await self._routed_tables(
                endpoint, [t for t in removing if t in endpoint.route_table_ids], add=False
            )
            for table_id in removing:
                check_id(table_id, "rtb")
            kept = tuple(t for t in endpoint.route_table_ids if t not in removing)
            changed = replace(
                endpoint,
                route_table_ids=(*kept, *fresh),
                policy_document=DEFAULT_POLICY
                if reset_policy
                else (policy if policy is not None else endpoint.policy_document),
            )
            if await self.store.change(changed, replace=tables):
                if tables:
                    self._push_routes_later(tenant_id, endpoint.vpc_id)
                return
        raise IncorrectState(f"{vpc_endpoint_id} changed concurrently; retry")

    async def delete_vpc_endpoints(
        self, tenant_id: str, ids: Sequence[str]
    ) -> list[tuple[str, ComputeError]]:
        """Delete each endpoint named, with its routes; those not found are returned, not
        raised (EC2's unsuccessful items)."""
        refused: list[tuple[str, ComputeError]] = []
        for endpoint_id in dict.fromkeys(ids):
            try:
                await self._delete_endpoint(tenant_id, endpoint_id)
            except ComputeError as exc:
                refused.append((endpoint_id, exc))
        return refused

    async def _delete_endpoint(self, tenant_id: str, endpoint_id: str) -> None:
        for _ in range(_ATTEMPTS):
            endpoint = await self._owned(VpcEndpoint, tenant_id, endpoint_id, "vpce")
            tables = [
                t
                for t in await self.store.list(RouteTable, tenant_id)
                if any(r.gateway_id == endpoint_id for r in t.routes)
            ]
            stripped = [
                replace(t, routes=tuple(r for r in t.routes if r.gateway_id != endpoint_id))
                for t in tables
            ]
            gone: list[tuple[type[Record], str]] = [(VpcEndpoint, endpoint_id)]
            # An Interface endpoint's network interfaces go with it (decision 0166).
            gone += [(NetworkInterface, i) for i in endpoint.network_interface_ids]
            if await self.store.change(endpoint, delete=gone, replace=stripped):
                self._push_routes_later(tenant_id, endpoint.vpc_id)
                if endpoint.private_dns_enabled:
                    self._spawn(self._push_vpc_dns_of(endpoint.vpc_id))
                return
        raise IncorrectState(f"{endpoint_id} changed concurrently; retry")

    async def vpc_endpoint_routes(self, tenant_id: str, vpc_id: str) -> tuple[EndpointRoute, ...]:
        """What the VPC's routers send to its endpoints (:func:`endpoint_routes`)."""
        return endpoint_routes(
            vpc_id,
            await self.store.list(RouteTable, tenant_id),
            await self.store.list(Subnet, tenant_id),
            self.limits.vpc_endpoint_s3_addresses,
        )

    def _push_routes_later(self, tenant_id: str, vpc_id: str) -> None:
        # The routers learn their endpoints with the VPC's other routing (networks.py).
        self._push_later(tenant_id, (), vpc_ids=(vpc_id,))
