"""AWS Step Functions' IAM actions (decision 0271), the ``states`` service of
:mod:`andromede.iam.policy.actions`: every action AWS's IAM knows for ``states``, so that
``states:CreateStateMachines`` is refused when a policy is written. Kept apart so that the
catalogue stays under STYLE.md's size."""

from __future__ import annotations

__all__ = ["STATES_ACTIONS"]

STATES_ACTIONS = (
    "CreateActivity", "CreateStateMachine", "CreateStateMachineAlias", "DeleteActivity",
    "DeleteStateMachine", "DeleteStateMachineAlias", "DeleteStateMachineVersion",
    "DescribeActivity", "DescribeExecution", "DescribeMapRun", "DescribeStateMachine",
    "DescribeStateMachineAlias", "DescribeStateMachineForExecution", "GetActivityTask",
    "GetExecutionHistory", "InvokeHTTPEndpoint", "ListActivities", "ListExecutions",
    "ListMapRuns", "ListStateMachineAliases", "ListStateMachineVersions", "ListStateMachines",
    "ListTagsForResource", "PublishStateMachineVersion", "RedriveExecution", "RevealSecrets",
    "SendTaskFailure", "SendTaskHeartbeat", "SendTaskSuccess", "StartExecution",
    "StartSyncExecution", "StopExecution", "TagResource", "TestState", "UntagResource",
    "UpdateMapRun", "UpdateStateMachine", "UpdateStateMachineAlias",
    "ValidateStateMachineDefinition",
)  # fmt: skip
