"""EventBridge's global endpoints (decision 0355): their service over the metadata database,
each declared Region's EventBridge behind it, and the failover reading Route 53's health
check statuses (decision 0285) from the same database, as Route 53's DNS answers do."""

from __future__ import annotations

from collections.abc import Mapping

from andromede.db.database import Database
from andromede.events.endpoint_store_sql import SqlEndpointStore
from andromede.events.endpoints import EndpointService
from andromede.events.service import EventsService
from andromede.route53.health_lookup import HealthStatuses
from andromede.route53.health_store_sql import SqlHealthCheckStore
from andromede.settings import Settings
from andromede.wiring.pubsub import sns_base_url

__all__ = ["endpoint_service"]


def endpoint_service(
    settings: Settings, db: Database, regions: Mapping[str, EventsService]
) -> EndpointService:
    return EndpointService(
        SqlEndpointStore(db),
        regions,
        max_endpoints=settings.events_max_endpoints,
        health=HealthStatuses(SqlHealthCheckStore(db)),
        # The gateway's URL, as SNS's messages name it (a client's endpoint_url).
        url=sns_base_url(settings),
    )
