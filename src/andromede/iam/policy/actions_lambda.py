"""AWS Lambda's IAM actions (decision 0286), the ``lambda`` service of
:mod:`andromede.iam.policy.actions`: every action AWS's IAM knows for ``lambda``, so that a
misspelt ``lambda:InvokeFunctions`` is refused when a policy is written. Kept apart so that
the catalogue stays under STYLE.md's size."""

from __future__ import annotations

__all__ = ["LAMBDA_ACTIONS"]

LAMBDA_ACTIONS = (
    "AddLayerVersionPermission", "AddPermission", "CheckpointDurableExecution",
    "CreateAlias", "CreateCapacityProvider", "CreateCodeSigningConfig",
    "CreateEventSourceMapping", "CreateFunction", "CreateFunctionUrlConfig", "DeleteAlias",
    "DeleteCapacityProvider", "DeleteCodeSigningConfig", "DeleteEventSourceMapping",
    "DeleteFunction", "DeleteFunctionCodeSigningConfig", "DeleteFunctionConcurrency",
    "DeleteFunctionEventInvokeConfig", "DeleteFunctionUrlConfig", "DeleteLayerVersion",
    "DeleteProvisionedConcurrencyConfig", "DeleteResourcePolicy", "DisableReplication",
    "EnableReplication", "GetAccountSettings", "GetAlias", "GetCapacityProvider",
    "GetCodeSigningConfig", "GetDurableExecution", "GetDurableExecutionHistory",
    "GetDurableExecutionState", "GetEventSourceMapping", "GetFunction",
    "GetFunctionCodeSigningConfig", "GetFunctionConcurrency", "GetFunctionConfiguration",
    "GetFunctionEventInvokeConfig", "GetFunctionRecursionConfig", "GetFunctionScalingConfig",
    "GetFunctionUrlConfig", "GetLayerVersion", "GetLayerVersionPolicy", "GetPolicy",
    "GetProvisionedConcurrencyConfig", "GetResourcePolicy", "GetRuntimeManagementConfig",
    "InvokeAsync", "InvokeFunction", "InvokeFunctionUrl", "ListAliases",
    "ListCapacityProviders", "ListCodeSigningConfigs", "ListDurableExecutionsByFunction",
    "ListEventSourceMappings", "ListFunctionEventInvokeConfigs", "ListFunctionUrlConfigs",
    "ListFunctionVersionsByCapacityProvider", "ListFunctions",
    "ListFunctionsByCodeSigningConfig", "ListLayerVersions", "ListLayers",
    "ListProvisionedConcurrencyConfigs", "ListTags", "ListVersionsByFunction",
    "PauseDurableExecution", "PublishLayerVersion", "PublishVersion",
    "PutFunctionCodeSigningConfig", "PutFunctionConcurrency", "PutFunctionEventInvokeConfig",
    "PutFunctionRecursionConfig", "PutFunctionScalingConfig", "PutProvisionedConcurrencyConfig",
    "PutResourcePolicy", "PutRuntimeManagementConfig", "RemoveLayerVersionPermission",
    "RemovePermission", "ResumeDurableExecution", "SendDurableExecutionCallbackFailure",
    "SendDurableExecutionCallbackHeartbeat", "SendDurableExecutionCallbackSuccess",
    "StopDurableExecution", "TagResource", "UntagResource", "UpdateAlias",
    "UpdateCapacityProvider", "UpdateCodeSigningConfig", "UpdateEventSourceMapping",
    "UpdateFunctionCode", "UpdateFunctionCodeSigningConfig", "UpdateFunctionConfiguration",
    "UpdateFunctionEventInvokeConfig", "UpdateFunctionUrlConfig",
)  # fmt: skip
