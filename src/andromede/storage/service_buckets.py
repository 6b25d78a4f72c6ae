"""Buckets and their configuration: create, list, delete, and the settings S3 keeps per bucket
(policy, ACL, ownership, Block Public Access, tags, CORS, website, logging, lifecycle, event
notifications, versioning, Object Lock, default encryption, Requester Pays, data-read audit,
inventory and request metrics configurations).

Mixed into :class:`~andromede.storage.service.ObjectService`; split off only for size. The
replication configuration is ``service_replication``'s.
"""

from __future__ import annotations

from collections.abc import Callable

from andromede.storage.abac import ABAC_DOCUMENT, ABAC_ENABLED
from andromede.storage.access_logging import LOGGING_DOCUMENT, LoggingTarget
from andromede.storage.acl import AccessControlList
from andromede.storage.bucket_names import validate_bucket_name
from andromede.storage.cors import CorsConfiguration
from andromede.storage.errors import ConfigurationContention
from andromede.storage.inventory import (
    INVENTORY_DOCUMENT,
    InventoryConfiguration,
    configurations_from_text,
    configurations_to_text,
)
from andromede.storage.lifecycle import LIFECYCLE_DOCUMENT, LifecycleConfiguration
from andromede.storage.metrics_configuration import (
    METRICS_DOCUMENT,
    MetricsConfiguration,
    metrics_from_text,
    metrics_to_text,
)
from andromede.storage.model import (
    Bucket,
    BucketEncryption,
    BucketStorage,
    ObjectOwnership,
    PublicAccessBlock,
    VersioningStatus,
)
from andromede.storage.notification import NOTIFICATION_DOCUMENT, NotificationConfiguration
from andromede.storage.object_lock import ObjectLockConfiguration
from andromede.storage.service_core import ServiceCore
from andromede.storage.website import WEBSITE_DOCUMENT, WebsiteConfiguration

__all__ = ["BucketsMixin"]

# Compare-and-set attempts of an inventory configuration change before OperationAborted.
_SWAP_TRIES = 20


