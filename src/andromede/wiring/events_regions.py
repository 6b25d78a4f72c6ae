"""EventBridge in each Region the deployment declares (decision 0349): the default Region's
service, over its view of the store, and one :class:`RegionalEventsService` for each other
Region, over that Region's view, sharing the deliveries' queue and the metrics sink (each
Region's AWS/Events series apart, decision 0360: ``wiring.events`` gives each its own).

Every declared Region gets its service, not only those this gateway serves: a bus target of
another Region is delivered by whichever gateway claims the delivery, through that Region's
service (its rules, its buses' policies). The API answers only the Regions the gateway
serves (``served_regions``).
"""

from __future__ import annotations

from andromede.events.regional_service import RegionalEventsService
from andromede.events.regional_store import RegionalEventsStore
from andromede.events.service import EventsLimits, EventsService, TargetDeliveries
from andromede.events.store import EventsStore
from andromede.settings import Settings

__all__ = ["home_store", "regional_services"]


def home_store(settings: Settings, store: EventsStore) -> EventsStore:
    """The default Region's view of ``store`` when other Regions are declared (their buses
    left out of its listings, its scheduler and its re-seals), else ``store`` itself."""
    if len(settings.declared_regions) < 2:
        return store
    return RegionalEventsStore(store, settings.region, settings.region)


def regional_services(
    settings: Settings,
    home: EventsService,
    store: EventsStore,
    deliveries: TargetDeliveries,
    limits: EventsLimits,
) -> dict[str, EventsService]:
    """Each declared Region's service by name, ``home`` (the default Region's) among them;
    ``store``: the whole store, each Region's service over its view of it."""
    declared = frozenset(r.name for r in settings.declared_regions)
    services: dict[str, EventsService] = {home.region: home}
    for region in sorted(declared - {home.region}):
        regional = RegionalEventsService(
            RegionalEventsStore(store, region, home.region),
            deliveries,
            region=region,
            limits=limits,
        )
        regional.home = home.region
        regional.metrics = home.metrics
        regional.measures = home.measures
        services[region] = regional
    for region, service in services.items():
        service.bus_regions = declared - {region}
    return services
