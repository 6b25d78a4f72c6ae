"""The cloud-init NoCloud seed of an instance: meta-data, user-data and network-config.

cloud-init reads YAML, and JSON is YAML: the documents are written with ``json`` so no value
(a tenant's key comment, a hostname) can inject YAML structure.
"""

from __future__ import annotations

import json

from andromede.compute.driver import SeedSpec
from andromede.compute.model import Instance

__all__ = ["build_seed"]

# Every Ethernet interface by DHCP: the tenant network (or user-mode networking) answers.
_NETWORK_CONFIG = {
    "version": 2,
    "ethernets": {"all": {"match": {"name": "e*"}, "dhcp4": True}},
}


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
        network_config=json.dumps(_NETWORK_CONFIG, indent=1) + "\n",
    )
