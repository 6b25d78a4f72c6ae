"""Where Firehose meets Lambda (decision 0315): a delivery stream's ``Lambda`` processor
invoked, synchronously, as the processor's ``RoleArn`` (else the destination's role) — the
``firehose.transformation.FunctionInvoker`` the deliverer uses.

The role must be of the stream's account and trust ``firehose.amazonaws.com``
(``Lambda.AssumeRoleAccessDenied``); the function must be of the stream's account and Region,
and the role allowed ``lambda:GetFunctionConfiguration`` on it by its policies
(``Lambda.InvokeAccessDenied``), as AWS asks of the role. The invocation is Lambda's Invoke
called in process as the role's session (``function_calls``, as EventBridge Pipes and Step
Functions call it): Lambda authorises ``lambda:InvokeFunction`` by the role's policies and
the function's resource-based policy, runs the function, audits and meters it. Lambda's
refusals are AWS's Firehose codes: ``Lambda.InvokeAccessDenied``,
``Lambda.ResourceNotFound``, ``Lambda.InvokeLimitExceeded``…; a function that failed is
``Lambda.FunctionError``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from andromede.firehose.model import DeliveryStream, LambdaProcessor
from andromede.firehose.transformation import (
    FUNCTION_ERROR,
    FUNCTION_ERROR_MESSAGE,
    TransformFailed,
)
from andromede.firehose_delivery import FIREHOSE_PRINCIPAL, role_session
from andromede.function_calls import AsgiApp, FunctionCallFailed, invoke_function
from andromede.iam.service import IdentityService
from andromede.iam.service_roles import ServiceRoleSessions

__all__ = ["RoleFunctionInvoker"]

# Lambda's refusals as Firehose names them (AWS's "Data Transformation Invocation Errors"),
# and whether trying again may help.
_CODES: Final = {
    "AccessDeniedException": ("Lambda.InvokeAccessDenied", False),
    "ResourceNotFoundException": ("Lambda.ResourceNotFound", False),
    "TooManyRequestsException": ("Lambda.InvokeLimitExceeded", True),
    "RequestTooLargeException": ("Lambda.InvalidRequest", False),
    "InvalidRequestContentException": ("Lambda.InvalidRequest", False),
    "InvalidParameterValueException": ("Lambda.InvalidParameterValueException", False),
    "ResourceNotReadyException": ("Lambda.ResourceNotReady", True),
}


class RoleFunctionInvoker:
    def __init__(
        self, identity: IdentityService, lambdas: Callable[[], AsgiApp | None], region: str
    ) -> None:
        """``lambdas``: the Lambda API app of ``serve`` (None: not served)."""
        self._identity = identity
        self._roles = ServiceRoleSessions(identity, FIREHOSE_PRINCIPAL, region)
        self._lambdas = lambdas

    async def invoke(
        self, stream: DeliveryStream, processor: LambdaProcessor, payload: bytes
    ) -> bytes:
        role_arn = processor.role_arn or _destination_role(stream)
        session = await role_session(self._identity, stream, role_arn)
        if session is None:
            raise TransformFailed(
                "Lambda.AssumeRoleAccessDenied",
                f"Access was denied. Ensure that the trust policy for the provided IAM role "
                f"allows {FIREHOSE_PRINCIPAL} to assume the role {role_arn[:512]}.",
                retryable=False,
            )
        parts = processor.function_arn.split(":")
        if parts[3] != stream.region or parts[4] != stream.tenant_id:
            raise TransformFailed(
                "Lambda.InvokeAccessDenied",
                "The Lambda function must be of the delivery stream's account and Region.",
                retryable=False,
            )
        function = ":".join(parts[:7])
        if not await self._roles.allowed(session, "lambda:GetFunctionConfiguration", function):
            raise TransformFailed(
                "Lambda.InvokeAccessDenied",
                f"Access was denied. Ensure that the access policy allows access to "
                f"lambda:GetFunctionConfiguration on {processor.function_arn}.",
                retryable=False,
            )
        app = self._lambdas()
        if app is None:
            raise TransformFailed(
                "Lambda.ResourceNotFound", "Lambda is not served by this deployment.",
                retryable=False,
            )  # fmt: skip
        try:
            answer = await invoke_function(app, session, processor.function_arn, payload)
        except FunctionCallFailed as exc:
            code, retryable = _CODES.get(exc.code, ("Lambda.ServiceException", True))
            raise TransformFailed(
                code, exc.message[:512] or exc.code, retryable=retryable
            ) from None
        if answer.function_error is not None:
            raise TransformFailed(FUNCTION_ERROR, FUNCTION_ERROR_MESSAGE)
        return answer.payload


def _destination_role(stream: DeliveryStream) -> str:
    if stream.http is not None and stream.http.role_arn:
        return stream.http.role_arn
    return stream.destination.role_arn
