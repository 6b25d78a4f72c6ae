"""What RunInstances is asked, as the EC2 API hands it to the compute service: the request, its
further volumes, and how an image's own devices and root mapping fold into it; its digest for
client tokens (a retry with other parameters is ``IdempotentParameterMismatch``)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

from andromede.compute.cpu_options import CpuOptionsRequest
from andromede.compute.errors import (
    InvalidBlockDeviceMapping,
    InvalidParameterValue,
    MissingParameter,
)
from andromede.compute.model import (
    MAX_VOLUME_GIB,
    Image,
    InstanceProfileRef,
    MetadataOptions,
    Snapshot,
    SpotOptions,
    Tags,
    request_digest,
)

__all__ = [
    "ROOT_DEVICE",
    "LaunchVolume",
    "RunRequest",
    "image_devices_taken",
    "launch_volume_size",
    "root_mapping_taken",
    "run_request_digest",
]

ROOT_DEVICE = "/dev/xvda"


@dataclass(frozen=True, slots=True)
class LaunchVolume:
    """A further volume a RunInstances block device mapping asks for: made when the instance
    launches (blank, or a copy of ``snapshot_id``) and attached at ``device``."""

    device: str
    size_gib: int | None = None
    snapshot_id: str | None = None
    kms_key_id: str | None = None
    delete_on_termination: bool = True  # EC2's default for a mapping's volume


@dataclass(frozen=True, slots=True)
class RunRequest:
    image_id: str
    instance_type: str
    min_count: int = 1
    max_count: int = 1
    key_name: str | None = None
    user_data_base64: str | None = None
    security_group_ids: tuple[str, ...] = ()
    instance_tags: Tags = ()
    volume_tags: Tags = ()
    availability_zone: str | None = None
    subnet_id: str | None = None
    # Resolved by the caller, which checked iam:PassRole on its role (compute knows no IAM).
    iam_instance_profile: InstanceProfileRef | None = None
    # The root volume, as a block device mapping of the image's root device asks: its size
    # (at least the image's) and the KMS key its data key is wrapped under, which ``caller``
    # (the wire layer's principal) must be allowed to use.
    root_device_name: str | None = None
    root_volume_size_gib: int | None = None
    root_kms_key_id: str | None = None
    # Whether the root volume goes with the instance (EC2's default) or stays, "available".
    root_delete_on_termination: bool = True
    data_volumes: tuple[LaunchVolume, ...] = ()
    caller: object = None
    # The idempotency token: the same token again, within the account, returns the first
    # reservation instead of launching another (a retry after a lost answer).
    client_token: str | None = None
    # The launch template and version the request's parameters came from, recorded on the
    # instances (decision 0092).
    launch_template_id: str | None = None
    launch_template_version: int | None = None
    # The Auto Scaling group launching it (decision 0156): its ``aws:autoscaling:groupName``.
    autoscaling_group: str | None = None
    # RunInstances' NetworkInterface.1.AssociatePublicIpAddress: whether the instance gets a
    # public address, whatever its subnet's MapPublicIpOnLaunch says; None: as the subnet says.
    associate_public_ip: bool | None = None
    # RunInstances' NetworkInterface.1.NetworkInterfaceId (decision 0161's addendum): an
    # existing interface made the instance's primary, with its subnet, groups and addresses;
    # and whether terminating the instance deletes it (EC2: not unless asked).
    primary_interface_id: str | None = None
    primary_delete_on_termination: bool = False
    # Protection, the guest's power-off and the metadata options (decision 0145).
    disable_api_termination: bool = False
    disable_api_stop: bool = False
    shutdown_behavior: str = "stop"
    metadata_options: MetadataOptions = field(default_factory=MetadataOptions)
    # Detailed monitoring (Monitoring.Enabled, decision 0178).
    monitoring: bool = False
    # A Spot launch (decision 0202): its options (RunInstances' InstanceMarketOptions; None:
    # on-demand), and the Spot Instance request it fulfils (None: RunInstances makes one per
    # instance, with the instances).
    spot: SpotOptions | None = None
    spot_request_id: str | None = None
    # RunInstances' CpuOptions (decision 0214; None: the type's default topology).
    cpu_options: CpuOptionsRequest | None = None
    # RunInstances' Ipv6AddressCount and Ipv6Addresses (decision 0217): the primary
    # interface's IPv6 addresses; None and none: as the subnet's AssignIpv6AddressOnCreation.
    ipv6_address_count: int | None = None
    ipv6_addresses: tuple[str, ...] = ()


def root_mapping_taken(request: RunRequest, image: Image) -> RunRequest:
    """The request with the mapping that names the image's root device (or EC2's usual
    ``/dev/xvda``) taken from its further volumes into its root volume's fields: its size,
    KMS key and DeleteOnTermination. Its snapshot is the image's; another is refused."""
    root_names = (image.root_device_name, ROOT_DEVICE)
    roots = [m for m in request.data_volumes if m.device in root_names]
    if not roots:
        return request
    (root, *others) = roots
    if others or request.root_device_name is not None:
        raise InvalidBlockDeviceMapping(f"The device {root.device} is mapped more than once")
    if root.snapshot_id is not None and root.snapshot_id != image.snapshot_id:
        raise InvalidBlockDeviceMapping(
            f"The root device {root.device} is made from the image, not from another snapshot"
        )
    return replace(
        request,
        root_device_name=root.device,
        root_volume_size_gib=root.size_gib,
        root_kms_key_id=root.kms_key_id,
        root_delete_on_termination=root.delete_on_termination,
        data_volumes=tuple(m for m in request.data_volumes if m is not root),
    )


