"""The Step Functions context's domain errors, with no HTTP in them; ``stepfunctionsapi.errors``
maps each to Step Functions' error type (its name is the wire type, as AWS's are).

::

    StepFunctionsError
    ├── InvalidDefinition           the definition is no valid Amazon States Language
    ├── InvalidName                 a state machine's name is not acceptable
    ├── InvalidArn                  an ARN is not one of Step Functions' (or not a role's)
    ├── InvalidLoggingConfiguration the logging configuration is not acceptable
    ├── InvalidTracingConfiguration the tracing configuration is not acceptable
    ├── InvalidEncryptionConfiguration  a customer-managed key asked for (not served)
    ├── RoleRefused                 the role is not the account's or does not trust Step
    │                               Functions (AWS's AccessDeniedException)
    ├── InvalidToken                a page token is not one this service gave
    ├── StateMachineAlreadyExists   the name is the account's with another definition
    ├── StateMachineDoesNotExist    no such state machine for the account
    ├── StateMachineLimitExceeded   the account's state machines are at their bound
    ├── ExecutionDoesNotExist       no such execution for the account
    ├── ExecutionAlreadyExists      the name is the machine's execution's with another input,
    │                               or that execution ended
    ├── InvalidExecutionInput       an execution's input is no JSON, or too large
    ├── InvalidOutput               a task's output is no JSON, or too large
    ├── TaskDoesNotExist            a token's task cannot be answered now
    ├── TaskTimedOut                a token's task was answered, timed out, or is gone
    ├── ActivityDoesNotExist        no such activity for the account
    ├── ActivityLimitExceeded       the account's activities are at their bound
    ├── StateMachineTypeNotSupported  the call is not one of the machine's type
    ├── ConflictException           a revision changed, or a version an alias routes to
    ├── ServiceQuotaExceededException  a machine's versions or aliases at their bound
    ├── ExecutionNotRedrivable      the execution may not be redriven (AWS's reasons)
    ├── ResourceNotFound            no such resource to tag (or alias)
    ├── TooManyTags                 a resource would carry more than 50 tags
    └── ValidationException         a parameter's value is not acceptable
"""

from __future__ import annotations

from andromede.errors import AndromedeError

__all__ = [
    "ActivityDoesNotExist",
    "ActivityLimitExceeded",
    "ConflictException",
    "ExecutionAlreadyExists",
    "ExecutionDoesNotExist",
    "ExecutionNotRedrivable",
    "InvalidArn",
    "InvalidDefinition",
    "InvalidEncryptionConfiguration",
    "InvalidExecutionInput",
    "InvalidLoggingConfiguration",
    "InvalidName",
    "InvalidOutput",
    "InvalidToken",
    "InvalidTracingConfiguration",
    "ResourceNotFound",
    "RoleRefused",
    "ServiceQuotaExceededException",
    "StateMachineAlreadyExists",
    "StateMachineDoesNotExist",
    "StateMachineLimitExceeded",
    "StateMachineTypeNotSupported",
    "StepFunctionsError",
    "TaskDoesNotExist",
    "TaskTimedOut",
    "TooManyTags",
    "ValidationException",
]


class StepFunctionsError(AndromedeError):
    """Root of the Step Functions context's errors."""


class InvalidDefinition(StepFunctionsError):
    pass


class InvalidName(StepFunctionsError):
    pass


class InvalidArn(StepFunctionsError):
    pass


class InvalidLoggingConfiguration(StepFunctionsError):
    pass


class InvalidTracingConfiguration(StepFunctionsError):
    pass


class InvalidToken(StepFunctionsError):
    pass


class InvalidEncryptionConfiguration(StepFunctionsError):
    pass


class RoleRefused(StepFunctionsError):
    pass


class StateMachineAlreadyExists(StepFunctionsError):
    pass


class StateMachineDoesNotExist(StepFunctionsError):
    pass


class StateMachineLimitExceeded(StepFunctionsError):
    pass


class ResourceNotFound(StepFunctionsError):
    def __init__(self, message: str, resource_name: str) -> None:
        super().__init__(message)
        self.resource_name = resource_name


class TooManyTags(StepFunctionsError):
    def __init__(self, message: str, resource_name: str) -> None:
        super().__init__(message)
        self.resource_name = resource_name


class ValidationException(StepFunctionsError):
    pass


class ExecutionDoesNotExist(StepFunctionsError):
    pass


class ExecutionAlreadyExists(StepFunctionsError):
    pass


class InvalidExecutionInput(StepFunctionsError):
    pass


class InvalidOutput(StepFunctionsError):
    pass


class TaskDoesNotExist(StepFunctionsError):
    pass


class TaskTimedOut(StepFunctionsError):
    pass


class ActivityDoesNotExist(StepFunctionsError):
    pass


class ActivityLimitExceeded(StepFunctionsError):
    pass


class StateMachineTypeNotSupported(StepFunctionsError):
    pass


class ConflictException(StepFunctionsError):
    pass


class ServiceQuotaExceededException(StepFunctionsError):
    pass


class ExecutionNotRedrivable(StepFunctionsError):
    pass
