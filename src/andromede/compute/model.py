"""The compute domain, pure: the instance lifecycle, instance types, images, key pairs,
volumes, snapshots and import tasks; it re-exports the ids and tags of
:mod:`andromede.compute.resource_ids` and the security groups of
:mod:`andromede.compute.security_group_model`, so that a record's users import one module.

Records are frozen dataclasses; a change is a new record (``dataclasses.replace``) whose
``revision`` the store checks, so two gateways changing one instance cannot both win. The
instance lifecycle is EC2's, as an explicit transition table (:data:`TRANSITIONS`): an event
not in the table for the current state is refused with :class:`IncorrectInstanceState`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Final

from andromede.compute.errors import IncorrectInstanceState
from andromede.compute.image_job import ImageCreation, ImageStateReason
from andromede.compute.resource_ids import (
    CLIENT_TOKEN_MAX,
    FORMAT_VERSION,
    ID_PREFIXES,
    MAX_TAGS,
    Tags,
    check_client_token,
    check_id,
    check_tags,
    merge_tags,
    new_id,
    remove_tags,
    request_digest,
    token_id,
)
from andromede.compute.security_group_model import (
    ALLOW_ALL_EGRESS,
    Rule,
    SecurityGroup,
    parse_rule,
    stable_rule_id,
)

__all__ = [
    "ABANDONED_AFTER",
    "ALLOW_ALL_EGRESS",
    "CLIENT_TOKEN_MAX",
    "FORMAT_VERSION",
    "ID_PREFIXES",
    "MAX_TAGS",
    "MAX_VOLUME_GIB",
    "MODIFICATION_TRANSITIONS",
    "TRANSITIONS",
    "Attachment",
    "CpuOptions",
    "ElasticIpRef",
    "Event",
    "Image",
    "ImageBlockDevice",
    "ImageState",
    "ImportTask",
    "Instance",
    "InstanceProfileRef",
    "InstanceState",
    "InstanceType",
    "KeyPair",
    "MetadataOptions",
    "Rule",
    "SecurityGroup",
    "Snapshot",
    "SpotInterruption",
    "SpotOptions",
    "Tags",
    "Volume",
    "VolumeModification",
    "VolumeModificationState",
    "VolumeState",
    "check_client_token",
    "check_id",
    "check_tags",
    "merge_tags",
    "new_id",
    "parse_rule",
    "remove_tags",
    "request_digest",
    "stable_rule_id",
    "token_id",
]

MAX_VOLUME_GIB: Final = 16384  # EC2's gp3 limit

# -- instances ---------------------------------------------------------------------------------


class InstanceState(enum.StrEnum):
    """EC2's instance states; :attr:`code` is the low byte of ``instanceState.code``."""

    PENDING = "pending"
    RUNNING = "running"
    SHUTTING_DOWN = "shutting-down"
    TERMINATED = "terminated"
    STOPPING = "stopping"
    STOPPED = "stopped"

    @property
    def label(self) -> str:
        return self.value

    @property
    def code(self) -> int:
        return _STATE_CODES[self]


_STATE_CODES: Final = {
    InstanceState.PENDING: 0,
    InstanceState.RUNNING: 16,
    InstanceState.SHUTTING_DOWN: 32,
    InstanceState.TERMINATED: 48,
    InstanceState.STOPPING: 64,
    InstanceState.STOPPED: 80,
}


class Event(enum.Enum):
    """What moves an instance: the tenant's calls and the host's reports."""

    LAUNCHED = "launched"  # the hypervisor started it
    START = "start"
    STOP = "stop"
    STOPPED = "stopped"  # the hypervisor reports it powered off
    REBOOT = "reboot"
    TERMINATE = "terminate"
    TERMINATED = "terminated"  # everything on the host released
    LAUNCH_FAILED = "launch-failed"  # the hypervisor could not start it


