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
    """(IAM action, scope, implemented). The member name is the S3 API operation name."""

    def __init__(self, action: str, scope: Scope, implemented: bool) -> None:
        self.action = action
        self.scope = scope
        self.implemented = implemented

    # -- service -------------------------------------------------------------------------------
    ListBuckets = ("s3:ListAllMyBuckets", Scope.SERVICE, True)
    # -- buckets -------------------------------------------------------------------------------
    CreateBucket = ("s3:CreateBucket", Scope.BUCKET, True)
    HeadBucket = ("s3:ListBucket", Scope.BUCKET, True)
    DeleteBucket = ("s3:DeleteBucket", Scope.BUCKET, True)
    GetBucketLocation = ("s3:GetBucketLocation", Scope.BUCKET, True)
    ListObjects = ("s3:ListBucket", Scope.BUCKET, True)
    ListObjectsV2 = ("s3:ListBucket", Scope.BUCKET, True)
    ListMultipartUploads = ("s3:ListBucketMultipartUploads", Scope.BUCKET, True)
    DeleteObjects = ("s3:DeleteObject", Scope.BUCKET, True)
    ListObjectVersions = ("s3:ListBucketVersions", Scope.BUCKET, False)
    GetBucketAcl = ("s3:GetBucketAcl", Scope.BUCKET, False)
    PutBucketAcl = ("s3:PutBucketAcl", Scope.BUCKET, False)
    GetBucketPolicy = ("s3:GetBucketPolicy", Scope.BUCKET, False)
    PutBucketPolicy = ("s3:PutBucketPolicy", Scope.BUCKET, False)
    DeleteBucketPolicy = ("s3:DeleteBucketPolicy", Scope.BUCKET, False)
    GetBucketPolicyStatus = ("s3:GetBucketPolicyStatus", Scope.BUCKET, False)
    GetBucketVersioning = ("s3:GetBucketVersioning", Scope.BUCKET, False)
    PutBucketVersioning = ("s3:PutBucketVersioning", Scope.BUCKET, False)
    GetBucketCors = ("s3:GetBucketCORS", Scope.BUCKET, False)
    PutBucketCors = ("s3:PutBucketCORS", Scope.BUCKET, False)
    DeleteBucketCors = ("s3:PutBucketCORS", Scope.BUCKET, False)
    GetBucketLifecycleConfiguration = ("s3:GetLifecycleConfiguration", Scope.BUCKET, False)
    PutBucketLifecycleConfiguration = ("s3:PutLifecycleConfiguration", Scope.BUCKET, False)
    DeleteBucketLifecycle = ("s3:PutLifecycleConfiguration", Scope.BUCKET, False)
    GetBucketTagging = ("s3:GetBucketTagging", Scope.BUCKET, False)
    PutBucketTagging = ("s3:PutBucketTagging", Scope.BUCKET, False)
    DeleteBucketTagging = ("s3:PutBucketTagging", Scope.BUCKET, False)
    GetBucketEncryption = ("s3:GetEncryptionConfiguration", Scope.BUCKET, False)
    PutBucketEncryption = ("s3:PutEncryptionConfiguration", Scope.BUCKET, False)
    DeleteBucketEncryption = ("s3:PutEncryptionConfiguration", Scope.BUCKET, False)
    GetBucketWebsite = ("s3:GetBucketWebsite", Scope.BUCKET, False)
    PutBucketWebsite = ("s3:PutBucketWebsite", Scope.BUCKET, False)
    DeleteBucketWebsite = ("s3:DeleteBucketWebsite", Scope.BUCKET, False)
    GetBucketLogging = ("s3:GetBucketLogging", Scope.BUCKET, False)
    PutBucketLogging = ("s3:PutBucketLogging", Scope.BUCKET, False)
    GetBucketNotificationConfiguration = ("s3:GetBucketNotification", Scope.BUCKET, False)
    PutBucketNotificationConfiguration = ("s3:PutBucketNotification", Scope.BUCKET, False)
    GetBucketReplication = ("s3:GetReplicationConfiguration", Scope.BUCKET, False)
    PutBucketReplication = ("s3:PutReplicationConfiguration", Scope.BUCKET, False)
    DeleteBucketReplication = ("s3:PutReplicationConfiguration", Scope.BUCKET, False)
    GetBucketOwnershipControls = ("s3:GetBucketOwnershipControls", Scope.BUCKET, False)
    PutBucketOwnershipControls = ("s3:PutBucketOwnershipControls", Scope.BUCKET, False)
    DeleteBucketOwnershipControls = ("s3:PutBucketOwnershipControls", Scope.BUCKET, False)
    GetPublicAccessBlock = ("s3:GetBucketPublicAccessBlock", Scope.BUCKET, False)
    PutPublicAccessBlock = ("s3:PutBucketPublicAccessBlock", Scope.BUCKET, False)
    DeletePublicAccessBlock = ("s3:PutBucketPublicAccessBlock", Scope.BUCKET, False)
    GetObjectLockConfiguration = ("s3:GetBucketObjectLockConfiguration", Scope.BUCKET, False)
    PutObjectLockConfiguration = ("s3:PutBucketObjectLockConfiguration", Scope.BUCKET, False)
    GetBucketAccelerateConfiguration = ("s3:GetAccelerateConfiguration", Scope.BUCKET, False)
    PutBucketAccelerateConfiguration = ("s3:PutAccelerateConfiguration", Scope.BUCKET, False)
    GetBucketRequestPayment = ("s3:GetBucketRequestPayment", Scope.BUCKET, False)
    PutBucketRequestPayment = ("s3:PutBucketRequestPayment", Scope.BUCKET, False)
    PostObject = ("s3:PutObject", Scope.BUCKET, False)
    # -- objects -------------------------------------------------------------------------------
    PutObject = ("s3:PutObject", Scope.OBJECT, True)
    CopyObject = ("s3:PutObject", Scope.OBJECT, True)
    GetObject = ("s3:GetObject", Scope.OBJECT, True)
    HeadObject = ("s3:GetObject", Scope.OBJECT, True)
    DeleteObject = ("s3:DeleteObject", Scope.OBJECT, True)
    CreateMultipartUpload = ("s3:PutObject", Scope.OBJECT, True)
    UploadPart = ("s3:PutObject", Scope.OBJECT, True)
    UploadPartCopy = ("s3:PutObject", Scope.OBJECT, True)
    CompleteMultipartUpload = ("s3:PutObject", Scope.OBJECT, True)
    AbortMultipartUpload = ("s3:AbortMultipartUpload", Scope.OBJECT, True)
    ListParts = ("s3:ListMultipartUploadParts", Scope.OBJECT, True)
    GetObjectAcl = ("s3:GetObjectAcl", Scope.OBJECT, False)
    PutObjectAcl = ("s3:PutObjectAcl", Scope.OBJECT, False)
    GetObjectTagging = ("s3:GetObjectTagging", Scope.OBJECT, False)
    PutObjectTagging = ("s3:PutObjectTagging", Scope.OBJECT, False)
    DeleteObjectTagging = ("s3:DeleteObjectTagging", Scope.OBJECT, False)
    GetObjectAttributes = ("s3:GetObjectAttributes", Scope.OBJECT, False)
    GetObjectRetention = ("s3:GetObjectRetention", Scope.OBJECT, False)
    PutObjectRetention = ("s3:PutObjectRetention", Scope.OBJECT, False)
    GetObjectLegalHold = ("s3:GetObjectLegalHold", Scope.OBJECT, False)
    PutObjectLegalHold = ("s3:PutObjectLegalHold", Scope.OBJECT, False)
    GetObjectTorrent = ("s3:GetObjectTorrent", Scope.OBJECT, False)
    RestoreObject = ("s3:RestoreObject", Scope.OBJECT, False)
    SelectObjectContent = ("s3:GetObject", Scope.OBJECT, False)
