"""EventBridge in each Region the deployment declares (decision 0349): the default Region's
service, over its view of the store, and one :class:`RegionalEventsService` for each other
Region, over that Region's view, sharing the deliveries' queue and the metrics sink (each
Region's AWS/Events series apart, decision 0360: ``wiring.events`` gives each its own).

Every declared Region gets its service, not only those this gateway serves: a bus target of
another Region is delivered by whichever gateway claims the delivery, through that Region's
service (its rules, its buses' policies). The API answers only the Regions the gateway
serves (``served_regions``).

Decision 0397: each other Region's archives and replays, an
:class:`~andromede.events.archives.ArchiveService` over that Region's view of the archives'
store (:func:`regional_archives`), its bus's archiver; the replays' runner claims over the
whole store and works each replay through its Region's (:func:`replay_regions`).

Decision 0400: each other Region's connections and API destinations, a
:class:`~andromede.events.connections.ConnectionService` over that Region's view of the
connections' store (:func:`regional_connections`), sharing the default Region's limits and
Secrets Manager port (each connection's secret made in its own Region).
"""

from __future__ import annotations

from andromede.events.archive_store import ArchiveStore
from andromede.events.archives import ArchiveLimits, ArchiveService
from andromede.events.connection_store import ConnectionStore
from andromede.events.connections import ConnectionService
from andromede.events.regional_archive_store import RegionalArchiveStore
from andromede.events.regional_connection_store import RegionalConnectionStore
from andromede.events.regional_service import RegionalEventsService
from andromede.events.regional_store import RegionalEventsStore
from andromede.events.service import EventsLimits, EventsService, TargetDeliveries
from andromede.events.store import EventsStore
from andromede.settings import Settings

__all__ = [
    "home_archive_store",
    "home_connection_store",
    "home_store",
    "regional_archives",
    "regional_connections",
    "regional_services",
    "replay_regions",
]


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


def home_archive_store(settings: Settings, store: ArchiveStore) -> ArchiveStore:
    """The default Region's view of the archives' ``store`` when other Regions are declared
    (their archives and replays left out of its listings), else ``store`` itself."""
    if len(settings.declared_regions) < 2:
        return store
    return RegionalArchiveStore(store, settings.region, settings.region)


def regional_archives(
    home: ArchiveService,
    services: dict[str, EventsService],
    store: ArchiveStore,
    limits: ArchiveLimits,
) -> dict[str, ArchiveService]:
    """Each declared Region's archives by name, ``home`` (the default Region's) among them;
    ``store``: the whole store. Each other Region's service archives through its own."""
    archives = {home.region: home}
    for region, service in services.items():
        if region == home.region:
            continue
        regional = ArchiveService(
            RegionalArchiveStore(store, region, home.region), service, limits=limits
        )
        # An archive's customer key is used through the default Region's KMS scope.
        regional.no_keys = (
            f"KmsKeyIdentifier is not supported in Region {region}: this deployment serves "
            f"archives under customer keys in Region {home.region} only (decision 0397)."
        )
        service.archiver = regional
        archives[region] = regional
    return archives


def replay_regions(
    home: str, archives: dict[str, ArchiveService], services: dict[str, EventsService]
) -> dict[str, tuple[RegionalArchiveStore, EventsService]]:
    """What the replays' runner needs of each Region but ``home``: its view, its service."""
    return {
        region: (archive.store, services[region])
        for region, archive in archives.items()
        if region != home and isinstance(archive.store, RegionalArchiveStore)
    }


def home_connection_store(settings: Settings, store: ConnectionStore) -> ConnectionStore:
    """The default Region's view of the connections' ``store`` when other Regions are
    declared (their connections and API destinations left out of its listings), else
    ``store`` itself."""
    if len(settings.declared_regions) < 2:
        return store
    return RegionalConnectionStore(store, settings.region, settings.region)


def regional_connections(
    settings: Settings, home: ConnectionService, store: ConnectionStore
) -> dict[str, ConnectionService]:
    """Each declared Region's connections by name, ``home`` (the default Region's) among
    them; ``store``: the whole store, each other Region's service over its view of it."""
    connections = {home.region: home}
    for region in sorted({r.name for r in settings.declared_regions} - {home.region}):
        connections[region] = ConnectionService(
            RegionalConnectionStore(store, region, home.region),
            region=region,
            limits=home.limits,
            secrets=home.secrets,
        )
    return connections
