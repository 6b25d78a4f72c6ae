"""The NoCloud seed volume: a ``cidata`` ISO 9660 image with meta-data, user-data and, when
the seed has one, network-config (without it cloud-init falls back to DHCP), built in memory
with pycdlib (Rock Ridge and Joliet names, which cloud-init and Linux read), then stored
LUKS-encrypted with the instance's root-volume key. The plaintext never touches a persistent
disk (see :mod:`andromede.hypervisor.images`); destroying the root key shreds the seed, which
carries the user data and the public keys, with the disk.
"""

from __future__ import annotations

import io

import pycdlib

from andromede.compute.driver import SeedSpec

__all__ = ["SEED_LABEL", "build_seed_iso"]

SEED_LABEL = "cidata"
# (name in the guest, ISO 9660 level-1 name)
_FILES = (
    ("meta-data", "METADATA.;1"),
    ("user-data", "USERDATA.;1"),
    ("network-config", "NETWORK.;1"),
)


def build_seed_iso(seed: SeedSpec) -> bytes:
    contents = {
        "meta-data": seed.meta_data.encode(),
        "user-data": seed.user_data,
        "network-config": seed.network_config.encode(),
    }
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident=SEED_LABEL)
    for name, iso_name in _FILES:
        data = contents[name]
        if name == "network-config" and not data:
            continue  # no file, rather than an empty one: "none" to every cloud-init version
        iso.add_fp(
            io.BytesIO(data), len(data), f"/{iso_name}", rr_name=name, joliet_path=f"/{name}"
        )
    output = io.BytesIO()
    iso.write_fp(output)
    iso.close()
    return output.getvalue()
