"""The action catalogue's services that carry data streams and certificates, the ``firehose``,
``kinesis`` and ``acm`` services of :mod:`andromede.iam.policy.actions` (decisions 0223, 0228,
0230). Kept apart so that the catalogue stays under STYLE.md's size."""

from __future__ import annotations

__all__ = ["ACM_ACTIONS", "FIREHOSE_ACTIONS", "KINESIS_ACTIONS"]

# Amazon Data Firehose (decision 0223): every operation of AWS's model.
FIREHOSE_ACTIONS = (
    "CreateDeliveryStream",
    "DeleteDeliveryStream",
    "DescribeDeliveryStream",
    "ListDeliveryStreams",
    "ListTagsForDeliveryStream",
    "PutRecord",
    "PutRecordBatch",
    "StartDeliveryStreamEncryption",
    "StopDeliveryStreamEncryption",
    "TagDeliveryStream",
    "UntagDeliveryStream",
    "UpdateDestination",
)

# Decision 0228: every Kinesis Data Streams action AWS's IAM knows, served or not, so that a
# policy naming one is valid (those not served are answered UnknownOperationException).
KINESIS_ACTIONS = (
    "AddTagsToStream", "CreateStream", "DecreaseStreamRetentionPeriod", "DeleteResourcePolicy",
    "DeleteStream", "DeregisterStreamConsumer", "DescribeAccountSettings", "DescribeLimits",
    "DescribeStream", "DescribeStreamConsumer", "DescribeStreamSummary",
    "DisableEnhancedMonitoring", "EnableEnhancedMonitoring", "GetRecords", "GetResourcePolicy",
    "GetShardIterator", "IncreaseStreamRetentionPeriod", "ListShards", "ListStreamConsumers",
    "ListStreams", "ListTagsForResource", "ListTagsForStream", "MergeShards", "PutRecord",
    "PutRecords", "PutResourcePolicy", "RegisterStreamConsumer", "RemoveTagsFromStream",
    "SplitShard", "StartStreamEncryption", "StopStreamEncryption", "SubscribeToShard",
    "TagResource", "UntagResource", "UpdateAccountSettings", "UpdateMaxRecordSize",
    "UpdateShardCount", "UpdateStreamMode", "UpdateStreamWarmThroughput",
)  # fmt: skip


# AWS Certificate Manager (decision 0230): every operation of AWS's 2015-12-08 model, so that a
# policy naming one not served (public issuing, ACME, inventory) is valid.
ACM_ACTIONS = (
    "AddTagsToCertificate", "CreateAcmeDomainValidation", "CreateAcmeEndpoint",
    "CreateAcmeExternalAccountBinding", "DeleteAcmeDomainValidation", "DeleteAcmeEndpoint",
    "DeleteAcmeExternalAccountBinding", "DeleteCertificate", "DeleteMemberCertificate",
    "DeleteMemberCertificateAuthority", "DescribeAcmeAccount", "DescribeAcmeDomainValidation",
    "DescribeAcmeEndpoint", "DescribeAcmeExternalAccountBinding", "DescribeCertificate",
    "ExportCertificate", "GetAccountConfiguration", "GetAcmeExternalAccountBindingCredentials",
    "GetCertificate", "GetInventoryConfiguration", "GetInventoryInsights", "ImportCertificate",
    "ListAcmeAccounts", "ListAcmeDomainValidations", "ListAcmeEndpoints",
    "ListAcmeExternalAccountBindings", "ListCertificateDomainValidations", "ListCertificates",
    "ListInventoryFindings", "ListInventoryRelatedResources", "ListInventoryUsages",
    "ListTagsForCertificate", "ListTagsForResource", "PutAccountConfiguration",
    "PutInventoryConfiguration", "RemoveTagsFromCertificate", "RenewCertificate",
    "RenewMemberCertificate", "RequestCertificate", "ResendValidationEmail",
    "RestoreMemberCertificateAuthority", "RevokeAcmeAccount", "RevokeAcmeExternalAccountBinding",
    "RevokeCertificate", "RevokeMemberCertificate", "RevokeMemberIssuedCertificate",
    "SearchCertificates", "SearchInventory", "TagResource", "UntagResource",
    "UpdateAcmeDomainValidation", "UpdateAcmeEndpoint", "UpdateCertificateOptions",
    "UpdateMemberCertificateAuthority", "UpdateMemberCertificateOptions",
)  # fmt: skip
