"""Object data: regions, the blob backend (local disk or RADOS), durability and the
background work over stored objects (sweeper, lifecycle, replication, access logs).

One group of ``andromede.settings.Settings``, which is composed of them all; the fields keep
their ``ANDROMEDE_<NAME>`` environment variables and TOML keys.
Its rules across several of its fields are plain methods, which ``Settings`` runs in a fixed
order once every field is valid.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
)

from andromede.settings.units import KIB, MIB

_REGION_NAME = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"


class RegionSettings(BaseModel):
    """One region of the deployment: where a bucket's bytes may live, and under which law.

    Declared in the ``regions`` list of the TOML file (``[[regions]]`` tables) or as JSON in
    ``ANDROMEDE_REGIONS``. With the local backend a region's blobs go under
    ``<data_dir>/objects`` (the default region, where data stored before regions stays) or
    ``<data_dir>/objects-<name>``; with RADOS, into its ``ceph_pool``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_REGION_NAME, description="Region name, as LocationConstraint.")
    # ISO 3166-1 alpha-2 country code, or "EU": the law the region's data centres are under.
    jurisdiction: str | None = Field(
        default=None,
        pattern=r"^[A-Z]{2}$",
        description="Country (ISO 3166-1 alpha-2) or EU whose law governs the region's data.",
    )
    ceph_pool: str | None = Field(
        default=None,
        min_length=1,
        description="RADOS pool of the region's object data (the default region: ceph_pool).",
    )
    endpoint: str | None = Field(
        default=None,
        pattern=r"^https?://[^/\s]+/?$",
        description="Public URL of the gateways serving the region, named in redirects.",
    )