def image_devices_taken(request: RunRequest, image: Image) -> RunRequest:
    """The request with the image's further devices (CreateImage, decision 0147) among its
    volumes: a mapping of the request naming one of them changes its size, key or
    DeleteOnTermination and keeps its snapshot; the root's DeleteOnTermination is the image's
    unless a mapping says."""
    others = list(request.data_volumes)  # a device mapped twice stays twice: refused later
    from_image: list[LaunchVolume] = []
    for d in image.block_devices:
        asked = next((m for m in others if m.device == d.device), None)
        if asked is None:
            from_image.append(
                LaunchVolume(d.device, d.size_gib, d.snapshot_id, None, d.delete_on_termination)
            )
            continue
        others.remove(asked)
        size = asked.size_gib or d.size_gib
        from_image.append(replace(asked, snapshot_id=d.snapshot_id, size_gib=size))
    return replace(
        request,
        data_volumes=(*from_image, *others),
        root_delete_on_termination=(
            request.root_delete_on_termination
            if request.root_device_name
            else image.root_delete_on_termination
        ),
    )


def launch_volume_size(mapping: LaunchVolume, snapshot: Snapshot | None) -> int:
    """A mapping's volume size: the one asked for, at least its snapshot's; else the
    snapshot's. MissingParameter without either, as CreateVolume."""
    size = mapping.size_gib
    if size is None:
        if snapshot is None:
            raise MissingParameter(
                f"The block device mapping of {mapping.device[:32]} must contain the parameter "
                "size or snapshotId"
            )
        size = snapshot.volume_size_gib
    if not 1 <= size <= MAX_VOLUME_GIB or (snapshot and size < snapshot.volume_size_gib):
        raise InvalidParameterValue(f"Invalid volume size: {size}")
    return size


def run_request_digest(request: RunRequest) -> str:
    """What a RunInstances request asked for; the caller is left out (any principal of the
    account may retry)."""
    return request_digest(
        {
            f.name: getattr(request, f.name)
            for f in fields(request)
            if f.name not in ("caller", "client_token")
            # Left out when not asked, so a token's digest from before the field stays valid.
            and getattr(request, f.name) != _DIGEST_DEFAULTS.get(f.name, _ASKED)
        }
    )


_ASKED = object()  # no default: always in the digest
_DIGEST_DEFAULTS: dict[str, object] = {
    "associate_public_ip": None,
    "primary_interface_id": None,
    "primary_delete_on_termination": False,
    "disable_api_termination": False,
    "disable_api_stop": False,
    "shutdown_behavior": "stop",
    "metadata_options": MetadataOptions(),
    "spot": None,
    "spot_request_id": None,
    "cpu_options": None,
}
