"""CloudWatch Logs' IAM actions (decision 0186), the ``logs`` service of the action catalogue
(:mod:`andromede.iam.policy.actions`): every operation of AWS's model, so that a policy naming
one served later is accepted now; the groups, streams, events, retention, keys and tags are
served (``andromede.logsapi.actions``). Kept apart so that the catalogue stays under STYLE.md's
size."""

from __future__ import annotations

__all__ = ["LOGS_ACTIONS"]

LOGS_ACTIONS = tuple(
    """
    AssociateKmsKey AssociateSourceToS3TableIntegration CancelExportTask CancelImportTask
    CreateDelivery CreateExportTask CreateImportTask CreateLogAnomalyDetector CreateLogGroup
    CreateLogStream CreateLookupTable CreateScheduledQuery DeleteAccountPolicy
    DeleteDataProtectionPolicy DeleteDelivery DeleteDeliveryDestination
    DeleteDeliveryDestinationPolicy DeleteDeliverySource DeleteDestination DeleteIndexPolicy
    DeleteIntegration DeleteLogAnomalyDetector DeleteLogGroup DeleteLogStream DeleteLookupTable
    DeleteMetricFilter DeleteQueryDefinition DeleteResourcePolicy DeleteRetentionPolicy
    DeleteScheduledQuery DeleteSubscriptionFilter DeleteSyslogConfiguration DeleteTransformer
    DescribeAccountPolicies DescribeConfigurationTemplates DescribeDeliveries
    DescribeDeliveryDestinations DescribeDeliverySources DescribeDestinations
    DescribeExportTasks DescribeFieldIndexes DescribeImportTaskBatches DescribeImportTasks
    DescribeIndexPolicies DescribeLogGroups DescribeLogStreams DescribeLookupTables
    DescribeMetricFilters DescribeQueries DescribeQueryDefinitions DescribeResourcePolicies
    DescribeSubscriptionFilters DisassociateKmsKey DisassociateSourceFromS3TableIntegration
    FilterLogEvents GetDataProtectionPolicy GetDelivery GetDeliveryDestination
    GetDeliveryDestinationPolicy GetDeliverySource GetIntegration GetLogAnomalyDetector
    GetLogEvents GetLogFields GetLogGroupFields GetLogObject GetLogRecord GetLookupTable
    GetQueryResults GetScheduledQuery GetScheduledQueryHistory GetStorageTierPolicy
    GetTransformer ListAggregateLogGroupSummaries ListAnomalies ListIntegrations
    ListLogAnomalyDetectors ListLogGroups ListLogGroupsForQuery ListScheduledQueries
    ListSourcesForS3TableIntegration ListSyslogConfigurations ListTagsForResource
    ListTagsLogGroup PutAccountPolicy PutBearerTokenAuthentication PutDataProtectionPolicy
    PutDeliveryDestination PutDeliveryDestinationPolicy PutDeliverySource PutDestination
    PutDestinationPolicy PutIndexPolicy PutIntegration PutLogEvents
    PutLogGroupDeletionProtection PutMetricFilter PutQueryDefinition PutResourcePolicy
    PutRetentionPolicy PutStorageTierPolicy PutSubscriptionFilter PutSyslogConfiguration
    PutTransformer StartLiveTail StartQuery StopQuery TagLogGroup TagResource TestMetricFilter
    TestTransformer Unmask UntagLogGroup UntagResource UpdateAnomaly UpdateDeliveryConfiguration
    UpdateLogAnomalyDetector UpdateLookupTable UpdateScheduledQuery
    """.split()
)
