"""The compute domain, pure: EC2 ids, the instance lifecycle, instance types, images, key pairs,
security groups and their rules, volumes, snapshots, import tasks and tags.

Records are frozen dataclasses; a change is a new record (``dataclasses.replace``) whose
``revision`` the store checks, so two gateways changing one instance cannot both win. The
instance lifecycle is EC2's, as an explicit transition table (:data:`TRANSITIONS`): an event
not in the table for the current state is refused with :class:`IncorrectInstanceState`.
"""

from __future__ import annotations

import enum
import hashlib
import ipaddress
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Final

from andromede.compute.errors import (
    IncorrectInstanceState,
    InvalidId,
    InvalidParameterValue,
)
from andromede.compute.image_job import ImageCreation, ImageStateReason

__all__ = [
    "ABANDONED_AFTER",
    "FORMAT_VERSION",
    "MODIFICATION_TRANSITIONS",
    "TRANSITIONS",
    "Attachment",
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
    "Tags",
    "Volume",
    "VolumeModification",
    "VolumeModificationState",
    "VolumeState",
    "check_id",
    "check_tags",
    "new_id",
    "parse_rule",
    "stable_rule_id",
]

FORMAT_VERSION: Final = 1

# Key/value pairs in the order they were set; keys unique.
Tags = tuple[tuple[str, str], ...]

# EC2 resource id prefixes (AWS's long form: prefix + 17 lowercase hex digits).
ID_PREFIXES: Final = (
    "i", "ami", "vol", "snap", "sg", "key", "r", "import-ami", "vpc", "subnet", "eni", "iip-assoc",
    "lt", "rtb", "acl", "igw", "rtbassoc", "eipalloc", "eipassoc", "aclassoc", "nat",
    "pcx", "dopt", "sgr", "pl",
)  # fmt: skip
_ID = re.compile(rf"^({'|'.join(map(re.escape, ID_PREFIXES))})-[0-9a-f]{{8}}(?:[0-9a-f]{{9}})?$")
MAX_TAGS: Final = 50  # EC2's limit per resource
_TAG_KEY_MAX = 128
_TAG_VALUE_MAX = 256


def new_id(prefix: str) -> str:
    """A fresh EC2 id: ``i-0123456789abcdef0`` (17 hex digits)."""
    if prefix not in ID_PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    return f"{prefix}-{secrets.token_hex(9)[:17]}"


CLIENT_TOKEN_MAX = 64  # EC2's limit on an idempotency token


def check_client_token(token: str) -> str:
    """``token`` if EC2 takes it as a client token (1 to 64 ASCII characters)."""
    if not 1 <= len(token) <= CLIENT_TOKEN_MAX or not token.isascii():
        raise InvalidParameterValue(
            f"The client token must be 1 to {CLIENT_TOKEN_MAX} ASCII characters"
        )
    return token


