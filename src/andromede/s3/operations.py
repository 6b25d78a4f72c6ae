"""Every S3 operation, implemented or not, with the IAM action it needs — as data.

The router turns a request into one :class:`S3Operation`; the app checks ``implemented`` and
answers ``NotImplemented`` (501) for the rest, never a silent 200. The IAM issue authorises each
operation through ``action`` against the resource its ``scope`` names.
"""

from __future__ import annotations

import enum

__all__ = ["S3Operation", "Scope"]


class Scope(enum.Enum):
    SERVICE = "service"  # no bucket: arn:aws:s3:::*
    BUCKET = "bucket"  # arn:aws:s3:::bucket
    OBJECT = "object"  # arn:aws:s3:::bucket/key


class S3Operation(enum.Enum):
    """(S3 API name, IAM action, scope, implemented).

    The name is part of the value because several operations share an action and a scope
    (PutObject, UploadPart…): without it Enum would make them aliases of one member.
    """

    def __init__(self, api_name: str, action: str, scope: Scope, implemented: bool) -> None:
        self.action = action
        self.scope = scope
        self.implemented = implemented

    # -- service -------------------------------------------------------------------------------
    ListBuckets = ("ListBuckets", "s3:ListAllMyBuckets", Scope.SERVICE, True)
    # -- buckets -------------------------------------------------------------------------------
    CreateBucket = ("CreateBucket", "s3:CreateBucket", Scope.BUCKET, True)
    HeadBucket = ("HeadBucket", "s3:ListBucket", Scope.BUCKET, True)
    DeleteBucket = ("DeleteBucket", "s3:DeleteBucket", Scope.BUCKET, True)
    GetBucketLocation = ("GetBucketLocation", "s3:GetBucketLocation", Scope.BUCKET, True)
    ListObjects = ("ListObjects", "s3:ListBucket", Scope.BUCKET, True)
    ListObjectsV2 = ("ListObjectsV2", "s3:ListBucket", Scope.BUCKET, True)
    ListMultipartUploads = (
        "ListMultipartUploads",
        "s3:ListBucketMultipartUploads",
        Scope.BUCKET,
        True,
    )
    DeleteObjects = ("DeleteObjects", "s3:DeleteObject", Scope.BUCKET, True)
    ListObjectVersions = ("ListObjectVersions", "s3:ListBucketVersions", Scope.BUCKET, True)
    GetBucketAcl = ("GetBucketAcl", "s3:GetBucketAcl", Scope.BUCKET, True)
    PutBucketAcl = ("PutBucketAcl", "s3:PutBucketAcl", Scope.BUCKET, True)
    GetBucketPolicy = ("GetBucketPolicy", "s3:GetBucketPolicy", Scope.BUCKET, True)
    PutBucketPolicy = ("PutBucketPolicy", "s3:PutBucketPolicy", Scope.BUCKET, True)
    DeleteBucketPolicy = ("DeleteBucketPolicy", "s3:DeleteBucketPolicy", Scope.BUCKET, True)
    GetBucketPolicyStatus = (
        "GetBucketPolicyStatus",
        "s3:GetBucketPolicyStatus",
        Scope.BUCKET,
        True,
    )
    GetBucketVersioning = ("GetBucketVersioning", "s3:GetBucketVersioning", Scope.BUCKET, True)
    PutBucketVersioning = ("PutBucketVersioning", "s3:PutBucketVersioning", Scope.BUCKET, True)
    GetBucketCors = ("GetBucketCors", "s3:GetBucketCORS", Scope.BUCKET, True)
    PutBucketCors = ("PutBucketCors", "s3:PutBucketCORS", Scope.BUCKET, True)
    DeleteBucketCors = ("DeleteBucketCors", "s3:PutBucketCORS", Scope.BUCKET, True)
    GetBucketLifecycleConfiguration = (
        "GetBucketLifecycleConfiguration",
        "s3:GetLifecycleConfiguration",
        Scope.BUCKET,
        True,
    )
    PutBucketLifecycleConfiguration = (
        "PutBucketLifecycleConfiguration",
        "s3:PutLifecycleConfiguration",
        Scope.BUCKET,
        True,
    )
    DeleteBucketLifecycle = (
        "DeleteBucketLifecycle",
        "s3:PutLifecycleConfiguration",
        Scope.BUCKET,
        True,
    )
    GetBucketTagging = ("GetBucketTagging", "s3:GetBucketTagging", Scope.BUCKET, True)
    PutBucketTagging = ("PutBucketTagging", "s3:PutBucketTagging", Scope.BUCKET, True)
    DeleteBucketTagging = ("DeleteBucketTagging", "s3:PutBucketTagging", Scope.BUCKET, True)
    GetBucketEncryption = (
        "GetBucketEncryption",
        "s3:GetEncryptionConfiguration",
        Scope.BUCKET,
        True,
    )
    PutBucketEncryption = (
        "PutBucketEncryption",
        "s3:PutEncryptionConfiguration",
        Scope.BUCKET,
        True,
    )
    DeleteBucketEncryption = (
        "DeleteBucketEncryption",
        "s3:PutEncryptionConfiguration",
        Scope.BUCKET,
        True,
    )
    GetBucketWebsite = ("GetBucketWebsite", "s3:GetBucketWebsite", Scope.BUCKET, True)
    PutBucketWebsite = ("PutBucketWebsite", "s3:PutBucketWebsite", Scope.BUCKET, True)
    DeleteBucketWebsite = ("DeleteBucketWebsite", "s3:DeleteBucketWebsite", Scope.BUCKET, True)
    GetBucketLogging = ("GetBucketLogging", "s3:GetBucketLogging", Scope.BUCKET, True)
    PutBucketLogging = ("PutBucketLogging", "s3:PutBucketLogging", Scope.BUCKET, True)
    GetBucketNotificationConfiguration = (
        "GetBucketNotificationConfiguration",
        "s3:GetBucketNotification",
        Scope.BUCKET,
        True,
    )
    PutBucketNotificationConfiguration = (
        "PutBucketNotificationConfiguration",
        "s3:PutBucketNotification",
        Scope.BUCKET,
        True,
    )
    GetBucketReplication = (
        "GetBucketReplication",
        "s3:GetReplicationConfiguration",
        Scope.BUCKET,
        True,
    )
    PutBucketReplication = (
        "PutBucketReplication",
        "s3:PutReplicationConfiguration",
        Scope.BUCKET,
        True,
    )
    DeleteBucketReplication = (
        "DeleteBucketReplication",
        "s3:PutReplicationConfiguration",
        Scope.BUCKET,
        True,
    )
    GetBucketOwnershipControls = (
        "GetBucketOwnershipControls",
        "s3:GetBucketOwnershipControls",
        Scope.BUCKET,
        True,
    )
    PutBucketOwnershipControls = (
        "PutBucketOwnershipControls",
        "s3:PutBucketOwnershipControls",
        Scope.BUCKET,
        True,
    )
    DeleteBucketOwnershipControls = (
        "DeleteBucketOwnershipControls",
        "s3:PutBucketOwnershipControls",
        Scope.BUCKET,
        True,
    )
    # ABAC (decision 0418): IAM spells the actions s3:GetBucketABAC / s3:PutBucketABAC.
    GetBucketAbac = ("GetBucketAbac", "s3:GetBucketABAC", Scope.BUCKET, True)
    PutBucketAbac = ("PutBucketAbac", "s3:PutBucketABAC", Scope.BUCKET, True)
    GetPublicAccessBlock = (
        "GetPublicAccessBlock",
        "s3:GetBucketPublicAccessBlock",
        Scope.BUCKET,
        True,
    )
    PutPublicAccessBlock = (
        "PutPublicAccessBlock",
        "s3:PutBucketPublicAccessBlock",
        Scope.BUCKET,
        True,
    )
    DeletePublicAccessBlock = (
        "DeletePublicAccessBlock",
        "s3:PutBucketPublicAccessBlock",
        Scope.BUCKET,
        True,
    )
    GetObjectLockConfiguration = (
        "GetObjectLockConfiguration",
        "s3:GetBucketObjectLockConfiguration",
        Scope.BUCKET,
        True,
    )
    PutObjectLockConfiguration = (
        "PutObjectLockConfiguration",
        "s3:PutBucketObjectLockConfiguration",
        Scope.BUCKET,
        True,
    )
    GetBucketAccelerateConfiguration = (
        "GetBucketAccelerateConfiguration",
        "s3:GetAccelerateConfiguration",
        Scope.BUCKET,
        True,
    )
    PutBucketAccelerateConfiguration = (
        "PutBucketAccelerateConfiguration",
        "s3:PutAccelerateConfiguration",
        Scope.BUCKET,
        False,
    )
    GetBucketRequestPayment = (
        "GetBucketRequestPayment",
        "s3:GetBucketRequestPayment",
        Scope.BUCKET,
        True,
    )
    PutBucketRequestPayment = (
        "PutBucketRequestPayment",
        "s3:PutBucketRequestPayment",
        Scope.BUCKET,
        True,
    )
    # S3 Inventory (decision 0154): AWS authorises all four by these two actions.
    PutBucketInventoryConfiguration = (
        "PutBucketInventoryConfiguration",
        "s3:PutInventoryConfiguration",
        Scope.BUCKET,
        True,
    )
    GetBucketInventoryConfiguration = (
        "GetBucketInventoryConfiguration",
        "s3:GetInventoryConfiguration",
        Scope.BUCKET,
        True,
    )
    DeleteBucketInventoryConfiguration = (
        "DeleteBucketInventoryConfiguration",
        "s3:PutInventoryConfiguration",
        Scope.BUCKET,
        True,
    )
    ListBucketInventoryConfigurations = (
        "ListBucketInventoryConfigurations",
        "s3:GetInventoryConfiguration",
        Scope.BUCKET,
        True,
    )
    # S3 request metrics configurations (decision 0187): as AWS, List is authorised by the
    # Get action and Delete by the Put one.
    PutBucketMetricsConfiguration = (
        "PutBucketMetricsConfiguration",
        "s3:PutMetricsConfiguration",
        Scope.BUCKET,
        True,
    )
    GetBucketMetricsConfiguration = (
        "GetBucketMetricsConfiguration",
        "s3:GetMetricsConfiguration",
        Scope.BUCKET,
        True,
    )
    DeleteBucketMetricsConfiguration = (
        "DeleteBucketMetricsConfiguration",
        "s3:PutMetricsConfiguration",
        Scope.BUCKET,
        True,
    )
    ListBucketMetricsConfigurations = (
        "ListBucketMetricsConfigurations",
        "s3:GetMetricsConfiguration",
        Scope.BUCKET,
        True,
    )
    PostObject = ("PostObject", "s3:PutObject", Scope.BUCKET, True)
    # -- objects -------------------------------------------------------------------------------
    PutObject = ("PutObject", "s3:PutObject", Scope.OBJECT, True)
    CopyObject = ("CopyObject", "s3:PutObject", Scope.OBJECT, True)
    GetObject = ("GetObject", "s3:GetObject", Scope.OBJECT, True)
    HeadObject = ("HeadObject", "s3:GetObject", Scope.OBJECT, True)
    DeleteObject = ("DeleteObject", "s3:DeleteObject", Scope.OBJECT, True)
    CreateMultipartUpload = ("CreateMultipartUpload", "s3:PutObject", Scope.OBJECT, True)
    UploadPart = ("UploadPart", "s3:PutObject", Scope.OBJECT, True)
    UploadPartCopy = ("UploadPartCopy", "s3:PutObject", Scope.OBJECT, True)
    CompleteMultipartUpload = ("CompleteMultipartUpload", "s3:PutObject", Scope.OBJECT, True)
    AbortMultipartUpload = ("AbortMultipartUpload", "s3:AbortMultipartUpload", Scope.OBJECT, True)
    ListParts = ("ListParts", "s3:ListMultipartUploadParts", Scope.OBJECT, True)
    GetObjectAcl = ("GetObjectAcl", "s3:GetObjectAcl", Scope.OBJECT, True)
    PutObjectAcl = ("PutObjectAcl", "s3:PutObjectAcl", Scope.OBJECT, True)
    GetObjectTagging = ("GetObjectTagging", "s3:GetObjectTagging", Scope.OBJECT, True)
    PutObjectTagging = ("PutObjectTagging", "s3:PutObjectTagging", Scope.OBJECT, True)
    DeleteObjectTagging = ("DeleteObjectTagging", "s3:DeleteObjectTagging", Scope.OBJECT, True)
    GetObjectAttributes = ("GetObjectAttributes", "s3:GetObjectAttributes", Scope.OBJECT, True)
    GetObjectRetention = ("GetObjectRetention", "s3:GetObjectRetention", Scope.OBJECT, True)
    PutObjectRetention = ("PutObjectRetention", "s3:PutObjectRetention", Scope.OBJECT, True)
    GetObjectLegalHold = ("GetObjectLegalHold", "s3:GetObjectLegalHold", Scope.OBJECT, True)
    PutObjectLegalHold = ("PutObjectLegalHold", "s3:PutObjectLegalHold", Scope.OBJECT, True)
    GetObjectTorrent = ("GetObjectTorrent", "s3:GetObjectTorrent", Scope.OBJECT, False)
    RestoreObject = ("RestoreObject", "s3:RestoreObject", Scope.OBJECT, False)
    SelectObjectContent = ("SelectObjectContent", "s3:GetObject", Scope.OBJECT, True)
