"""ObjectService: the one public entry of object storage (buckets, objects, multipart).

It streams bodies through the integrity checks (MD5 for the ETag, the asked-for additional
checksum, Content-MD5) and the encryption of the blob (a fresh data key per blob:
``sealed_blobs.py``, ``encryption.py``) into a blob, commits the blob (durable) before the
metadata row (the moment the object exists), and queues blobs that an overwrite or delete left
unreferenced for deferred deletion, so a GET in flight still reads the old object whole.

Blobs go to the store of their bucket's region (``regions.py``), and each segment and part
records that region, so a read finds its store with one look-up and never leaves the region.

The class is a thin composition of parts split off for size (STYLE §10), each a mixin over
:class:`~andromede.storage.service_core.ServiceCore` (the state and steps they share):
``service_buckets`` (buckets and their configuration), ``service_objects`` (PUT, DELETE,
copy, listing; the reads of a HEAD or GET are the core's, which every part uses),
``service_versions`` (versioned deletes and listings),
``service_metadata`` (ACL, tags and lock of a version), ``service_replication`` (replication
configuration, backfill and replicas) and ``service_multipart`` (multipart uploads). Callers
import from here.
"""

from __future__ import annotations

from andromede.storage.integrity import BodyIntegrity
from andromede.storage.listing import ObjectListing, UploadListing
from andromede.storage.service_buckets import BucketsMixin
from andromede.storage.service_core import StorageLimits
from andromede.storage.service_metadata import MetadataMixin
from andromede.storage.service_multipart import CompletedPart, MultipartMixin, new_upload_id
from andromede.storage.service_objects import ObjectsMixin
from andromede.storage.service_replication import ReplicationMixin
from andromede.storage.service_versions import VersionsMixin

__all__ = [
    "BodyIntegrity",
    "CompletedPart",
    "ObjectListing",
    "ObjectService",
    "StorageLimits",
    "UploadListing",
    "new_upload_id",
]


class ObjectService(
    ObjectsMixin,
    VersionsMixin,
    MetadataMixin,
    ReplicationMixin,
    MultipartMixin,
    BucketsMixin,
):
    """Buckets, objects, versions and multipart uploads: the one public entry of object storage.

    Built with the metadata store, the blob store(s), the limits and the cipher
    (:meth:`~andromede.storage.service_core.ServiceCore.__init__`)."""
