"""The Parameter Store context's domain errors, with no HTTP in them; ``ssmapi.errors`` maps
each to AWS Systems Manager's error type.

::

    SsmError
    ├── ValidationError                 a value breaks AWS's rules (names, sizes, data types…)
    ├── ReservedName                    a name under ``/aws/`` (AWS's own parameters)
    ├── ParameterNotFound               no such parameter for the caller
    ├── ParameterVersionNotFound        no such version (or label) of it
    ├── ParameterAlreadyExists          the name is taken and Overwrite was not asked
    ├── ParameterLimitExceeded          the account's region holds as many as it may
    ├── ParameterMaxVersionLimitExceeded  the oldest version must go, and carries a label
    ├── ParameterVersionLabelLimitExceeded  a version would carry more than ten labels
    ├── HierarchyLevelLimitExceeded     a path deeper than fifteen levels
    ├── InvalidAllowedPattern           AllowedPattern is no regular expression
    ├── ParameterPatternMismatch        the value does not match AllowedPattern
    ├── InvalidFilterKey / InvalidFilterOption / InvalidFilterValue  a ParameterFilter
    ├── InvalidKeyId                    the KMS key cannot seal or open (missing, disabled…)
    ├── KmsAccessDenied                 the caller may not use the KMS key
    ├── InvalidPolicyType / InvalidPolicyAttribute / PoliciesLimitExceeded / IncompatiblePolicy
    │                                   a parameter policy AWS or this platform refuses
    ├── TooManyTags                     a parameter would carry more tags than it may
    ├── NotShared                       another account's parameter, for a call only its owner makes
    ├── ResourceNotFound                the parameter a resource policy names does not exist
    ├── ResourcePolicyInvalidParameter  a resource-policy call's parameter AWS refuses (a
    │                                   Standard parameter, a hash without an id…)
    ├── MalformedResourcePolicy         a resource policy AWS or this platform refuses
    ├── ResourcePolicyLimitExceeded     a policy too large, or one policy too many
    ├── ResourcePolicyNotFound          no policy of that id on the parameter
    ├── ResourcePolicyConflict          the policy's hash is not the one held (a stale read)
    └── Conflict                        another writer changed the parameter meanwhile (retried)
"""

from __future__ import annotations

from andromede.errors import AndromedeError

__all__ = [
    "Conflict",
    "HierarchyLevelLimitExceeded",
    "IncompatiblePolicy",
    "InvalidAllowedPattern",
    "InvalidFilterKey",
    "InvalidFilterOption",
    "InvalidFilterValue",
    "InvalidKeyId",
    "InvalidPolicyAttribute",
    "InvalidPolicyType",
    "KmsAccessDenied",
    "MalformedResourcePolicy",
    "NotShared",
    "ParameterAlreadyExists",
    "ParameterLimitExceeded",
    "ParameterMaxVersionLimitExceeded",
    "ParameterNotFound",
    "ParameterPatternMismatch",
    "ParameterVersionLabelLimitExceeded",
    "ParameterVersionNotFound",
    "PoliciesLimitExceeded",
    "ReservedName",
    "ResourceNotFound",
    "ResourcePolicyConflict",
    "ResourcePolicyInvalidParameter",
    "ResourcePolicyLimitExceeded",
    "ResourcePolicyNotFound",
    "SsmError",
    "TooManyTags",
    "ValidationError",
]


class SsmError(AndromedeError):
    """Root of the Parameter Store context's errors."""


class ValidationError(SsmError):
    pass


class ReservedName(SsmError):
    pass


class ParameterNotFound(SsmError):
    pass


class ParameterVersionNotFound(SsmError):
    pass


class ParameterAlreadyExists(SsmError):
    pass


class ParameterLimitExceeded(SsmError):
    pass


class ParameterMaxVersionLimitExceeded(SsmError):
    pass


class ParameterVersionLabelLimitExceeded(SsmError):
    pass


class HierarchyLevelLimitExceeded(SsmError):
    pass


class InvalidAllowedPattern(SsmError):
    pass


class ParameterPatternMismatch(SsmError):
    pass


class InvalidFilterKey(SsmError):
    pass


class InvalidFilterOption(SsmError):
    pass


class InvalidFilterValue(SsmError):
    pass


class InvalidKeyId(SsmError):
    pass


class KmsAccessDenied(SsmError):
    pass


class InvalidPolicyType(SsmError):
    pass


class InvalidPolicyAttribute(SsmError):
    pass


class PoliciesLimitExceeded(SsmError):
    pass


class IncompatiblePolicy(SsmError):
    pass


class TooManyTags(SsmError):
    pass


class Conflict(SsmError):
    pass


class NotShared(SsmError):
    pass


class ResourceNotFound(SsmError):
    pass


class ResourcePolicyInvalidParameter(SsmError):
    """Its ``parameter_names`` are the request's parameters at fault (AWS's
    ``ParameterNames``)."""

    def __init__(self, message: str, parameter_names: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.parameter_names = parameter_names


class MalformedResourcePolicy(SsmError):
    pass


class ResourcePolicyLimitExceeded(SsmError):
    """Its ``limit`` and ``limit_type`` are AWS's ``Limit`` and ``LimitType``."""

    def __init__(self, message: str, limit: int, limit_type: str) -> None:
        super().__init__(message)
        self.limit = limit
        self.limit_type = limit_type


class ResourcePolicyNotFound(SsmError):
    pass


class ResourcePolicyConflict(SsmError):
    pass
