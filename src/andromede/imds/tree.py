"""The metadata tree a guest reads, as EC2 lays it out: pure, built per request from one
instance and its role's credentials.

A directory answers the list of its entries, one per line, sub-directories ending in ``/``
(``public-keys/`` lists ``0=<key name>``, as EC2 does); a leaf answers its value. Entries with
no value (no public address, no key, no profile) are absent, so their paths answer 404 as on
EC2. JSON documents (``iam/info``, credentials, the identity document) use EC2's field names and
timestamp form, which SDKs parse.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from andromede.imds.instances import InstanceMetadata, RoleCredentials

__all__ = ["Directory", "Node", "find", "identity_document", "listing", "metadata_tree"]


@dataclass(frozen=True, slots=True)
class Directory:
    entries: dict[str, Node]
    # How an entry is listed when it differs from its path segment (``0=my-key``).
    labels: dict[str, str] = field(default_factory=dict)


Node = Directory | bytes


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _json(document: Mapping[str, object]) -> bytes:
    return json.dumps(document, indent=2).encode()


def _text(value: str) -> bytes:
    return value.encode()


def _iam(credentials: RoleCredentials) -> Directory:
    updated = _time(credentials.issued_at)
    info = {
        "Code": "Success",
        "LastUpdated": updated,
        "InstanceProfileArn": credentials.instance_profile_arn,
        "InstanceProfileId": credentials.instance_profile_id,
    }
    role = {
        "Code": "Success",
        "LastUpdated": updated,
        "Type": "AWS-HMAC",
        "AccessKeyId": credentials.access_key_id,
        "SecretAccessKey": credentials.secret_access_key,
        "Token": credentials.session_token,
        "Expiration": _time(credentials.expiration),
    }
    return Directory(
        {
            "info": _json(info),
            "security-credentials": Directory({credentials.role_name: _json(role)}),
        }
    )


def _public_keys(instance: InstanceMetadata) -> Directory:
    entries: dict[str, Node] = {}
    labels: dict[str, str] = {}
    for index, key in enumerate(instance.public_keys):
        entries[str(index)] = Directory({"openssh-key": _text(key.openssh_key)})
        labels[str(index)] = f"{index}={key.name}"
    return Directory(entries, labels)


def identity_document(instance: InstanceMetadata) -> bytes:
    return _json(
        {
            "accountId": instance.account_id,
            "architecture": instance.architecture,
            "availabilityZone": instance.availability_zone,
            "billingProducts": None,
            "devpayProductCodes": None,
            "marketplaceProductCodes": None,
            "imageId": instance.image_id,
            "instanceId": instance.instance_id,
            "instanceType": instance.instance_type,
            "kernelId": None,
            "pendingTime": _time(instance.launched_at),
            "privateIp": instance.private_ip,
            "ramdiskId": None,
            "region": instance.region,
            "version": "2017-09-30",
        }
    )


def _network(instance: InstanceMetadata) -> Directory:
    """``network/interfaces/macs/<mac>/``: each interface by its MAC, as EC2 lists them."""
    macs: dict[str, Node] = {}
    for interface in instance.interfaces:
        ipv6: dict[str, Node] = {}
        if interface.ipv6s:
            ipv6["ipv6s"] = _text("\n".join(interface.ipv6s))
        if interface.subnet_ipv6_cidrs:
            ipv6["subnet-ipv6-cidr-blocks"] = _text("\n".join(interface.subnet_ipv6_cidrs))
        if interface.vpc_ipv6_cidrs:
            ipv6["vpc-ipv6-cidr-blocks"] = _text("\n".join(interface.vpc_ipv6_cidrs))
        fields: dict[str, Node] = {
            **ipv6,
            "device-number": _text(str(interface.device_number)),
            "interface-id": _text(interface.interface_id),
            "local-hostname": _text(interface.local_hostname),
            "local-ipv4s": _text("\n".join(interface.local_ipv4s)),
            "mac": _text(interface.mac),
            "owner-id": _text(interface.owner_id),
            "security-group-ids": _text("\n".join(interface.security_group_ids)),
            "subnet-id": _text(interface.subnet_id),
            "subnet-ipv4-cidr-block": _text(interface.subnet_cidr),
            "vpc-id": _text(interface.vpc_id),
            "vpc-ipv4-cidr-block": _text(interface.vpc_cidr),
            "vpc-ipv4-cidr-blocks": _text(interface.vpc_cidr),
        }
        macs[interface.mac] = Directory(dict(sorted(fields.items())))
    return Directory({"interfaces": Directory({"macs": Directory(macs)})})


def metadata_tree(instance: InstanceMetadata, credentials: RoleCredentials | None) -> Directory:
    """The whole tree from ``/`` for ``instance``; ``iam/`` only with ``credentials``."""
    meta: dict[str, Node] = {
        "ami-id": _text(instance.image_id),
        "hostname": _text(instance.local_hostname),
        "instance-id": _text(instance.instance_id),
        "instance-type": _text(instance.instance_type),
        "local-hostname": _text(instance.local_hostname),
        "local-ipv4": _text(instance.private_ip),
        "mac": _text(instance.mac),
        "placement": Directory(
            {
                "availability-zone": _text(instance.availability_zone),
                "region": _text(instance.region),
            }
        ),
    }
    if credentials is not None:
        meta["iam"] = _iam(credentials)
    if instance.public_hostname is not None:
        meta["public-hostname"] = _text(instance.public_hostname)
    if instance.public_ip is not None:
        meta["public-ipv4"] = _text(instance.public_ip)
    if instance.public_keys:
        meta["public-keys"] = _public_keys(instance)
    if instance.interfaces:
        meta["network"] = _network(instance)
        # EC2's ``ipv6``: the primary interface's first IPv6 address (decision 0217).
        if instance.interfaces[0].ipv6s:
            meta["ipv6"] = _text(instance.interfaces[0].ipv6s[0])
    if instance.spot_action is not None:
        # EC2's interruption notice (decision 0202); termination-time is its older form,
        # given for a termination only.
        action, moment = instance.spot_action
        spot: dict[str, Node] = {
            "instance-action": json.dumps({"action": action, "time": _time(moment)}).encode()
        }
        if action == "terminate":
            spot["termination-time"] = _text(_time(moment))
        meta["spot"] = Directory(spot)
    if instance.tags is not None:
        # EC2 lists the keys, each a leaf holding its value; a key holding "/" could not be
        # reached as a path (EC2 refuses to show tags while one exists), so it is left out.
        shown: dict[str, Node] = {k: _text(v) for k, v in instance.tags if "/" not in k}
        meta["tags"] = Directory({"instance": Directory(shown)})
    latest: dict[str, Node] = {
        "dynamic": Directory(
            {"instance-identity": Directory({"document": identity_document(instance)})}
        ),
        "meta-data": Directory(dict(sorted(meta.items()))),
    }
    if instance.user_data is not None:
        latest["user-data"] = instance.user_data
    return Directory({"latest": Directory(latest)})


def find(root: Directory, path: str) -> Node | None:
    """The node at ``path``, or None. A final slash changes nothing, on a leaf too: EC2 answers
    ``placement/availability-zone/`` with the zone, and botocore's region lookup asks that."""
    node: Node = root
    segments = path.strip("/").split("/") if path.strip("/") else []
    for segment in segments:
        if not isinstance(node, Directory) or segment not in node.entries:
            return None
        node = node.entries[segment]
    return node


def listing(directory: Directory) -> bytes:
    # A labelled entry is listed as its label alone (EC2 lists ``0=my-key``, no slash).
    lines = [
        directory.labels.get(name) or name + ("/" if isinstance(node, Directory) else "")
        for name, node in directory.entries.items()
    ]
    return "\n".join(lines).encode()
