"""Which handler serves each S3 operation, and the classes of operations the request's course
treats apart: reads, data reads, those authorised by their handler, those addressed by version.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from andromede.s3.handlers import (
    abac,
    access,
    access_logging,
    attributes,
    bucket,
    cors,
    encryption,
    inventory,
    lifecycle,
    listing,
    metrics,
    multipart,
    notification,
    object_lock,
    objects,
    post,
    replication,
    request_payment,
    select,
    tagging,
    unconfigured,
    versions,
    website,
)
from andromede.s3.handlers.common import Handler
from andromede.s3.operations import S3Operation
from andromede.s3.operations import Scope as OpScope

__all__ = [
    "ACCESS_POINT_OPERATIONS",
    "AUTHORISED_BY_HANDLER",
    "DATA_READS",
    "HANDLERS",
    "MISSING_KEY_NEEDS_LIST",
    "READS_OBJECT",
    "READ_PREFIXES",
    "VERSION_ADDRESSED",
]

_O = S3Operation
HANDLERS: Final[Mapping[S3Operation, Handler]] = {
    _O.ListBuckets: bucket.list_buckets,
    _O.CreateBucket: bucket.create_bucket,
    _O.HeadBucket: bucket.head_bucket,
    _O.DeleteBucket: bucket.delete_bucket,
    _O.GetBucketLocation: bucket.get_bucket_location,
    _O.GetBucketPolicy: access.get_bucket_policy,
    _O.PutBucketPolicy: access.put_bucket_policy,
    _O.DeleteBucketPolicy: access.delete_bucket_policy,
    _O.GetBucketPolicyStatus: access.get_bucket_policy_status,
    _O.GetBucketAcl: access.get_bucket_acl,
    _O.PutBucketAcl: access.put_bucket_acl,
    _O.GetObjectAcl: access.get_object_acl,
    _O.PutObjectAcl: access.put_object_acl,
    _O.GetBucketOwnershipControls: access.get_bucket_ownership_controls,
    _O.PutBucketOwnershipControls: access.put_bucket_ownership_controls,
    _O.DeleteBucketOwnershipControls: access.delete_bucket_ownership_controls,
    _O.GetBucketAbac: abac.get_bucket_abac,
    _O.PutBucketAbac: abac.put_bucket_abac,
    _O.GetPublicAccessBlock: access.get_public_access_block,
    _O.PutPublicAccessBlock: access.put_public_access_block,
    _O.DeletePublicAccessBlock: access.delete_public_access_block,
    _O.GetBucketEncryption: encryption.get_bucket_encryption,
    _O.PutBucketEncryption: encryption.put_bucket_encryption,
    _O.DeleteBucketEncryption: encryption.delete_bucket_encryption,
    _O.GetBucketTagging: tagging.get_bucket_tagging,
    _O.PutBucketTagging: tagging.put_bucket_tagging,
    _O.DeleteBucketTagging: tagging.delete_bucket_tagging,
    _O.GetObjectTagging: tagging.get_object_tagging,
    _O.PutObjectTagging: tagging.put_object_tagging,
    _O.DeleteObjectTagging: tagging.delete_object_tagging,
    _O.GetObjectAttributes: attributes.get_object_attributes,
    _O.GetBucketCors: cors.get_bucket_cors,
    _O.PutBucketCors: cors.put_bucket_cors,
    _O.DeleteBucketCors: cors.delete_bucket_cors,
    _O.GetBucketLifecycleConfiguration: lifecycle.get_bucket_lifecycle_configuration,
    _O.PutBucketLifecycleConfiguration: lifecycle.put_bucket_lifecycle_configuration,
    _O.DeleteBucketLifecycle: lifecycle.delete_bucket_lifecycle,
    _O.PutBucketInventoryConfiguration: inventory.put_bucket_inventory_configuration,
    _O.GetBucketInventoryConfiguration: inventory.get_bucket_inventory_configuration,
    _O.DeleteBucketInventoryConfiguration: inventory.delete_bucket_inventory_configuration,
    _O.ListBucketInventoryConfigurations: inventory.list_bucket_inventory_configurations,
    _O.PutBucketMetricsConfiguration: metrics.put_bucket_metrics_configuration,
    _O.GetBucketMetricsConfiguration: metrics.get_bucket_metrics_configuration,
    _O.DeleteBucketMetricsConfiguration: metrics.delete_bucket_metrics_configuration,
    _O.ListBucketMetricsConfigurations: metrics.list_bucket_metrics_configurations,
    _O.GetBucketLogging: access_logging.get_bucket_logging,
    _O.PutBucketLogging: access_logging.put_bucket_logging,
    _O.GetBucketNotificationConfiguration: notification.get_bucket_notification_configuration,
    _O.PutBucketNotificationConfiguration: notification.put_bucket_notification_configuration,
    _O.GetBucketReplication: replication.get_bucket_replication,
    _O.PutBucketReplication: replication.put_bucket_replication,
    _O.DeleteBucketReplication: replication.delete_bucket_replication,
    _O.GetObjectLockConfiguration: object_lock.get_object_lock_configuration,
    _O.PutObjectLockConfiguration: object_lock.put_object_lock_configuration,
    _O.GetObjectRetention: object_lock.get_object_retention,
    _O.PutObjectRetention: object_lock.put_object_retention,
    _O.GetObjectLegalHold: object_lock.get_object_legal_hold,
    _O.PutObjectLegalHold: object_lock.put_object_legal_hold,
    _O.GetBucketAccelerateConfiguration: unconfigured.get_bucket_accelerate_configuration,
    _O.GetBucketRequestPayment: request_payment.get_bucket_request_payment,
    _O.PutBucketRequestPayment: request_payment.put_bucket_request_payment,
    _O.GetBucketWebsite: website.get_bucket_website,
    _O.PutBucketWebsite: website.put_bucket_website,
    _O.DeleteBucketWebsite: website.delete_bucket_website,
    _O.GetBucketVersioning: versions.get_bucket_versioning,
    _O.PutBucketVersioning: versions.put_bucket_versioning,
    _O.ListObjectVersions: versions.list_object_versions,
    _O.PostObject: post.post_object,
    _O.ListObjects: listing.list_objects,
    _O.ListObjectsV2: listing.list_objects_v2,
    _O.ListMultipartUploads: listing.list_multipart_uploads,
    _O.ListParts: listing.list_parts,
    _O.PutObject: objects.put_object,
    _O.GetObject: objects.get_object,
    _O.SelectObjectContent: select.select_object_content,
    _O.HeadObject: objects.head_object,
    _O.DeleteObject: objects.delete_object,
    _O.DeleteObjects: objects.delete_objects,
    _O.CopyObject: objects.copy_object,
    _O.CreateMultipartUpload: multipart.create_multipart_upload,
    _O.UploadPart: multipart.upload_part,
    _O.UploadPartCopy: multipart.upload_part_copy,
    _O.CompleteMultipartUpload: multipart.complete_multipart_upload,
    _O.AbortMultipartUpload: multipart.abort_multipart_upload,
}
# SelectObjectContent reads an object (s3:GetObject): audited and logged as GetObject is.
READ_PREFIXES = ("Get", "Head", "List", "Select")
# The reads of a bucket's data that its data-events setting audits (decision 0109): what an
# object holds or says (content, tags, ACL, attributes, lock) and which objects, versions,
# uploads and parts there are. Reads of the bucket's configuration are not data.
DATA_READS = frozenset(
    {
        *(op for op in _O if op.scope is OpScope.OBJECT and op.name.startswith(READ_PREFIXES)),
        _O.ListObjects,
        _O.ListObjectsV2,
        _O.ListObjectVersions,
        _O.ListMultipartUploads,
    }
)
# The operations served through an access point's alias (decision 0157; AWS's "Access point
# compatibility" list, as far as served here): the object calls, the listings, the bucket's
# location and HEAD. Bucket configuration (policies, ACL, CORS, notification…) is not.
ACCESS_POINT_OPERATIONS = frozenset(
    {
        _O.AbortMultipartUpload,
        _O.CompleteMultipartUpload,
        _O.CopyObject,
        _O.CreateMultipartUpload,
        _O.DeleteObject,
        _O.DeleteObjects,
        _O.DeleteObjectTagging,
        _O.GetBucketLocation,
        _O.GetObject,
        _O.GetObjectAcl,
        _O.GetObjectAttributes,
        _O.SelectObjectContent,
        _O.GetObjectLegalHold,
        _O.GetObjectRetention,
        _O.GetObjectTagging,
        _O.HeadBucket,
        _O.HeadObject,
        _O.ListMultipartUploads,
        _O.ListObjects,
        _O.ListObjectsV2,
        _O.ListObjectVersions,
        _O.ListParts,
        _O.PutObject,
        _O.PutObjectAcl,
        _O.PutObjectLegalHold,
        _O.PutObjectRetention,
        _O.PutObjectTagging,
        _O.RestoreObject,
        _O.UploadPart,
        _O.UploadPartCopy,
    }
)
AUTHORISED_BY_HANDLER = frozenset(
    {
        _O.DeleteObjects,
        _O.PutObjectTagging,
        _O.PostObject,
        # Once their body names the retention or hold a policy may test (decision 0104).
        _O.PutObjectRetention,
        _O.PutObjectLegalHold,
    }
)
# Object reads: their object is read with their bucket, in one query
# (RequestAdmission.addressed_bucket).
READS_OBJECT = frozenset({_O.GetObject, _O.HeadObject})
# The object calls that take a version id in a versioned bucket (decision 0097).
VERSION_ADDRESSED = frozenset(
    {
        _O.GetObject,
        _O.HeadObject,
        _O.DeleteObject,
        _O.GetObjectTagging,
        _O.PutObjectTagging,
        _O.DeleteObjectTagging,
        _O.GetObjectAcl,
        _O.PutObjectAcl,
        _O.GetObjectAttributes,
        _O.GetObjectRetention,
        _O.PutObjectRetention,
        _O.GetObjectLegalHold,
        _O.PutObjectLegalHold,
    }
)
# Reads that tell a missing key apart only to a caller who may list the bucket (decision 0080).
MISSING_KEY_NEEDS_LIST = frozenset(
    {_O.GetObject, _O.HeadObject, _O.GetObjectAttributes, _O.SelectObjectContent}
)
