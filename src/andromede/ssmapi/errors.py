"""Systems Manager's wire errors: types, HTTP statuses, and how domain errors map to them.

AWS answers ``{"__type": "ParameterNotFound", "message": "…"}`` with status 400 (500 for
``InternalServerError``) and the ``x-amzn-RequestId`` header; botocore raises ``ClientError``
whose code is the ``__type``. An operation of Systems Manager this platform does not serve
(Run Command, Session Manager, documents…) answers AWS's ``UnknownOperationException``.
"""

from __future__ import annotations

from typing import Any, Final

from andromede.awsjson.auth_errors import PROTOCOL_ERRORS, auth_error
from andromede.awsjson.endpoint import JsonWireError
from andromede.errors import AndromedeError
from andromede.ssm import errors as s

__all__ = ["SsmWireError", "to_ssm_error"]

CATALOGUE: Final[dict[str, tuple[int, str]]] = {
    **PROTOCOL_ERRORS,
    "AccessDeniedException": (400, "The caller is not authorized to perform this operation."),
    "HierarchyLevelLimitExceededException": (400, "Parameter name: hierarchy level exceeds "
                                             "the max allowed level of 15."),
    "InternalServerError": (500, "An error occurred on the server side."),
    "InvalidAllowedPatternException": (400, "The request does not meet the regular expression "
                                       "requirement."),
    "InvalidFilterKey": (400, "The specified key isn't valid."),
    "InvalidFilterOption": (400, "The specified filter option isn't valid."),
    "InvalidFilterValue": (400, "The filter value isn't valid."),
    "IncompatiblePolicyException": (400, "There is a conflict in the policies specified for "
                                    "this parameter."),
    "InvalidPolicyAttributeException": (400, "A policy attribute or its value is invalid."),
    "InvalidPolicyTypeException": (400, "The policy type isn't supported."),
    "PoliciesLimitExceededException": (400, "You specified more than the maximum number of "
                                       "allowed policies for the parameter."),
    "InvalidKeyId": (400, "The query key ID isn't valid."),
    "InvalidNextToken": (400, "The specified token isn't valid."),
    "InvalidResourceId": (400, "The resource ID isn't valid. Verify that you entered the "
                          "correct ID and try again."),
    "InvalidResourceType": (400, "The resource type isn't valid."),
    "MalformedResourcePolicyDocumentException": (400, "The specified policy document is "
                                                 "malformed or invalid."),
    "MissingAuthenticationTokenException": (400, "Request is missing Authentication Token"),
    "ParameterAlreadyExists": (400, "The parameter already exists."),
    "ParameterLimitExceeded": (400, "You have exceeded the number of parameters for this "
                               "Amazon Web Services account."),
    "ParameterMaxVersionLimitExceeded": (400, "Parameter Store retains the 100 most recently "
                                         "created versions of a parameter."),
    "ParameterNotFound": (400, "The parameter couldn't be found."),
    "ParameterPatternMismatchException": (400, "The parameter name isn't valid."),
    "ParameterVersionLabelLimitExceeded": (400, "A parameter version can have a maximum of ten "
                                           "labels."),
    "ParameterVersionNotFound": (400, "The specified parameter version wasn't found."),
    "ResourceNotFoundException": (400, "The specified parameter to be shared could not be "
                                  "found."),
    "ResourcePolicyConflictException": (400, "The hash provided in the call doesn't match the "
                                        "stored hash."),
    "ResourcePolicyInvalidParameterException": (400, "One or more parameters specified for "
                                                "the call aren't valid."),
    "ResourcePolicyLimitExceededException": (400, "A resource policy limit was exceeded."),
    "ResourcePolicyNotFoundException": (400, "No policies with the specified policy ID and "
                                        "hash could be found."),
    "ThrottlingException": (400, "Rate exceeded"),
    "TooManyTagsError": (400, "The Targets parameter includes too many tags."),
    "TooManyUpdates": (400, "There are concurrent updates for a resource that supports one "
                       "update at a time."),
    "ValidationException": (400, "The input fails to satisfy the constraints of the "
                            "operation."),
}  # fmt: skip


class SsmWireError(JsonWireError):
    """``fields``: the members an error's shape carries beside its message (AWS's
    ``ParameterNames``, ``Limit``, ``LimitType``)."""

    def __init__(
        self, error_type: str, message: str | None = None, fields: dict[str, Any] | None = None
    ) -> None:
        status, default = CATALOGUE[error_type]
        super().__init__(error_type, status, message if message is not None else default)
        self.fields = fields or {}

    def payload(self) -> dict[str, Any]:
        return {**super().payload(), **self.fields}


_DOMAIN: Final[tuple[tuple[type[AndromedeError], str], ...]] = (
    (s.ValidationError, "ValidationException"),
    (s.ReservedName, "AccessDeniedException"),
    (s.ParameterNotFound, "ParameterNotFound"),
    (s.ParameterVersionNotFound, "ParameterVersionNotFound"),
    (s.ParameterAlreadyExists, "ParameterAlreadyExists"),
    (s.ParameterLimitExceeded, "ParameterLimitExceeded"),
    (s.ParameterMaxVersionLimitExceeded, "ParameterMaxVersionLimitExceeded"),
    (s.ParameterVersionLabelLimitExceeded, "ParameterVersionLabelLimitExceeded"),
    (s.HierarchyLevelLimitExceeded, "HierarchyLevelLimitExceededException"),
    (s.InvalidAllowedPattern, "InvalidAllowedPatternException"),
    (s.ParameterPatternMismatch, "ParameterPatternMismatchException"),
    (s.InvalidFilterKey, "InvalidFilterKey"),
    (s.InvalidFilterOption, "InvalidFilterOption"),
    (s.InvalidFilterValue, "InvalidFilterValue"),
    (s.InvalidKeyId, "InvalidKeyId"),
    (s.KmsAccessDenied, "AccessDeniedException"),
    (s.InvalidPolicyType, "InvalidPolicyTypeException"),
    (s.InvalidPolicyAttribute, "InvalidPolicyAttributeException"),
    (s.PoliciesLimitExceeded, "PoliciesLimitExceededException"),
    (s.IncompatiblePolicy, "IncompatiblePolicyException"),
    (s.TooManyTags, "TooManyTagsError"),
    (s.Conflict, "TooManyUpdates"),
    (s.NotShared, "AccessDeniedException"),
    (s.ResourceNotFound, "ResourceNotFoundException"),
    (s.MalformedResourcePolicy, "MalformedResourcePolicyDocumentException"),
    (s.ResourcePolicyNotFound, "ResourcePolicyNotFoundException"),
    (s.ResourcePolicyConflict, "ResourcePolicyConflictException"),
)


def to_ssm_error(exc: AndromedeError) -> SsmWireError | None:
    """The wire error for a domain or authentication error; None for unexpected ones."""
    if isinstance(exc, SsmWireError):
        return exc
    if isinstance(exc, s.ResourcePolicyInvalidParameter):
        return SsmWireError(
            "ResourcePolicyInvalidParameterException",
            str(exc),
            {"ParameterNames": list(exc.parameter_names)},
        )
    if isinstance(exc, s.ResourcePolicyLimitExceeded):
        return SsmWireError(
            "ResourcePolicyLimitExceededException",
            str(exc),
            {"Limit": exc.limit, "LimitType": exc.limit_type},
        )
    for domain, error_type in _DOMAIN:
        if isinstance(exc, domain):
            return SsmWireError(error_type, str(exc) or None)
    answered = auth_error(exc)
    return None if answered is None else SsmWireError(*answered)