_S = InstanceState
# EC2's lifecycle. Terminate is accepted from every live state (AWS accepts it while pending and
# stopping too, and the service needs it to clean up a launch that failed half-way).
TRANSITIONS: Final[dict[tuple[InstanceState, Event], InstanceState]] = {
    (_S.PENDING, Event.LAUNCHED): _S.RUNNING,
    (_S.PENDING, Event.LAUNCH_FAILED): _S.SHUTTING_DOWN,
    (_S.PENDING, Event.TERMINATE): _S.SHUTTING_DOWN,
    (_S.PENDING, Event.STOPPED): _S.STOPPED,  # its QEMU vanished before it came up
    (_S.RUNNING, Event.STOP): _S.STOPPING,
    (_S.RUNNING, Event.REBOOT): _S.RUNNING,
    (_S.RUNNING, Event.TERMINATE): _S.SHUTTING_DOWN,
    (_S.RUNNING, Event.STOPPED): _S.STOPPED,  # the guest powered itself off, or QEMU is gone
    (_S.STOPPING, Event.STOPPED): _S.STOPPED,
    (_S.STOPPING, Event.TERMINATE): _S.SHUTTING_DOWN,
    (_S.STOPPED, Event.START): _S.PENDING,
    (_S.STOPPED, Event.TERMINATE): _S.SHUTTING_DOWN,
    (_S.SHUTTING_DOWN, Event.TERMINATED): _S.TERMINATED,
}

# States whose instance holds capacity on its host (a stopped instance holds only its disks).
ON_HOST: Final = frozenset({_S.PENDING, _S.RUNNING, _S.STOPPING, _S.SHUTTING_DOWN})


def next_state(state: InstanceState, event: Event, instance_id: str = "") -> InstanceState:
    """The state ``event`` leads to from ``state``; IncorrectInstanceState if it cannot."""
    target = TRANSITIONS.get((state, event))
    if target is None:
        raise IncorrectInstanceState(instance_id, state.label, event.value)
    return target


@dataclass(frozen=True, slots=True)
class InstanceType:
    """What an instance type gives a guest."""

    name: str
    vcpus: int
    memory_mib: int
    root_disk_gib: int


@dataclass(frozen=True, slots=True)
class CpuOptions:
    """An instance's CPU topology (decision 0214): its active cores and threads per core, as
    EC2's ``CpuOptions``; its guest sees ``core_count`` times ``threads_per_core`` vCPUs."""

    core_count: int
    threads_per_core: int

    @property
    def vcpus(self) -> int:
        return self.core_count * self.threads_per_core


@dataclass(frozen=True, slots=True)
class InstanceProfileRef:
    """The IAM instance profile associated with an instance (checked then, with
    ``iam:PassRole`` on its role): what DescribeInstances shows and the metadata service uses.
    ``association_id`` names the association (``iip-assoc-…``), as EC2 does."""

    arn: str
    profile_id: str
    association_id: str = ""


@dataclass(frozen=True, slots=True)
class MetadataOptions:
    """EC2's instance metadata options (decision 0145). The defaults are the service every
    instance had before: IMDSv2 only, answering, without tags. ``hop_limit`` is the token
    answer's IP TTL at the guest (the metadata listener sets it: decision 0148)."""

    http_tokens: str = "required"  # or "optional": IMDSv1 reads without a token too
    hop_limit: int = 1
    http_endpoint: str = "enabled"  # "disabled": the metadata service answers it nothing
    instance_metadata_tags: str = "disabled"  # "enabled": tags/instance/ in the tree
    http_protocol_ipv6: str = "disabled"  # the tenant networks are IPv4 only


@dataclass(frozen=True, slots=True)
class ElasticIpRef:
    """The Elastic IP address associated with an instance (decision 0125), copied from the
    address's record in the same transaction that associates it: what DescribeInstances
    shows as the public address, what the host is told to route to the instance, and what
    makes an instance without a public address of its own reach beyond its VPC."""

    allocation_id: str
    association_id: str
    public_ip: str


@dataclass(frozen=True, slots=True)
class SpotOptions:
    """What a Spot request asks: its maximum hourly price (None: the on-demand price), its
    type, what an interruption does, and until when it may be fulfilled (persistent)."""

    max_price: Decimal | None = None
    request_type: str = "one-time"
    interruption_behavior: str = "terminate"
    valid_until: datetime | None = None
    # RequestSpotInstances' ValidFrom: not fulfilled before it (None: at once).
    valid_from: datetime | None = None