class StorageSettings(BaseModel):
    """Where objects' bytes live, how durably, and the jobs that tend them."""

    region: str = Field(
        default="eu-fr-1",
        pattern=_REGION_NAME,
        description=(
            "Default region: buckets created without LocationConstraint go there; requests "
            "that name no bucket are signed for it."
        ),
    )
    regions: tuple[RegionSettings, ...] = Field(
        default=(),
        description=(
            "Regions of the deployment (name, jurisdiction, ceph_pool, endpoint); empty: one "
            "region made of region and ceph_pool."
        ),
    )
    served_regions: tuple[str, ...] = Field(
        default=(),
        description=(
            "Regions whose data this gateway stores and serves (empty: every declared region); "
            "a bucket of another region answers 301 PermanentRedirect."
        ),
    )
    blob_backend: Literal["local", "rados"] = Field(
        default="local",
        description="Where object data goes: local disk under the data dir, or Ceph RADOS.",
    )
    ceph_conf: Path | None = Field(
        default=None, description="ceph.conf of the cluster (blob_backend = rados)."
    )
    ceph_keyring: Path | None = Field(
        default=None, description="Keyring holding ceph_user's cephx key (blob_backend = rados)."
    )
    ceph_user: str = Field(
        default="client.andromede",
        description="cephx user the gateway connects as; give it rw on the pools only.",
    )
    ceph_pool: str = Field(
        default="andromede", description="RADOS pool holding the default region's object data."
    )
    ceph_connect_timeout: float = Field(
        default=10.0, gt=0, description="Seconds to reach the Ceph monitors at start-up."
    )
    ceph_op_timeout: float = Field(
        default=30.0,
        gt=0,
        description="Seconds a RADOS operation may take before the request answers 503.",
    )
    ceph_reconnect_delay: float = Field(
        default=0.5,
        gt=0,
        description=(
            "Seconds before a gateway's first attempt to replace its librados client once the"
            " cluster looks gone; doubled after each failed attempt."
        ),
    )
    ceph_reconnect_delay_max: float = Field(
        default=15.0,
        gt=0,
        description="Seconds at most between two attempts to reconnect to the Ceph cluster.",
    )
    rados_stripe_size: int = Field(
        default=4 * MIB,
        ge=64 * KIB,
        le=64 * MIB,
        description="Size of the RADOS objects a blob is striped over.",
    )
    fsync: bool = Field(
        default=True,
        description="fsync object data and folders before acknowledging a write (durability).",
    )
    blob_directories_at_start: bool = Field(
        default=True,
        description=(
            "With blob_backend = local, create the 4,096 blob folders at start (one fsync for "
            "all) rather than each at its first write; off, a new data folder stays small."
        ),
    )
    io_threads: int = Field(
        default=32,
        ge=1,
        le=1024,
        description="Threads for blocking disk I/O (writes, fsyncs, reads) running side by side.",
    )
    read_chunk_size: int = Field(
        default=256 * KIB, ge=4 * KIB, description="Size of the chunks a GET streams from disk."
    )
    inline_object_max_bytes: int = Field(
        default=16 * KIB,
        ge=0,
        le=1024 * KIB,
        description=(
            "Objects up to this size keep their encrypted bytes in their metadata row, not in "
            "a blob (one durable commit per PUT, one read per GET); 0: never."
        ),
    )
    inline_object_regions: tuple[str, ...] | None = Field(
        default=None,
        description=(
            "Regions whose small objects may be kept in the metadata database (unset: every "
            "region with blob_backend = local, none with rados). With rados, list a region "
            "only if the metadata database is under its jurisdiction."
        ),
    )
    sweeper_interval: float = Field(
        default=300.0, gt=0, description="Seconds between two runs of the orphan-blob sweeper."
    )
    server_access_log_interval: float = Field(
        default=60.0,
        gt=0,
        description="Seconds between two deliveries of server access records into logging"
        " buckets' targets (and re-reads of which buckets log where).",
    )
    server_access_log_buffer: int = Field(
        default=100_000,
        gt=0,
        description="Most access records of one bucket held between two deliveries; more are"
        " dropped and counted in the log, never held without bound.",
    )
    lifecycle_interval: float = Field(
        default=3600.0,
        gt=0,
        description="Seconds between two passes applying buckets' lifecycle rules (expiring"
        " objects, aborting old multipart uploads); rules count whole days. The rules"
        " x-amz-expiration answers from are re-read at this interval, at most a minute apart.",
    )
    replication_interval: float = Field(
        default=1.0,
        gt=0,
        description="Seconds a gateway's replication worker waits, once the queue has no"
        " due task it may claim, before looking again (decision 0112).",
    )
    replication_batch: int = Field(
        default=16,
        gt=0,
        description="Replication tasks a gateway claims at once, and versions a pass over a"
        " bucket's existing objects looks at per step (decision 0112).",
    )
    replication_lease: float = Field(
        default=300.0,
        gt=0,
        description="Seconds a claimed replication task is its gateway's: a gateway that"
        " dies leaves it to be claimed again after this (decision 0112).",
    )
    replication_max_attempts: int = Field(
        default=5,
        gt=0,
        description="Copies of a version tried before its replication is FAILED (decision 0112).",
    )
    replication_retry_base: float = Field(
        default=2.0,
        gt=0,
        description="Seconds before a failed replication copy is tried again, doubled at"
        " each further attempt (decision 0112).",
    )
    orphan_grace: float = Field(
        default=3600.0,
        ge=0,
        description="Age, seconds, before an unreferenced blob or temporary file is removed.",
    )

    # S3 Inventory (decision 0154).
    inventory_interval: float = Field(
        default=300.0,
        gt=0,
        description="Seconds between two passes of a gateway's inventory reporter, which makes"
        " the daily and weekly S3 Inventory reports that are due (each claimed by one gateway).",
    )
    inventory_file_size: int = Field(
        default=256 * 1024 * 1024,
        ge=1024,
        description="Compressed bytes past which an inventory report's data file (gzip CSV,"
        " ORC or Parquet) is closed and the next one started.",
    )
    inventory_row_group_rows: int = Field(
        default=100_000,
        ge=1,
        le=10_000_000,
        description="Rows of an ORC or Parquet inventory report held in memory and written"
        " together as one row group (decision 0170).",
    )
    inventory_claim_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="Seconds a gateway holds the claim on an inventory report it makes; a"
        " report not delivered by then (its gateway died) is made again by another.",
    )
    inventory_max_configurations: int = Field(
        default=1000,
        ge=1,
        le=1000,
        description="Most inventory configurations one bucket may hold (S3: 1,000);"
        " PutBucketInventoryConfiguration past it answers TooManyConfigurations.",
    )

    # S3 Batch Operations (decision 0152's addendum).
    batch_job_interval: float = Field(
        default=5.0,
        gt=0,
        description="Seconds between two passes of a gateway's Batch Operations worker, which"
        " claims a job (one gateway at a time) and runs its next batch of tasks.",
    )
    batch_job_batch_size: int = Field(
        default=100,
        ge=1,
        le=10000,
        description="Tasks a Batch Operations worker runs (and records) per claim of a job;"
        " a gateway that stops loses at most this batch's progress.",
    )
    batch_job_max_tasks: int = Field(
        default=100000,
        ge=1,
        description="Most objects a Batch Operations job may take (its manifest's lines, its"
        " inventory report's rows, or what its manifest generator lists); more fail the job"
        " (FailureCode ManifestTooLarge).",
    )
    batch_job_lease_seconds: float = Field(
        default=300.0,
        gt=0,
        description="Seconds a gateway holds the claim on a Batch Operations job while it"
        " runs a batch; a job whose gateway died is taken over once this has run out.",
    )

    def _rados_needs_a_cluster(self) -> None:
        if self.blob_backend == "rados" and self.ceph_conf is None:
            raise ValueError("blob_backend = rados needs ceph_conf (and usually ceph_keyring)")

    def _regions_consistent(self) -> None:
        names = [r.name for r in self.regions]
        if len(set(names)) != len(names):
            raise ValueError("regions: every region needs a name of its own")
        if self.regions and self.region not in names:
            raise ValueError(f"region {self.region!r} (the default) must be one of regions")
        declared = {r.name for r in self.declared_regions}
        unknown = sorted(set(self.served_regions) - declared)
        if unknown:
            raise ValueError(f"served_regions names regions not declared: {unknown}")
        unknown = sorted(set(self.inline_object_regions or ()) - declared)
        if unknown:
            raise ValueError(f"inline_object_regions names regions not declared: {unknown}")
        if self.blob_backend == "rados":
            pools = [self.region_pool(name) for name in declared]
            if len(set(pools)) != len(pools):
                raise ValueError("regions: each region needs a ceph_pool of its own")

    @property
    def declared_regions(self) -> tuple[RegionSettings, ...]:
        """The regions of the deployment; without ``regions``, the one the older settings
        (``region``, ``ceph_pool``) describe."""
        if self.regions:
            return self.regions
        return (RegionSettings(name=self.region, ceph_pool=self.ceph_pool),)

    @property
    def served_region_names(self) -> frozenset[str]:
        """The regions this gateway serves: ``served_regions``, or every declared one."""
        if self.served_regions:
            return frozenset(self.served_regions)
        return frozenset(r.name for r in self.declared_regions)

    @property
    def inline_region_names(self) -> frozenset[str]:
        """The regions whose small objects are kept in the metadata database (decision 0028):
        ``inline_object_regions``, else every region on local disk (the database is on the
        same host as their folders) and none on RADOS (the database may be elsewhere)."""
        if self.inline_object_regions is not None:
            return frozenset(self.inline_object_regions)
        if self.blob_backend == "local":
            return frozenset(r.name for r in self.declared_regions)
        return frozenset()

    def region_settings(self, name: str) -> RegionSettings | None:
        return next((r for r in self.declared_regions if r.name == name), None)

    def region_pool(self, name: str) -> str:
        """The RADOS pool of a declared region (the default region falls back to ceph_pool)."""
        declared = self.region_settings(name)
        pool = declared.ceph_pool if declared is not None else None
        if pool is None:
            if name != self.region:
                raise ValueError(f"region {name!r} needs a ceph_pool (blob_backend = rados)")
            return self.ceph_pool
        return pool
