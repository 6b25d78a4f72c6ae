"""Placement, pure: which hosts take new instances, by free vCPU and memory.

A host's free room is its capacity minus what the instances placed on it hold (pending,
running, stopping and shutting-down instances; a stopped one holds only its disks). Instances
of one request are spread: each goes to the host with the most free memory that fits it, so a
large request fills hosts evenly rather than one after the other.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from andromede.compute.driver import HostCapacity
from andromede.compute.model import ON_HOST, Instance

__all__ = ["Room", "free_room", "place"]


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
