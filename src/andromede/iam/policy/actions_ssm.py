"""Systems Manager's IAM actions (decision 0249), the ``ssm`` service of
:mod:`andromede.iam.policy.actions`: every action AWS's IAM knows for ``ssm``, served or not,
so that a policy naming one is valid and ``ssm:GetParamter`` is refused when a policy is
written (only Parameter Store is served; the other operations answer
UnknownOperationException). Kept apart so that the catalogue stays under STYLE.md's size.

Every operation of AWS's ``ssm`` 2014-11-06 API, and the permission-only actions of the
Service Authorization Reference (the agent's ``GetManifest``, ``PutConfigurePackageResult``,
``UpdateInstanceInformation``, ``ListInstanceAssociations``,
``UpdateInstanceAssociationStatus``; the console's ``DescribeDocumentParameters``; Change
Calendar's ``GetCalendar`` and ``PutCalendar``)."""

from __future__ import annotations

__all__ = ["SSM_ACTIONS"]

SSM_ACTIONS = (
    "AddTagsToResource", "AssociateOpsItemRelatedItem", "CancelCommand",
    "CancelMaintenanceWindowExecution", "CreateActivation", "CreateAssociation",
    "CreateAssociationBatch", "CreateCloudConnector", "CreateDocument", "CreateMaintenanceWindow",
    "CreateOpsItem", "CreateOpsMetadata", "CreatePatchBaseline", "CreateResourceDataSync",
    "DeleteActivation", "DeleteAssociation", "DeleteCloudConnector", "DeleteDocument",
    "DeleteInventory", "DeleteMaintenanceWindow", "DeleteOpsItem", "DeleteOpsMetadata",
    "DeleteParameter", "DeleteParameters", "DeletePatchBaseline", "DeleteResourceDataSync",
    "DeleteResourcePolicy", "DeregisterDefaultHostManagementConfiguration",
    "DeregisterManagedInstance", "DeregisterPatchBaselineForPatchGroup",
    "DeregisterTargetFromMaintenanceWindow", "DeregisterTaskFromMaintenanceWindow",
    "DescribeActivations", "DescribeAssociation", "DescribeAssociationExecutionTargets",
    "DescribeAssociationExecutions", "DescribeAutomationExecutions",
    "DescribeAutomationStepExecutions", "DescribeAvailablePatches", "DescribeDocument",
    "DescribeDocumentParameters", "DescribeDocumentPermission",
    "DescribeEffectiveInstanceAssociations", "DescribeEffectivePatchesForPatchBaseline",
    "DescribeInstanceAssociationsStatus", "DescribeInstanceInformation",
    "DescribeInstancePatchStates", "DescribeInstancePatchStatesForPatchGroup",
    "DescribeInstancePatches", "DescribeInstanceProperties", "DescribeInventoryDeletions",
    "DescribeMaintenanceWindowExecutionTaskInvocations", "DescribeMaintenanceWindowExecutionTasks",
    "DescribeMaintenanceWindowExecutions", "DescribeMaintenanceWindowSchedule",
    "DescribeMaintenanceWindowTargets", "DescribeMaintenanceWindowTasks",
    "DescribeMaintenanceWindows", "DescribeMaintenanceWindowsForTarget", "DescribeOpsItems",
    "DescribeParameters", "DescribePatchBaselines", "DescribePatchGroupState",
    "DescribePatchGroups", "DescribePatchProperties", "DescribeSessions",
    "DisassociateOpsItemRelatedItem", "GetAccessToken", "GetAutomationExecution", "GetCalendar",
    "GetCalendarState", "GetCloudConnector", "GetCommandInvocation", "GetConnectionStatus",
    "GetDefaultPatchBaseline", "GetDeployablePatchSnapshotForInstance", "GetDocument",
    "GetExecutionPreview", "GetInventory", "GetInventorySchema", "GetMaintenanceWindow",
    "GetMaintenanceWindowExecution", "GetMaintenanceWindowExecutionTask",
    "GetMaintenanceWindowExecutionTaskInvocation", "GetMaintenanceWindowTask", "GetManifest",
    "GetOpsItem", "GetOpsMetadata", "GetOpsSummary", "GetParameter", "GetParameterHistory",
    "GetParameters", "GetParametersByPath", "GetPatchBaseline", "GetPatchBaselineForPatchGroup",
    "GetResourcePolicies", "GetServiceSetting", "LabelParameterVersion", "ListAssociationVersions",
    "ListAssociations", "ListCloudConnectors", "ListCommandInvocations", "ListCommands",
    "ListComplianceItems", "ListComplianceSummaries", "ListDocumentMetadataHistory",
    "ListDocumentVersions", "ListDocuments", "ListInstanceAssociations", "ListInventoryEntries",
    "ListNodes", "ListNodesSummary", "ListOpsItemEvents", "ListOpsItemRelatedItems",
    "ListOpsMetadata", "ListResourceComplianceSummaries", "ListResourceDataSync",
    "ListTagsForResource", "ModifyDocumentPermission", "PutCalendar", "PutComplianceItems",
    "PutConfigurePackageResult", "PutInventory", "PutParameter", "PutResourcePolicy",
    "RegisterDefaultHostManagementConfiguration", "RegisterDefaultPatchBaseline",
    "RegisterPatchBaselineForPatchGroup", "RegisterTargetWithMaintenanceWindow",
    "RegisterTaskWithMaintenanceWindow", "RemoveTagsFromResource", "ResetServiceSetting",
    "ResumeSession", "SendAutomationSignal", "SendCommand", "StartAccessRequest",
    "StartAssociationsOnce", "StartAutomationExecution", "StartChangeRequestExecution",
    "StartExecutionPreview", "StartSession", "StopAutomationExecution", "TerminateSession",
    "UnlabelParameterVersion", "UpdateAssociation", "UpdateAssociationStatus",
    "UpdateCloudConnector", "UpdateDocument", "UpdateDocumentDefaultVersion",
    "UpdateDocumentMetadata", "UpdateInstanceAssociationStatus", "UpdateInstanceInformation",
    "UpdateMaintenanceWindow", "UpdateMaintenanceWindowTarget", "UpdateMaintenanceWindowTask",
    "UpdateManagedInstanceRole", "UpdateOpsItem", "UpdateOpsMetadata", "UpdatePatchBaseline",
    "UpdateResourceDataSync", "UpdateServiceSetting", "ValidateCloudConnector",
)  # fmt: skip
