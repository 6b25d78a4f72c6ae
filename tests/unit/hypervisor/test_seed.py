"""The NoCloud seed ISO: the names and contents cloud-init and the test guest read."""

from __future__ import annotations

import io

import pycdlib

from andromede.compute.driver import SeedSpec
from andromede.hypervisor.seed import SEED_LABEL, build_seed_iso


def read_rock_ridge(iso_bytes: bytes, name: str) -> bytes:
    iso = pycdlib.PyCdlib()
    iso.open_fp(io.BytesIO(iso_bytes))
    try:
        out = io.BytesIO()
        iso.get_file_from_iso_fp(out, rr_path=f"/{name}")
        return out.getvalue()
    finally:
        iso.close()


def test_the_seed_holds_the_three_nocloud_files_under_their_own_names() -> None:
    user_data = b"#!/bin/sh\necho \xc3\xa9t\xc3\xa9\n" + bytes(range(256))
    seed = SeedSpec('{"instance-id": "i-1"}\n', user_data, '{"version": 2}\n')
    iso_bytes = build_seed_iso(seed)
    assert read_rock_ridge(iso_bytes, "meta-data") == b'{"instance-id": "i-1"}\n'
    assert read_rock_ridge(iso_bytes, "user-data") == user_data
    assert read_rock_ridge(iso_bytes, "network-config") == b'{"version": 2}\n'
    # cloud-init finds a NoCloud seed by its volume label.
    assert iso_bytes[0x8000 + 40 : 0x8000 + 40 + len(SEED_LABEL)] == SEED_LABEL.encode()


def test_empty_user_data_still_makes_a_file() -> None:
    iso_bytes = build_seed_iso(SeedSpec("instance-id: i-2\n", b"", "version: 2\n"))
    assert read_rock_ridge(iso_bytes, "user-data") == b""


def test_a_seed_without_network_config_has_no_such_file() -> None:
    # cloud-init then falls back to DHCP on the instance's interface (andromede.compute.seed).
    iso_bytes = build_seed_iso(SeedSpec("instance-id: i-3\n", b"", ""))
    iso = pycdlib.PyCdlib()
    iso.open_fp(io.BytesIO(iso_bytes))
    try:
        names = {
            child.rock_ridge.name()
            for child in iso.list_children(rr_path="/")
            if child.rock_ridge is not None
        }
    finally:
        iso.close()
    assert names >= {b"meta-data", b"user-data"}
    assert b"network-config" not in names
