"""``andromede admin residency``: where each tenant's bytes physically are, for the operator to
show an auditor (or a tenant) that data stays in the region, and under the law, it was put in.

The report is built from the metadata: each bucket's region, that region's jurisdiction, the
store the region's bytes go to (a folder under the data dir with the local backend, a RADOS
pool with Ceph), up to which size its objects are kept in the metadata database instead
(decision 0028), and the bucket's object count and bytes. Every blob of a bucket is written to
its region's store only (``storage/regions.py``); ``tests/e2e`` lists the RADOS pools to prove
it. A bucket whose replication configuration has enabled rules also names the buckets its
new versions are copied to, with their regions and jurisdictions (decision 0112): a copy in
another region is data movement the tenant asked for, and the report shows where it goes.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass

import typer

from andromede.cli.options import ConfigOption, DataDirOption, JsonOption, settings_from
from andromede.settings import Settings
from andromede.storage.model import Bucket

__all__ = ["BucketResidency", "ReplicaDestination", "residency_app", "residency_report"]

residency_app = typer.Typer(no_args_is_help=True, help="Data residency: where the bytes are.")

_UNDECLARED = "undeclared"
_GONE = "gone"


@dataclass(frozen=True, slots=True)
class ReplicaDestination:
    """A bucket that an enabled replication rule copies new versions to."""

    bucket: str
    tenant: str  # its tenant's name: another tenant's when it consented (decision 0112)
    region: str  # "gone" when the destination bucket no longer exists
    jurisdiction: str


@dataclass(frozen=True, slots=True)
class BucketResidency:
    tenant_id: str
    tenant: str  # the tenant's name ("" for a bucket whose tenant is unknown)
    bucket: str
    region: str
    jurisdiction: str  # ISO 3166-1 alpha-2 or EU; "undeclared" when the settings give none
    backend: str  # "local" or "rados"
    location: str  # the folder or the RADOS pool holding the region's blobs
    # objects up to this size are in the metadata database instead of ``location`` (0: none)
    inline_max_bytes: int
    objects: int
    bytes: int
    replicates_to: tuple[ReplicaDestination, ...] = ()


def region_inline_max(settings: Settings, region: str) -> int:
    """Up to which size a region's objects are kept in the metadata database (0: none)."""
    if region not in settings.inline_region_names:
        return 0
    return settings.inline_object_max_bytes


def region_location(settings: Settings, region: str) -> str:
    """Where a region's bytes are stored: its folder (local) or its pool (RADOS)."""
    if settings.region_settings(region) is None:
        return f"{_UNDECLARED} region"
    if settings.blob_backend == "local":
        return str(settings.region_directory(region))
    return f"pool {settings.region_pool(region)}"


async def residency_report(settings: Settings) -> list[BucketResidency]:
    """One row per bucket of every tenant, by tenant name then bucket name."""
    from andromede.app import open_metadata  # late: the application stack is heavy

    async with open_metadata(settings) as (identity, store):
        tenants = {t.id: t.name for t in await identity.list_tenants()}
        buckets = await store.all_buckets()
        usage = await store.usage_by_bucket()
    by_name = {bucket.name: bucket for bucket in buckets}
    rows = []
    for bucket in buckets:
        declared = settings.region_settings(bucket.region)
        used = usage.get(bucket.name)
        config = bucket.replication
        destinations = sorted(
            {rule.destination_bucket for rule in config.rules if rule.enabled} if config else ()
        )
        rows.append(
            BucketResidency(
                tenant_id=bucket.tenant_id,
                tenant=tenants.get(bucket.tenant_id, ""),
                bucket=bucket.name,
                region=bucket.region,
                jurisdiction=(declared.jurisdiction if declared else None) or _UNDECLARED,
                backend=settings.blob_backend,
                location=region_location(settings, bucket.region),
                inline_max_bytes=region_inline_max(settings, bucket.region),
                objects=used.objects if used else 0,
                bytes=used.stored_bytes if used else 0,  # noncurrent versions too (0099)
                replicates_to=tuple(
                    _destination(settings, name, by_name.get(name), tenants)
                    for name in destinations
                ),
            )
        )
    return sorted(rows, key=lambda row: (row.tenant, row.tenant_id, row.bucket))


def _destination(
    settings: Settings, name: str, bucket: Bucket | None, tenants: dict[str, str]
) -> ReplicaDestination:
    if bucket is None:
        return ReplicaDestination(name, "", _GONE, _GONE)
    declared = settings.region_settings(bucket.region)
    jurisdiction = (declared.jurisdiction if declared else None) or _UNDECLARED
    tenant = tenants.get(bucket.tenant_id) or bucket.tenant_id
    return ReplicaDestination(name, tenant, bucket.region, jurisdiction)


@residency_app.command("report")
def report(
    as_json: JsonOption = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Per tenant and bucket: region, jurisdiction, where the bytes are, objects and bytes,
    and the buckets (region, jurisdiction) its replication copies new versions to."""
    settings = settings_from(config, data_dir)
    rows = asyncio.run(residency_report(settings))
    if as_json:
        regions = [
            {
                "region": r.name,
                "jurisdiction": r.jurisdiction or _UNDECLARED,
                "backend": settings.blob_backend,
                "location": region_location(settings, r.name),
                "inline_max_bytes": region_inline_max(settings, r.name),
                "default": r.name == settings.region,
            }
            for r in settings.declared_regions
        ]
        typer.echo(
            json.dumps({"regions": regions, "buckets": [asdict(row) for row in rows]}, indent=2)
        )
        return
    # Plain aligned columns, never wrapped: the report is read by people and by grep alike.
    header = (
        "tenant",
        "bucket",
        "region",
        "jurisdiction",
        "backend",
        "where",
        "in metadata db",
        "objects",
        "bytes",
        "replicates to",
    )
    lines = [header] + [
        (
            row.tenant or row.tenant_id,
            row.bucket,
            row.region,
            row.jurisdiction,
            row.backend,
            row.location,
            f"up to {row.inline_max_bytes} B" if row.inline_max_bytes else "none",
            str(row.objects),
            str(row.bytes),
            ", ".join(_shown(row, d) for d in row.replicates_to) or "-",
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))


def _shown(row: BucketResidency, destination: ReplicaDestination) -> str:
    """``bucket@region (jurisdiction)``, with the tenant when it is another one."""
    where = f"{destination.bucket}@{destination.region} ({destination.jurisdiction})"
    other = destination.tenant and destination.tenant != (row.tenant or row.tenant_id)
    return f"{where} of {destination.tenant}" if other else where
