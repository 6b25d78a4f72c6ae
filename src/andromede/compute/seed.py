"""The cloud-init NoCloud seed of an instance: meta-data and user-data.

cloud-init reads YAML, and JSON is YAML: the documents are written with ``json`` so no value
(a tenant's key comment, a hostname) can inject YAML structure.

There is no network-config: cloud-init's fallback (DHCP on the instance's one interface,
matched by its MAC) is what the tenant network and user-mode networking answer, and every
renderer writes it correctly. A version 2 document matching ``e*`` by name is understood by
netplan only: Debian 12's networkd and ifupdown renderers turn the entry's key into an
interface name (``Name=all``), so no interface came up and systemd-networkd-wait-online held
the boot for its two-minute timeout.
"""

from __future__ import annotations

import json

from andromede.compute.driver import SeedSpec
from andromede.compute.model import Instance

__all__ = ["build_seed"]


def build_seed(instance: Instance, public_keys: list[str]) -> SeedSpec:
    meta_data = {
        "instance-id": instance.instance_id,
        "local-hostname": instance.instance_id,
        "public-keys": public_keys,
        "availability-zone": instance.availability_zone,
        "instance-type": instance.instance_type,
        "ami-id": instance.image_id,
    }
    return SeedSpec(
        meta_data=json.dumps(meta_data, indent=1) + "\n",
        user_data=instance.user_data,
        network_config="",  # none: cloud-init's fallback (see the module's docstring)
    )
