"""Amazon DynamoDB's IAM actions (decision 0247), the ``dynamodb`` service of the action
catalogue (:mod:`andromede.iam.policy.actions`): every action of AWS's Service Authorization
Reference for ``dynamodb``, served or not, so that ``dynamodb:GetIteem`` is refused when a
policy is written, as IAM refuses it, and a policy naming an action served later is accepted
now. The tables, items, queries, transactions, indexes and PartiQL are served (decisions 0237,
0243, 0247); ``TransactGetItems`` / ``TransactWriteItems`` are no actions of their own (each
part is authorised as the item call it stands for), nor are ``ExecuteStatement`` and its
kin (authorised as ``PartiQLSelect`` / ``Insert`` / ``Update`` / ``Delete``), as on AWS.
Kept apart so that the catalogue stays under STYLE.md's size."""

from __future__ import annotations

__all__ = ["DYNAMODB_ACTIONS"]

DYNAMODB_ACTIONS = tuple(
    """
    AssociateTableReplica BatchGetItem BatchWriteItem ConditionCheckItem CreateBackup
    CreateGlobalTable CreateGlobalTableWitness CreateTable CreateTableReplica DeleteBackup
    DeleteGlobalTableWitness DeleteItem DeleteResourcePolicy DeleteTable DeleteTableReplica
    DescribeBackup DescribeContinuousBackups DescribeContributorInsights DescribeEndpoints
    DescribeExport DescribeGlobalTable DescribeGlobalTableSettings DescribeImport
    DescribeKinesisStreamingDestination DescribeLimits DescribeReservedCapacity
    DescribeReservedCapacityOfferings DescribeStream DescribeTable
    DescribeTableReplicaAutoScaling DescribeTimeToLive DisableKinesisStreamingDestination
    EnableKinesisStreamingDestination ExportTableToPointInTime GetAbacStatus GetItem
    GetRecords GetResourcePolicy GetShardIterator ImportTable InjectError ListBackups
    ListContributorInsights ListExports ListGlobalTables ListImports ListStreams ListTables
    ListTagsOfResource PartiQLDelete PartiQLInsert PartiQLSelect PartiQLUpdate
    PurchaseReservedCapacityOfferings PutItem PutResourcePolicy Query ReadDataForReplication
    ReplicateSettings RestoreTableFromAwsBackup RestoreTableFromBackup
    RestoreTableToPointInTime Scan SearchVectors StartAwsBackupJob TagResource UntagResource
    UpdateAbacStatus UpdateContinuousBackups UpdateContributorInsights UpdateGlobalTable
    UpdateGlobalTableSettings UpdateGlobalTableVersion UpdateItem
    UpdateKinesisStreamingDestination UpdateTable UpdateTableReplicaAutoScaling
    UpdateTimeToLive WriteDataForReplication
    """.split()
)