@dataclass(frozen=True, slots=True)
class SpotInterruption:
    """A Spot Instance's interruption under way (decision 0202): what will be done
    (``terminate`` or ``stop``) at ``time``, and why (``price`` or ``capacity``) — the
    metadata service's ``spot/instance-action``."""

    action: str
    time: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class Instance:
    instance_id: str
    tenant_id: str
    reservation_id: str
    image_id: str
    instance_type: str
    state: InstanceState
    host: str
    launch_time: datetime
    root_volume_id: str
    availability_zone: str
    # What the instance holds on its host, fixed at launch (the catalogue may change later).
    vcpus: int
    memory_mib: int
    launch_index: int = 0
    key_name: str | None = None
    security_group_ids: tuple[str, ...] = ()
    # As the tenant gave it, base64-decoded; at most the max_user_data_size setting.
    user_data: bytes = field(default=b"", repr=False)
    state_reason: str = ""  # EC2's stateTransitionReason / StateReason message
    # The latest StartInstances (None: never started again since its launch) and the last
    # time it left the running state (None: never did), recorded with the state change
    # itself, so that metering need not have seen the change (decision 0114).
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    terminated_at: datetime | None = None  # the record is purged a while after (EC2: ~1 hour)
    tags: Tags = ()
    # Its place on its tenant's network, fixed at launch (kept across stop/start, as on EC2):
    # the default VPC and subnet, its interface (eni-…), private address and MAC.
    vpc_id: str | None = None
    subnet_id: str | None = None
    network_interface_id: str | None = None
    private_ip: str | None = None
    mac: str | None = None
    # How its host wired it, recorded when it starts and cleared when it stops: the mode
    # ("bridge" or "user"), the host-only public address, the host ports reaching guest ports
    # as (host address, host port, guest port).
    network_mode: str | None = None
    public_ip: str | None = None
    forwards: tuple[tuple[str, int, int], ...] = ()
    # Whether its host gives it a public address, fixed at launch (its subnet's
    # MapPublicIpOnLaunch, or the launch's AssociatePublicIpAddress; records from before are
    # True, as every instance had one); and, recorded with the wiring, the host-facing address
    # its connections to its host come from (the metadata service knows it by it) — its public
    # address when it has one.
    associate_public_ip: bool = True
    host_facing_ip: str | None = None
    iam_instance_profile: InstanceProfileRef | None = None
    # RunInstances' ClientToken, and a digest of the request it came with: the same token
    # again returns this reservation, with other parameters IdempotentParameterMismatch.
    client_token: str | None = None
    request_digest: str = ""
    # The launch template and version it was launched from (decision 0092), shown as EC2's
    # ``aws:ec2launchtemplate:id`` and ``:version`` tags, which no tenant call changes.
    launch_template_id: str | None = None
    launch_template_version: int | None = None
    # The Auto Scaling group that launched it (decision 0156), shown as AWS's
    # ``aws:autoscaling:groupName`` tag, which no tenant call changes.
    autoscaling_group: str | None = None
    # Its Elastic IP, if one is associated (kept across stop/start, as on EC2; let go when
    # it is terminated).
    elastic_ip: ElasticIpRef | None = None
    # Termination and stop protection, what a guest's own power-off does ("stop" or
    # "terminate") and its metadata options (decision 0145); records from before take these
    # defaults, which were what every instance had.
    disable_api_termination: bool = False
    disable_api_stop: bool = False
    shutdown_behavior: str = "stop"
    metadata_options: MetadataOptions = field(default_factory=MetadataOptions)
    # Detailed monitoring (decision 0178): its AWS/EC2 metrics every minute rather than every
    # five (RunInstances' Monitoring.Enabled, MonitorInstances); records from before: basic.
    monitoring: bool = False
    # Spot (decision 0202): "spot" for a Spot Instance (None: on-demand), the Spot Instance
    # request it fulfils, and the interruption under way during its notice (None: none).
    lifecycle: str | None = None
    spot_request_id: str | None = None
    spot_interruption: SpotInterruption | None = None
    # Its CPU topology (decision 0214): the launch's CpuOptions or ModifyInstanceCpuOptions';
    # None: its type's default (compute.cpu_options.instance_cpu), as every record before.
    cpu_options: CpuOptions | None = None
    format_version: int = FORMAT_VERSION
    revision: int = 0

    @property
    def resource_id(self) -> str:
        return self.instance_id

    @property
    def has_public_address(self) -> bool:
        """Whether something outside its VPC may reach it, routes permitting: a public address
        of its own (fixed at launch) or an Elastic IP."""
        return self.associate_public_ip or self.elastic_ip is not None

    @property
    def last_launch_time(self) -> datetime:
        """EC2's ``LaunchTime``: its latest start (the first launch is the primary network
        interface's attach time, as on EC2)."""
        return self.started_at or self.launch_time

    @property
    def platform_tags(self) -> Tags:
        """The ``aws:`` tags EC2 puts on an instance launched from a template (and Auto Scaling
        on one a group launched)."""
        group: Tags = (
            ()
            if self.autoscaling_group is None
            else (("aws:autoscaling:groupName", self.autoscaling_group),)
        )
        if self.launch_template_id is None:
            return group
        return (
            *group,
            ("aws:ec2launchtemplate:id", self.launch_template_id),
            ("aws:ec2launchtemplate:version", str(self.launch_template_version)),
        )


