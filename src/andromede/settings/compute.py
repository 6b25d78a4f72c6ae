"""Compute: the hypervisor, instance types and per-tenant limits of the EC2 API, images,
and the instance metadata service (169.254.169.254 in the guests).

One group of ``andromede.settings.Settings``, which is composed of them all; the fields keep
their ``ANDROMEDE_<NAME>`` environment variables and TOML keys.
Its rules across several of its fields are plain methods, which ``Settings`` runs in a fixed
order once every field is valid.
"""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    Field,
    IPvAnyAddress,
)

from andromede.settings.units import GIB, KIB

# EC2's names and sizes; the root disk is the smallest an instance of the type gets.
_DEFAULT_INSTANCE_TYPES: dict[str, tuple[int, int, int]] = {
    "t2.nano": (1, 512, 8),
    "t2.micro": (1, 1024, 8),
    "t3.nano": (2, 512, 8),
    "t3.micro": (2, 1024, 8),
    "t3.small": (2, 2048, 8),
    "t3.medium": (2, 4096, 8),
    "t3.large": (2, 8192, 8),
    "m5.large": (2, 8192, 16),
    "m5.xlarge": (4, 16384, 16),
    "m5.2xlarge": (8, 32768, 16),
}


class ComputeSettings(BaseModel):
    """Virtual machines and what they may use."""

    compute_resync_interval: float = Field(
        default=60.0,
        gt=0,
        description="Seconds between two passes pushing every running instance's firewall and"
        " every subnet's overlay peers to the hosts again, from the records (pushes from several"
        " gateways can arrive out of order, or be lost with a gateway that dies).",
    )
    instance_shutdown_check_interval: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        description="Seconds between two passes noticing instances whose guest powered itself "
        "off, which then stop or terminate as their InstanceInitiatedShutdownBehavior says "
        "(decision 0145).",
    )
    instance_metrics_interval: float = Field(
        default=60.0,
        ge=1,
        le=300,
        description="Seconds between two gatherings of the hosts' measures of their running "
        "instances (CPU, network, disks) into CloudWatch's AWS/EC2 and AWS/EBS metrics; at most "
        "60 for detailed monitoring's 1-minute periods to hold one sample each (decision 0178).",
    )
    image_creation_lease: float = Field(
        default=60.0,
        ge=1,
        le=3600,
        description="Seconds a gateway holds a CreateImage's background stop, snapshots and "
        "start (renewed every third of it while it works); past it, another gateway's upkeep "
        "claims the work and finishes it (decision 0148).",
    )
    hypervisor: Literal["memory", "qemu"] = Field(
        default="memory",
        description=(
            "What runs instances: qemu (QEMU/KVM guests, TCG where KVM cannot run them, driven"
            " by one hypervisor agent per host) or memory (no guests; API-only gateways, tests)."
        ),
    )
    hypervisor_state_dir: Path | None = Field(
        default=None,
        description=(
            "Where the QEMU hypervisor keeps volumes, snapshots, seeds, QMP sockets and its"
            " agent's socket (default: <data_dir>/compute/host); short enough for socket paths."
        ),
    )
    hypervisor_cpu_overcommit: float = Field(
        default=4.0,
        gt=0,
        description="vCPUs the QEMU hypervisor offers per host CPU (memory is not overcommitted).",
    )
    hypervisor_volume_backend: Literal["file", "rbd"] = Field(
        default="file",
        description=(
            "Where instance volumes and snapshots live: file (qcow2 + LUKS files in"
            " hypervisor_state_dir) or rbd (the same in Ceph RBD images of hypervisor_rbd_pool,"
            " reached with ceph_conf, ceph_user and ceph_keyring: a disk outlives its host)."
        ),
    )
    hypervisor_rbd_pool: str = Field(
        default="andromede-volumes",
        min_length=1,
        description=(
            "Ceph pool (initialised with `rbd pool init`) of instance volumes and snapshots"
            " (hypervisor_volume_backend = rbd); ceph_user needs `profile rbd` on it."
        ),
    )
    hypervisor_rbd_namespace: str = Field(
        default="",
        pattern=r"^[A-Za-z0-9_.-]*$",
        description=(
            "RBD namespace of the volumes inside hypervisor_rbd_pool (created beforehand with"
            " `rbd namespace create`); empty: the pool's default namespace."
        ),
    )
    hypervisor_rbd_release_timeout: float = Field(
        default=45.0,
        gt=0,
        description=(
            "Seconds a volume's deletion waits for Ceph to drop the watch of a QEMU that died"
            " holding it open (Ceph times such watches out after 30 s)."
        ),
    )
    imds_port: int = Field(
        default=16925,
        ge=1,
        le=65535,
        description="Port of the metadata service on each tenant network's host transit address"
        " (guests' 169.254.169.254:80 is forwarded there).",
    )
    memory_hypervisor_vcpus: int = Field(
        default=16, ge=1, description="vCPUs the memory hypervisor offers to the scheduler."
    )
    memory_hypervisor_memory_mib: int = Field(
        default=32768, ge=64, description="Memory, MiB, the memory hypervisor offers."
    )
    instance_types: dict[str, tuple[int, int, int]] = Field(
        default_factory=lambda: dict(_DEFAULT_INSTANCE_TYPES),
        description="Instance types offered: name -> [vCPUs, memory MiB, root disk GiB].",
    )
    max_instances_per_tenant: int = Field(
        default=20, ge=0, description="Most instances (not terminated) one tenant may have."
    )
    max_vcpus_per_tenant: int = Field(
        default=64, ge=0, description="Most vCPUs a tenant's instances (not terminated) may hold."
    )
    max_user_data_size: int = Field(
        default=16 * KIB, gt=0, le=64 * KIB, description="Largest instance user data, decoded."
    )
    max_volumes_per_instance: int = Field(
        default=24,
        ge=1,
        le=64,
        description=(
            "Most volumes attached to one instance, its root volume included (RunInstances "
            "block device mappings, AttachVolume)."
        ),
    )
    max_image_launch_permissions: int = Field(
        default=1000,
        ge=0,
        le=100000,
        description=(
            "Most accounts one image may be shared with (ModifyImageAttribute "
            "launchPermission; EC2's quota: 1,000)."
        ),
    )
    # Spot Instances (decision 0202).
    spot_price_interval: float = Field(
        default=300.0,
        ge=1,
        le=86400,
        description="Least seconds between two changes of an instance type's Spot price "
        "(decision 0202); the price is the on-demand price of the billing catalogue times a "
        "ratio rising with the hosts' fill.",
    )
    spot_price_floor_ratio: float = Field(
        default=0.3,
        gt=0,
        le=1,
        description="The Spot price's share of the on-demand price on empty hosts; it rises "
        "with the square of the hosts' fill to 1 (decision 0202).",
    )
    spot_interruption_notice: float = Field(
        default=120.0,
        ge=0,
        le=3600,
        description="Seconds between a Spot Instance's interruption notice (metadata "
        "spot/instance-action, its request marked, the EventBridge warning) and its "
        "termination or stop (EC2: two minutes; decision 0202).",
    )
    max_spot_requests_per_tenant: int = Field(
        default=20,
        ge=0,
        description="Most Spot Instance requests one tenant may hold open, active or disabled "
        "(decision 0202).",
    )
    spot_price_history_days: int = Field(
        default=90,
        ge=1,
        le=3650,
        description="Days of Spot price history kept for DescribeSpotPriceHistory (EC2: 90); "
        "each type's current price is kept whatever its age.",
    )
    max_launch_templates_per_tenant: int = Field(
        default=5000,
        ge=1,
        description="Most EC2 launch templates one tenant may hold (EC2's quota: 5,000).",
    )
    max_launch_template_versions: int = Field(
        default=10000,
        ge=1,
        description="Most versions one launch template may hold (EC2's quota: 10,000).",
    )
    max_autoscaling_groups_per_tenant: int = Field(
        default=500,
        ge=1,
        le=100000,
        description="Most EC2 Auto Scaling groups one tenant may hold (AWS's quota: 500).",
    )
    max_instances_per_autoscaling_group: int = Field(
        default=100,
        ge=1,
        le=10000,
        description="Highest MaxSize an Auto Scaling group may have (LimitExceeded above).",
    )
    max_scheduled_actions_per_autoscaling_group: int = Field(
        default=125,
        ge=1,
        le=10000,
        description="Most scheduled actions one Auto Scaling group may hold (AWS's quota: "
        "125; LimitExceeded above).",
    )
    max_lifecycle_hooks_per_autoscaling_group: int = Field(
        default=50,
        ge=1,
        le=1000,
        description="Most lifecycle hooks one Auto Scaling group may hold (AWS's quota: 50; "
        "LimitExceeded above).",
    )
    max_scaling_policies_per_autoscaling_group: int = Field(
        default=50,
        ge=1,
        le=1000,
        description="Most scaling policies one Auto Scaling group may hold (AWS's quota: 50; "
        "LimitExceeded above) (decision 0177).",
    )
    max_notification_configurations_per_autoscaling_group: int = Field(
        default=10,
        ge=1,
        le=100,
        description="Most SNS topics one Auto Scaling group sends its notifications to (AWS's "
        "quota: 10; LimitExceeded above) (decision 0188).",
    )
    max_warm_pool_instances_per_autoscaling_group: int = Field(
        default=100,
        ge=0,
        le=10000,
        description="Most instances one Auto Scaling group's warm pool keeps, whatever AWS's "
        "formula asks (a larger warm pool MinSize: LimitExceeded) (decision 0194).",
    )
    predictive_scaling_history_days: int = Field(
        default=14,
        ge=1,
        le=28,
        description="Days of a load metric's hourly history a predictive scaling policy's "
        "forecast reads (AWS: 14) (decision 0197).",
    )
    predictive_scaling_min_history_hours: int = Field(
        default=24,
        ge=1,
        le=672,
        description="Hours of load history with data a predictive scaling forecast needs; "
        "fewer: no forecast (AWS: 24) (decision 0197).",
    )
    predictive_scaling_forecast_hours: int = Field(
        default=48,
        ge=2,
        le=168,
        description="Hours ahead a predictive scaling forecast covers, from the current "
        "hour (AWS: 48) (decision 0197).",
    )
    autoscaling_interval: float = Field(
        default=10.0,
        ge=0.1,
        le=3600,
        description="Seconds between two rounds of the Auto Scaling reconciler, which brings "
        "each group's instances to its desired capacity.",
    )
    autoscaling_claim_lease: float = Field(
        default=60.0,
        ge=1,
        le=86400,
        description="Seconds a gateway holds the Auto Scaling groups its reconciler converges "
        "before another gateway may take them over (renewed each round).",
    )
    instance_stop_timeout: float = Field(
        default=60.0,
        gt=0,
        description="Seconds a stopping guest has to power off (ACPI) before a hard stop.",
    )
    max_image_size: int = Field(
        default=64 * GIB,
        gt=0,
        description=(
            "Largest image file ImportImage accepts, and a hypervisor host takes from the "
            "control plane."
        ),
    )
    terminated_instance_retention: float = Field(
        default=3600.0,
        ge=0,
        description="Seconds a terminated instance stays visible before its record is purged.",
    )
    instance_forward_address: IPvAnyAddress = Field(
        default=IPv4Address("127.0.0.1"),
        description="Host address of the port forward that reaches an instance's SSH port when "
        "its host falls back to user-mode networking.",
    )
    imds_token_ttl_max: int = Field(
        default=21600,
        ge=1,
        le=21600,
        description="Longest lifetime, seconds, of an IMDSv2 session token (EC2: 21600).",
    )
    imds_credentials_duration: int = Field(
        default=3600,
        ge=900,
        le=43200,
        description="Seconds an instance's role credentials last (at most the role's maximum "
        "session duration).",
    )
    imds_credentials_refresh_margin: float = Field(
        default=1800.0,
        gt=0,
        description="Seconds before expiry at which the metadata service hands an instance "
        "new role credentials (SDKs refresh from 10 to 20 minutes before).",
    )

    def _imds_refreshes_before_expiry(self) -> None:
        if self.imds_credentials_refresh_margin >= self.imds_credentials_duration:
            raise ValueError(
                "imds_credentials_refresh_margin must be shorter than imds_credentials_duration"
            )

    def _instance_types_are_sane(self) -> None:
        for name, (vcpus, memory, disk) in self.instance_types.items():
            if not name or vcpus < 1 or memory < 64 or disk < 1:
                raise ValueError(f"instance type {name!r}: vCPUs, memory and disk must be > 0")
