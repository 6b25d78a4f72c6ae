"""DynamoDB global tables' wiring (decision 0265): one DynamoDB service per region this
gateway serves, each over its region's view of the one store (``dynamodb.regional_store``)
with its own meter and streams, handed to the API app so that a call is its SigV4 scope's
region's; the replicas' service over the replication store, its replicator run in the
DynamoDB upkeep.

**Billing.** Each item a replica receives from another region counts its write request units
(one per 1 KB begun) into ``dynamodb.replicated-write-units`` of the account, in the
replica's region, as AWS bills replicated writes (rWRU).
"""

from __future__ import annotations

import math
import os
import socket
import uuid
from collections.abc import Callable
from typing import Final

from andromede.billing.service import BillingService
from andromede.dynamodb.global_tables_service import GlobalTables
from andromede.dynamodb.global_tables_store import ReplicationStore
from andromede.dynamodb.model import TableLimits
from andromede.dynamodb.regional_store import RegionalStore
from andromede.dynamodb.service import DynamoObserver, DynamoService, ItemSealer
from andromede.dynamodb.stream_service import DynamoStreams
from andromede.dynamodbapi.app import DynamoApp
from andromede.dynamodbapi.streams import stream_limits
from andromede.settings import Settings

__all__ = ["REPLICATED_WRITE_UNITS", "global_tables"]

REPLICATED_WRITE_UNITS: Final = "dynamodb.replicated-write-units"


def global_tables(
    app: DynamoApp,
    settings: Settings,
    store: ReplicationStore,
    sealer: ItemSealer,
    limits: TableLimits,
    billing: BillingService | None,
    meter: Callable[[str], DynamoObserver],
    stream_read: Callable[[str], Callable[[str], None]],
) -> GlobalTables | None:
    """Each served region's service put into ``app`` and the replicas' service, or None when
    the deployment declares one region (nothing to replicate to)."""
    declared = frozenset(r.name for r in settings.declared_regions)
    if len(declared) < 2:
        return None
    home = app.service
    # The home region's view too: its listings leave the other regions' tables out.
    shared = home.store
    home.store = RegionalStore(shared, home.region, home.region)
    services = {home.region: home}
    app.regions[home.region] = (home, app.streams)
    for region in sorted(settings.served_region_names - {home.region}):
        regional = DynamoService(
            RegionalStore(shared, region, home.region), sealer, region, limits, meter(region)
        )
        regional.stream_shards = home.stream_shards  # decision 0275
        services[region] = regional
        streams = DynamoStreams(regional, stream_limits(settings), stream_read(region))
        app.regions[region] = (regional, streams)

    def metered(tenant_id: str, region: str, units: float) -> None:
        if billing is not None:
            billing.count(tenant_id, region, REPLICATED_WRITE_UNITS, math.ceil(units))

    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    replicas = GlobalTables(
        services,
        declared,
        store,
        owner,
        lease_ms=int(settings.dynamodb_replication_lease * 1000),
        metered=metered,
    )
    app.global_tables = replicas
    return replicas