def request_digest(asked: Mapping[str, object]) -> str:
    """A digest of what an idempotent request asked for: the same client token with another
    digest is IdempotentParameterMismatch."""
    text = json.dumps(dict(asked), sort_keys=True, default=repr, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def token_id(prefix: str, *parts: str) -> str:
    """An id derived from ``parts`` (an account, a client token, an index): the same parts,
    the same id, so that two gateways acting on one idempotent request write the same row and
    the database keeps one. 68 bits of SHA-256, as many as a fresh id has."""
    if prefix not in ID_PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    digest = hashlib.sha256("\0".join((prefix, *parts)).encode()).hexdigest()
    return f"{prefix}-{digest[:17]}"


def check_id(value: str, prefix: str) -> str:
    """``value`` if it is a well-formed id of kind ``prefix``; :class:`InvalidId` otherwise."""
    match = _ID.match(value)
    if match is None or match.group(1) != prefix:
        raise InvalidId(prefix, value)
    return value


def check_tags(tags: Tags) -> Tags:
    """EC2's tag rules: at most 50, keys 1-128 characters not starting with ``aws:``, values up
    to 256."""
    keys = [key for key, _ in tags]
    if len(set(keys)) != len(keys):
        raise InvalidParameterValue("Duplicate tag key")
    if len(tags) > MAX_TAGS:
        raise InvalidParameterValue(f"A resource may have at most {MAX_TAGS} tags")
    for key, value in tags:
        if not 1 <= len(key) <= _TAG_KEY_MAX:
            raise InvalidParameterValue(f"Tag key must be 1 to {_TAG_KEY_MAX} characters")
        if key.lower().startswith("aws:"):
            raise InvalidParameterValue("Tag keys starting with 'aws:' are reserved")
        if len(value) > _TAG_VALUE_MAX:
            raise InvalidParameterValue(f"Tag value must be at most {_TAG_VALUE_MAX} characters")
    return tags


def merge_tags(current: Tags, new: Tags) -> Tags:
    """``current`` with ``new`` set (an existing key takes the new value, in place)."""
    merged = dict(current)
    merged.update(new)
    return check_tags(tuple(merged.items()))


def remove_tags(current: Tags, keys: dict[str, str | None]) -> Tags:
    """``current`` without the keys named; a key given with a value goes only if it matches."""
    return tuple(
        (key, value)
        for key, value in current
        if key not in keys or (keys[key] is not None and keys[key] != value)
    )


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
        """The ``aws:`` tags EC2 puts on an instance launched from a template."""
        if self.launch_template_id is None:
            return ()
        return (
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


# -- security groups ---------------------------------------------------------------------------

_PROTOCOLS: Final = {"tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp", "icmp": "icmp",
                     "1": "icmp", "-1": "-1", "all": "-1"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Rule:
    """One permission: a protocol and port range from or to one CIDR (IPv4 or IPv6), or —
    with ``group_id`` set and ``cidr`` empty — from or to the members of a security group
    (EC2's UserIdGroupPairs), or — with ``prefix_list_id`` — the CIDRs of a managed prefix
    list (decision 0149)."""

    protocol: str  # "tcp", "udp", "icmp" or "-1" (all)
    from_port: int  # -1 for "all" and for ICMP "any type"
    to_port: int
    cidr: str
    description: str = ""
    group_id: str | None = None
    # Its EC2 id (``sgr-``, decision 0146) and tags. Empty in a rule not yet in a group: the
    # group gives it one (:meth:`SecurityGroup.__post_init__`).
    rule_id: str = ""
    tags: Tags = ()
    prefix_list_id: str | None = None

    def same_permission(self, other: Rule) -> bool:
        """Equal but for the description (how EC2 matches a rule to revoke)."""
        return self._permission() == other._permission()

    def _permission(self) -> tuple[object, ...]:
        return (self.protocol, self.from_port, self.to_port, self.cidr, self.group_id,
                self.prefix_list_id)  # fmt: skip


def parse_rule(
    protocol: str,
    from_port: int | None,
    to_port: int | None,
    cidr: str,
    description: str = "",
    *,
    group_id: str | None = None,
    revoking: bool = False,
    prefix_list_id: str | None = None,
) -> Rule:
    """A validated rule, normalised as EC2 answers it; InvalidParameterValue otherwise. With
    ``group_id`` the peer is that security group's members, with ``prefix_list_id`` that
    list's CIDRs, and ``cidr`` must be empty.
    ``revoking``: the rule names one to revoke, which may have been authorised before
    decision 0130 checked ICMP as EC2 does (see :func:`_icmp_type_code`)."""
    name = _PROTOCOLS.get(protocol.lower())
    if name is None:
        raise InvalidParameterValue(f"Invalid value '{protocol[:32]}' for IP protocol.")
    peer = ""
    if group_id is not None:
        check_id(group_id, "sg")
    elif prefix_list_id is not None:
        check_id(prefix_list_id, "pl")
    else:
        try:
            peer = str(ipaddress.ip_network(cidr, strict=True))
        except ValueError:
            raise InvalidParameterValue(f"CIDR block {cidr[:64]} is malformed") from None
    if name == "-1":
        low, high = -1, -1
    elif name == "icmp":
        low, high = _icmp_type_code(from_port, to_port, revoking=revoking)
    else:
        if from_port is None or to_port is None:
            raise InvalidParameterValue(
                "Invalid value for portRange. Must specify both from and to ports with TCP/UDP."
            )
        low, high = from_port, to_port
        if not (0 <= low <= 65535 and 0 <= high <= 65535) or low > high:
            raise InvalidParameterValue(
                f"Invalid value for portRange. From port {low} to port {high} is not valid"
            )
    if len(description) > 255:
        raise InvalidParameterValue("A rule description is at most 255 characters")
    return Rule(name, low, high, peer, description, group_id, prefix_list_id=prefix_list_id)


def _icmp_type_code(
    from_port: int | None, to_port: int | None, *, revoking: bool
) -> tuple[int, int]:
    """An ICMP rule's type (FromPort) and code (ToPort), -1 for all, checked as EC2 checks
    them (decision 0130): both given, each -1 to 255, and all types (-1) with all codes (-1).
    A rule to revoke is let through with neither given (both -1) or a code with all types,
    as authorising took them before decision 0130, so that such a stored rule can be named."""
    if from_port is None or to_port is None:
        if not revoking:
            raise InvalidParameterValue(
                "Invalid value 'Must specify both from and to ports with ICMP.' for portRange."
            )
        return (-1 if from_port is None else from_port), (-1 if to_port is None else to_port)
    if not -1 <= from_port <= 255:
        raise InvalidParameterValue(f"ICMP type ({from_port}) out of range")
    if not -1 <= to_port <= 255:
        raise InvalidParameterValue(f"ICMP code ({to_port}) out of range")
    if from_port == -1 and to_port != -1 and not revoking:
        raise InvalidParameterValue(
            f"ICMP code ({to_port}) out of range: with all ICMP types (-1), the code must be "
            "-1 (all codes)"
        )
    return from_port, to_port


ALLOW_ALL_EGRESS: Final = (Rule("-1", -1, -1, "0.0.0.0/0"),)


def stable_rule_id(group_id: str, egress: bool, rule: Rule) -> str:
    """The id of a rule that came without one — a group's default rules, and rules stored
    before decision 0146 (migration 0064 wrote the same ids): derived from the group, the
    direction and the permission, which are unique together, so that two gateways making
    the same default group, or reading the same old record, name its rules alike."""
    key = "/".join(
        (group_id, "egress" if egress else "ingress", rule.protocol, str(rule.from_port),
         str(rule.to_port), rule.cidr, rule.group_id or "")
    ) + (f"/{rule.prefix_list_id}" if rule.prefix_list_id else "")  # fmt: skip
    return "sgr-" + hashlib.sha256(f"andromede-sgr:{key}".encode()).hexdigest()[:17]


@dataclass(frozen=True, slots=True)
class SecurityGroup:
    group_id: str
    tenant_id: str
    name: str
    description: str
    ingress: tuple[Rule, ...] = ()
    egress: tuple[Rule, ...] = ALLOW_ALL_EGRESS
    tags: Tags = ()
    # The VPC it belongs to (None: recorded before VPCs existed; it is the default VPC's).
    vpc_id: str | None = None
    format_version: int = FORMAT_VERSION
    revision: int = 0

    def __post_init__(self) -> None:
        # Every rule of a group has an id: those made without one get their stable id.
        for name, egress in (("ingress", False), ("egress", True)):
            rules: tuple[Rule, ...] = getattr(self, name)
            if any(not r.rule_id for r in rules):
                named = tuple(
                    r if r.rule_id else replace(r, rule_id=stable_rule_id(self.group_id, egress, r))
                    for r in rules
                )
                object.__setattr__(self, name, named)

    @property
    def resource_id(self) -> str:
        return self.group_id

    def rule(self, rule_id: str) -> tuple[Rule, bool] | None:
        """The rule of that id and whether it is an egress one (None: not this group's)."""
        for rule in self.ingress:
            if rule.rule_id == rule_id:
                return rule, False
        for rule in self.egress:
            if rule.rule_id == rule_id:
                return rule, True
        return None


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