# -- images ------------------------------------------------------------------------------------


class ImageState(enum.StrEnum):
    PENDING = "pending"
    AVAILABLE = "available"
    FAILED = "failed"
    DEREGISTERED = "deregistered"


@dataclass(frozen=True, slots=True)
class ImageBlockDevice:
    """A further (non-root) block device of an image (CreateImage): a copy of ``snapshot_id``
    at launch, or a blank volume of ``size_gib`` when it has none."""

    device: str
    size_gib: int
    snapshot_id: str | None = None
    delete_on_termination: bool = True


@dataclass(frozen=True, slots=True)
class Image:
    """A machine image: a qcow2 or raw file under the data dir, or a snapshot (RegisterImage).
    ``owner_id`` None is a public image of the operator, visible to every tenant."""

    image_id: str
    name: str
    owner_id: str | None
    state: ImageState
    disk_format: str  # "qcow2" or "raw"
    size_bytes: int  # of the file
    virtual_size_gib: int  # the disk the guest sees, rounded up
    sha256: str
    created_at: datetime
    description: str = ""
    path: str = ""  # the file, when the image is one
    snapshot_id: str | None = None  # the snapshot, when registered from one
    root_device_name: str = "/dev/xvda"
    architecture: str = "x86_64"
    tags: Tags = ()
    # CopyImage's ClientToken and a digest of its request, as for instances and volumes. In
    # the image's JSON document: records written before read as made without one.
    client_token: str | None = None
    request_digest: str = ""
    # CreateImage (decision 0147): whether the root volume goes with the instance, and the
    # further devices. In the image's JSON document: older records read as the root alone.
    root_delete_on_termination: bool = True
    block_devices: tuple[ImageBlockDevice, ...] = ()
    # The accounts (tenant ids) the owner shares the image with (ModifyImageAttribute).
    launch_permissions: tuple[str, ...] = ()
    # CreateImage's background work while pending, and why it failed (decision 0148).
    creation: ImageCreation | None = None
    state_reason: ImageStateReason | None = None
    format_version: int = FORMAT_VERSION
    revision: int = 0

    @property
    def resource_id(self) -> str:
        return self.image_id

    @property
    def tenant_id(self) -> str | None:
        return self.owner_id

    @property
    def public(self) -> bool:
        return self.owner_id is None

    def visible_to(self, tenant_id: str) -> bool:
        return (
            self.owner_id is None
            or self.owner_id == tenant_id
            or tenant_id in self.launch_permissions
        )

    @property
    def snapshot_ids(self) -> tuple[str, ...]:
        """Every snapshot the image reads: its root's, then its further devices'."""
        further = tuple(d.snapshot_id for d in self.block_devices if d.snapshot_id is not None)
        return ((self.snapshot_id,) if self.snapshot_id else ()) + further


@dataclass(frozen=True, slots=True)
class ImportTask:
    """An ImportImage task: an object of the tenant's bucket becoming a private image."""

    task_id: str
    tenant_id: str
    bucket: str
    key: str
    status: str  # "active", "completed", "deleted"
    status_message: str
    created_at: datetime
    description: str = ""
    image_id: str | None = None
    disk_format: str = ""
    size_bytes: int = 0
    tags: Tags = ()
    format_version: int = FORMAT_VERSION
    revision: int = 0

    @property
    def resource_id(self) -> str:
        return self.task_id


# -- key pairs ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyPair:
    key_pair_id: str
    tenant_id: str
    name: str
    key_type: str  # "rsa" or "ed25519"
    fingerprint: str
    public_key: str  # OpenSSH form, handed to the guest
    created_at: datetime
    tags: Tags = ()
    format_version: int = FORMAT_VERSION
    revision: int = 0

    @property
    def resource_id(self) -> str:
        return self.key_pair_id


# -- volumes and snapshots ---------------------------------------------------------------------


class VolumeState(enum.StrEnum):
    CREATING = "creating"
    AVAILABLE = "available"
    IN_USE = "in-use"
    DELETING = "deleting"
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class Attachment:
    instance_id: str
    device: str
    attached_at: datetime
    delete_on_termination: bool = False


class VolumeModificationState(enum.StrEnum):
    """EC2's states of a volume modification. ``optimizing`` is AWS's phase where the volume
    already has its new size while EBS moves its data; nothing moves here, so a growth goes from
    ``modifying`` to ``completed`` (or ``failed``) directly (docs/decisions/0088)."""

    MODIFYING = "modifying"
    OPTIMIZING = "optimizing"
    COMPLETED = "completed"
    FAILED = "failed"