class BucketsMixin(ServiceCore):
    """Buckets and their configuration (mixed into ObjectService)."""

    async def create_bucket(
        self,
        name: str,
        *,
        tenant_id: str,
        owner_id: str,
        region: str,
        object_ownership: ObjectOwnership = ObjectOwnership.BUCKET_OWNER_ENFORCED,
        acl: AccessControlList | None = None,
        object_lock: ObjectLockConfiguration | None = None,
    ) -> Bucket:
        """Validate the name (S3 rules: InvalidBucketName) and create the bucket.

        New buckets have Block Public Access fully on, as on AWS since April 2023. With
        ``object_lock``, the bucket is versioned (Enabled) from its first moment and has
        Object Lock for good (decision 0102).
        """
        validate_bucket_name(name)
        bucket = Bucket(
            name=name,
            tenant_id=tenant_id,
            owner_id=owner_id,
            region=region,
            created_at=self._clock(),
            object_ownership=object_ownership,
            public_access_block=PublicAccessBlock(),
            acl=acl,
            versioning=None if object_lock is None else VersioningStatus.ENABLED,
            object_lock=object_lock,
        )
        await self._store.create_bucket(bucket)
        return bucket

    async def list_buckets(self, tenant_id: str) -> list[Bucket]:
        return await self._store.list_buckets(tenant_id)

    async def stored_bytes_by_tenant_and_region(self) -> dict[tuple[str, str], int]:
        """Bytes each tenant stores in each region, noncurrent versions included (what
        metering samples, decision 0108; the residency report's figures, summed)."""
        usage = await self._store.usage_by_bucket()
        held: dict[tuple[str, str], int] = {}
        for bucket in await self._store.all_buckets():
            used = usage.get(bucket.name)
            key = (bucket.tenant_id, bucket.region)
            held[key] = held.get(key, 0) + (used.stored_bytes if used else 0)
        return held

    async def all_buckets(self) -> list[Bucket]:
        """Every bucket of every tenant, by tenant then name."""
        return await self._store.all_buckets()

    async def bucket_storage(self, name: str) -> BucketStorage:
        """What S3's daily storage metrics report of the bucket (decision 0181)."""
        return await self._store.bucket_storage(name)

    async def set_bucket_policy(self, name: str, policy: str | None) -> Bucket:
        """Store (or, with None, remove) the bucket policy; validating it is the caller's job,
        since the policy language belongs to identity. NoSuchBucket."""
        return await self._store.update_bucket_access(name, policy=policy)

    async def set_bucket_acl(self, name: str, acl: AccessControlList | None) -> Bucket:
        return await self._store.update_bucket_access(name, acl=acl)

    async def set_object_ownership(self, name: str, ownership: ObjectOwnership | None) -> Bucket:
        return await self._store.update_bucket_access(name, object_ownership=ownership)

    async def set_public_access_block(self, name: str, block: PublicAccessBlock | None) -> Bucket:
        return await self._store.update_bucket_access(name, public_access_block=block)

    async def get_bucket_tags(self, name: str) -> tuple[tuple[str, str], ...] | None:
        """The bucket's tag set, None when it has none. NoSuchBucket."""
        return await self._store.get_bucket_tags(name)

    async def set_bucket_tags(self, name: str, tags: tuple[tuple[str, str], ...] | None) -> None:
        """Replace (None: remove) the bucket's tag set, validated by the caller. NoSuchBucket."""
        await self._store.put_bucket_tags(name, tags)

    async def set_bucket_abac(self, name: str, enabled: bool) -> None:
        """Turn ABAC on or off (decision 0418): while on, the bucket's tags are read with it on
        every request, whichever gateway serves it. NoSuchBucket."""
        await self._store.put_bucket_document(
            name, ABAC_DOCUMENT, ABAC_ENABLED if enabled else None
        )

    async def get_bucket_cors(self, name: str) -> CorsConfiguration | None:
        """The bucket's CORS configuration, None when it has none. NoSuchBucket."""
        return await self._store.get_bucket_cors(name)

    async def set_bucket_cors(self, name: str, cors: CorsConfiguration | None) -> None:
        """Replace (None: remove) the bucket's CORS rules, validated by the caller.
        NoSuchBucket."""
        await self._store.put_bucket_cors(name, cors)

    async def get_bucket_website(self, name: str) -> WebsiteConfiguration | None:
        """The bucket's static-website configuration, None when it has none. NoSuchBucket."""
        text = await self._store.get_bucket_document(name, WEBSITE_DOCUMENT)
        return None if text is None else WebsiteConfiguration.from_text(text)

    async def set_bucket_website(self, name: str, website: WebsiteConfiguration | None) -> None:
        """Replace (None: remove) the bucket's website configuration, validated by the caller.
        NoSuchBucket."""
        text = None if website is None else website.to_text()
        await self._store.put_bucket_document(name, WEBSITE_DOCUMENT, text)

    async def get_bucket_logging(self, name: str) -> LoggingTarget | None:
        """Where the bucket's access records go, None when it does not log. NoSuchBucket."""
        text = await self._store.get_bucket_document(name, LOGGING_DOCUMENT)
        return None if text is None else LoggingTarget.from_text(text)

    async def set_bucket_logging(self, name: str, target: LoggingTarget | None) -> None:
        """Start (or, with None, stop) logging the bucket's access, the target's owner and
        region checked by the caller. NoSuchBucket; InvalidLogTarget when the target is gone
        or Requester Pays, checked by the store in the write (decision 0150)."""
        await self._store.put_bucket_logging(name, target)

    async def get_bucket_lifecycle(self, name: str) -> LifecycleConfiguration | None:
        """The bucket's lifecycle configuration, None when it has none. NoSuchBucket."""
        text = await self._store.get_bucket_document(name, LIFECYCLE_DOCUMENT)
        return None if text is None else LifecycleConfiguration.from_text(text)

    async def set_bucket_lifecycle(
        self, name: str, lifecycle: LifecycleConfiguration | None
    ) -> None:
        """Replace (None: remove) the bucket's lifecycle configuration, validated by the
        caller. NoSuchBucket."""
        text = None if lifecycle is None else lifecycle.to_text()
        await self._store.put_bucket_document(name, LIFECYCLE_DOCUMENT, text)

    async def get_inventory_configurations(self, name: str) -> list[InventoryConfiguration]:
        """The bucket's inventory configurations (decision 0154); NoSuchBucket."""
        text = await self._store.get_bucket_document(name, INVENTORY_DOCUMENT)
        return configurations_from_text(text)

    async def change_inventory_configurations(
        self,
        name: str,
        change: Callable[[list[InventoryConfiguration]], list[InventoryConfiguration]],
    ) -> None:
        """Replace the bucket's inventory configurations by ``change`` of them (which may
        raise to refuse), by compare-and-set: two writers of one bucket's configurations,
        on two gateways, both land. NoSuchBucket; ConfigurationContention."""
        for _ in range(_SWAP_TRIES):
            text = await self._store.get_bucket_document(name, INVENTORY_DOCUMENT)
            new = configurations_to_text(change(configurations_from_text(text)))
            if await self._store.swap_bucket_document(name, INVENTORY_DOCUMENT, text, new):
                return
        raise ConfigurationContention(
            "The configurations changed under this request too many times; try again."
        )

    async def get_metrics_configurations(self, name: str) -> list[MetricsConfiguration]:
        """The bucket's request metrics configurations (decision 0187); NoSuchBucket."""
        return metrics_from_text(await self._store.get_bucket_document(name, METRICS_DOCUMENT))

    async def change_metrics_configurations(
        self,
        name: str,
        change: Callable[[list[MetricsConfiguration]], list[MetricsConfiguration]],
    ) -> list[MetricsConfiguration]:
        """Replace the bucket's metrics configurations by ``change`` of them (which may raise
        to refuse), by compare-and-set as the inventory's; the configurations written.
        NoSuchBucket; ConfigurationContention."""
        for _ in range(_SWAP_TRIES):
            text = await self._store.get_bucket_document(name, METRICS_DOCUMENT)
            configs = change(metrics_from_text(text))
            if await self._store.swap_bucket_document(
                name, METRICS_DOCUMENT, text, metrics_to_text(configs)
            ):
                return configs
        raise ConfigurationContention(
            "The configurations changed under this request too many times; try again."
        )

    async def get_bucket_notification(self, name: str) -> NotificationConfiguration | None:
        """The bucket's event notification configuration (decision 0132); NoSuchBucket."""
        text = await self._store.get_bucket_document(name, NOTIFICATION_DOCUMENT)
        return None if text is None else NotificationConfiguration.from_text(text)

    async def set_bucket_notification(
        self, name: str, config: NotificationConfiguration | None
    ) -> None:
        """Replace the configuration (None or no rule: none); NoSuchBucket."""
        text = None if config is None or not config.rules else config.to_text()
        await self._store.put_bucket_document(name, NOTIFICATION_DOCUMENT, text)

    async def set_bucket_data_reads_logged(self, name: str, logged: bool) -> Bucket:
        """Whether the tenant's own data reads of the bucket are audited (decision 0109);
        its writes are, whatever this says. NoSuchBucket."""
        return await self._store.set_bucket_data_reads_logged(name, logged)

    async def set_bucket_requester_pays(self, name: str, requester_pays: bool) -> Bucket:
        """Requester Pays on or off (decision 0133): with it on, other accounts' requests and
        transfers are billed to them; the owner still pays for storage. NoSuchBucket;
        BucketIsLogTarget when turned on while its owner's buckets log into it, checked by
        the store in the write (decision 0150)."""
        return await self._store.set_bucket_requester_pays(name, requester_pays)

    async def set_bucket_versioning(self, name: str, status: VersioningStatus) -> None:
        """Enabled or Suspended; a bucket never goes back to never versioned. NoSuchBucket;
        InvalidBucketState for Suspended on a bucket with Object Lock (checked by the store in
        the write: decision 0104)."""
        await self._store.set_bucket_versioning(name, status)

    async def set_bucket_object_lock(self, name: str, config: ObjectLockConfiguration) -> Bucket:
        """Turn Object Lock on (for good), or change its default retention (decision 0102).
        NoSuchBucket; InvalidBucketState unless the bucket is versioned Enabled or has Object
        Lock already, checked by the store in the write (decision 0104)."""
        return await self._store.set_bucket_object_lock(name, config)

    async def set_bucket_encryption(self, name: str, encryption: BucketEncryption | None) -> Bucket:
        """Store (or, with None, remove) the bucket's default encryption. NoSuchBucket."""
        return await self._store.update_bucket_access(name, encryption=encryption)

    async def delete_bucket(self, name: str) -> None:
        """NoSuchBucket, BucketNotEmpty."""
        parts = await self._store.delete_bucket(name)
        await self._queue_deletion(parts)
