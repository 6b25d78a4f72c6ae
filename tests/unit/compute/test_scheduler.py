"""Placement, pure: free room, spreading, and storage domains (where a snapshot can be opened)."""

from __future__ import annotations

from andromede.compute.driver import Accelerator, HostCapacity
from andromede.compute.scheduler import (
    free_room,
    in_storage_domain,
    place,
    storage_domain_of,
    volume_host,
)


def host(name: str, domain: str = "", memory_mib: int = 4096) -> HostCapacity:
    return HostCapacity(name, 8, memory_mib, Accelerator.TCG, storage_domain=domain)


def test_a_host_that_names_no_domain_keeps_its_volumes_on_its_own_disk() -> None:
    assert storage_domain_of(host("a")) == "a"
    assert storage_domain_of(host("a", "rbd:volumes")) == "rbd:volumes"


def test_file_hosts_each_have_their_own_domain_and_rbd_hosts_share_their_pool() -> None:
    hosts = [host("a", "a"), host("b", "b"), host("c", "rbd:volumes"), host("d", "rbd:volumes")]
    assert [h.host for h in in_storage_domain(hosts, "a")] == ["a"]
    assert [h.host for h in in_storage_domain(hosts, "rbd:volumes")] == ["c", "d"]
    assert in_storage_domain(hosts, "rbd:other") == []
    assert in_storage_domain(hosts, None) == hosts


def test_a_volume_from_a_snapshot_goes_to_its_host_or_another_of_its_domain() -> None:
    hosts = [host("b", "rbd:volumes"), host("a", "rbd:volumes"), host("c", "c")]
    assert volume_host(hosts, "rbd:volumes", preferred="b") == "b"
    # The snapshot's host is gone (or not driven here): any host of the pool opens it.
    assert volume_host(hosts, "rbd:volumes", preferred="x") == "a"
    assert volume_host(hosts, "rbd:volumes") == "a"
    # A file snapshot opens only on its own host; when that host is away, nowhere.
    assert volume_host(hosts, "c", preferred="c") == "c"
    assert volume_host(hosts, "x", preferred="x") is None
    # The preferred host outside the domain is not taken.
    assert volume_host(hosts, "c", preferred="a") == "c"


def test_placement_within_a_domain_uses_only_its_hosts() -> None:
    hosts = [host("a", "a", memory_mib=1024), host("b", "b", memory_mib=8192)]
    assert place(free_room(hosts, []), 1, 512, 2) == ["b", "b"]
    # An image registered from a snapshot on a: its instances go to a, however roomy b is.
    assert place(free_room(in_storage_domain(hosts, "a"), []), 1, 512, 3) == ["a", "a"]
