"""Placement, pure: which hosts take new instances, by free vCPU and memory.

A host's free room is its capacity minus what the instances placed on it hold (pending,
running, stopping and shutting-down instances; a stopped one holds only its disks). Instances
of one request are spread: each goes to the host with the most free memory that fits it, so a
large request fills hosts evenly rather than one after the other.

Storage domains: a snapshot lives where its volume's host keeps volumes — that host's own disk
(file volumes) or a Ceph pool every host of the pool opens (RBD). A volume, or an instance whose
image was registered from a snapshot, made from a snapshot must go to a host of the snapshot's
domain (:func:`in_storage_domain`, :func:`volume_host`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from andromede.compute.driver import HostCapacity
from andromede.compute.model import ON_HOST, Instance

__all__ = [
    "Room",
    "free_room",
    "in_storage_domain",
    "place",
    "storage_domain_of",
    "volume_host",
]


@dataclass(slots=True)
class Room:
    host: str
    vcpus: int
    memory_mib: int


def free_room(capacities: Iterable[HostCapacity], instances: Iterable[Instance]) -> list[Room]:
    rooms = {c.host: Room(c.host, c.vcpus, c.memory_mib) for c in capacities}
    for instance in instances:
        room = rooms.get(instance.host)
        if room is not None and instance.state in ON_HOST:
            room.vcpus -= instance.vcpus
            room.memory_mib -= instance.memory_mib
    return list(rooms.values())


def storage_domain_of(capacity: HostCapacity) -> str:
    """Where the host keeps volumes and snapshots; a host that does not say keeps them on
    its own disk."""
    return capacity.storage_domain or capacity.host


def in_storage_domain(capacities: Iterable[HostCapacity], domain: str | None) -> list[HostCapacity]:
    """The hosts that open volumes and snapshots of ``domain`` (None: every host)."""
    return [c for c in capacities if domain is None or storage_domain_of(c) == domain]


def volume_host(
    capacities: Sequence[HostCapacity], domain: str | None, preferred: str | None = None
) -> str | None:
    """The host to make a volume on: ``preferred`` (the snapshot's own host) when it is in
    ``domain``, else the first host of the domain by name; None when no host is."""
    hosts = sorted(c.host for c in in_storage_domain(capacities, domain))
    if preferred is not None and preferred in hosts:
        return preferred
    return hosts[0] if hosts else None


def place(rooms: Sequence[Room], vcpus: int, memory_mib: int, count: int) -> list[str]:
    """Hosts for up to ``count`` instances of the given size (fewer when room runs out)."""
    chosen: list[str] = []
    for _ in range(count):
        fitting = [r for r in rooms if r.vcpus >= vcpus and r.memory_mib >= memory_mib]
        if not fitting:
            break
        best = max(fitting, key=lambda r: (r.memory_mib, r.vcpus, r.host))
        best.vcpus -= vcpus
        best.memory_mib -= memory_mib
        chosen.append(best.host)
    return chosen