_M = VolumeModificationState
# What may follow what. A new modification may start once the last one is completed or failed
# (:attr:`VolumeModification.settled`); a modifying one is finished by its own call only.
MODIFICATION_TRANSITIONS: Final = frozenset(
    {
        (_M.MODIFYING, _M.OPTIMIZING),
        (_M.MODIFYING, _M.COMPLETED),
        (_M.MODIFYING, _M.FAILED),
        (_M.OPTIMIZING, _M.COMPLETED),
        (_M.OPTIMIZING, _M.FAILED),
    }
)


# A modification still "modifying" this long after it started was abandoned: the gateway that ran
# it stopped before writing its outcome (the host's calls time out long before). It is reported
# failed, and another may start; growing is idempotent, so that one finishes the work.
ABANDONED_AFTER: Final = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class VolumeModification:
    """The last ModifyVolume of a volume, as DescribeVolumesModifications reports it (EC2
    reports only the most recent one per volume). Only the size changes here: the type stays
    gp3 and multi-attach stays off, which is what the ``original``/``target`` pairs say."""

    state: VolumeModificationState
    original_size_gib: int
    target_size_gib: int
    started_at: datetime
    ended_at: datetime | None = None
    status_message: str = ""
    volume_type: str = "gp3"

    @property
    def settled(self) -> bool:
        """Whether another modification may start (EC2: the last one completed; here a failed
        one too, since it left the volume as it was)."""
        return self.state in (_M.COMPLETED, _M.FAILED)

    @property
    def progress(self) -> int:
        return 100 if self.state is _M.COMPLETED else 0

    def seen_at(self, now: datetime) -> VolumeModification:
        """This modification as it stands at ``now``: failed if it was abandoned."""
        if self.settled or now - self.started_at < ABANDONED_AFTER:
            return self
        return self.moved_to(_M.FAILED, now, "The modification was interrupted; try again")

    def moved_to(
        self, state: VolumeModificationState, at: datetime, message: str = ""
    ) -> VolumeModification:
        """This modification in ``state``; ValueError for a move the table does not allow."""
        if (self.state, state) not in MODIFICATION_TRANSITIONS:
            raise ValueError(f"a volume modification cannot go from {self.state} to {state}")
        settled = state in (_M.COMPLETED, _M.FAILED)
        return replace(self, state=state, ended_at=at if settled else None, status_message=message)


@dataclass(frozen=True, slots=True)
class Volume:
    """A block volume, encrypted at rest; its data key is stored wrapped (``wrapped_key``)
    under the tenant's key, or under the customer-managed KMS key ``kms_key_arn`` bound to the
    volume's id, and unwrapped only to hand it to the hypervisor."""

    volume_id: str
    tenant_id: str
    size_gib: int
    availability_zone: str
    state: VolumeState
    host: str
    created_at: datetime
    wrapped_key: bytes = field(repr=False)
    snapshot_id: str | None = None
    image_id: str | None = None  # a root volume's image (its backing file)
    attachment: Attachment | None = None
    tags: Tags = ()
    kms_key_arn: str | None = None
    # CreateVolume's ClientToken and a digest of its request, as for instances.
    client_token: str | None = None
    request_digest: str = ""
    # The last ModifyVolume (None: never modified). Kept in the volume's JSON document: records
    # written before it read as never modified, so no migration.
    modification: VolumeModification | None = None
    format_version: int = FORMAT_VERSION
    revision: int = 0

    @property
    def resource_id(self) -> str:
        return self.volume_id


@dataclass(frozen=True, slots=True)
class Snapshot:
    snapshot_id: str
    tenant_id: str
    volume_id: str
    volume_size_gib: int
    state: str  # "pending", "completed", "error"
    host: str
    started_at: datetime
    wrapped_key: bytes = field(repr=False)
    description: str = ""
    tags: Tags = ()
    # The hosts that can open it (HostCapacity.storage_domain of ``host`` when it was taken);
    # empty in records older than storage domains: ``host`` alone.
    storage_domain: str = ""
    # The customer-managed KMS key its data key is wrapped under (its volume's), bound to the
    # snapshot's id; None: the tenant's key.
    kms_key_arn: str | None = None
    format_version: int = FORMAT_VERSION
    revision: int = 0

    @property
    def resource_id(self) -> str:
        return self.snapshot_id
