"""The services that invoke Lambda functions as their service principals (decision 0293),
where the functions context meets EventBridge's and the notification worker's:
:class:`EventFunctionTargets`, the ``events.dispatcher.FunctionSink`` that invokes a rule's
function target as ``events.amazonaws.com``; :class:`NotifiedFunctions`, the
``notifications.functions.Functions`` port through which SNS's ``lambda`` subscriptions and
S3's ``CloudFunctionConfiguration`` notifications invoke theirs; and
:func:`lambda_invocations`, how a delivery finds Lambda's
``functions.service_invoke.ServiceInvocations`` in the APIs of ``serve`` (made after
EventBridge, SNS and S3; none: Lambda is not served).

As on AWS, EventBridge invokes the function asynchronously with the target's input (the
matched event, or what ``Input``, ``InputPath`` or ``InputTransformer`` made of it), allowed
by the function's resource-based policy alone (``AddPermission`` with ``Principal``
``events.amazonaws.com``, ``SourceArn`` the rule's ARN): a function that is not there is
``NO_RESOURCE``, one whose policy does not let the rule in ``NO_PERMISSIONS``, neither tried
again (the dead-letter queue at once, ``FailedInvocations`` counted) as AWS does."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Final

from andromede.events.dispatcher import DeliveryRefused
from andromede.events.model import Target
from andromede.functions.errors import FunctionsError, ResourceNotFound
from andromede.functions.service_invoke import ServiceDenied, ServiceInvocations
from andromede.lambdaapi.app import LambdaApp
from andromede.notifications.functions import FunctionDeferred, FunctionRefused
from andromede.secrets.model import Secret
from andromede.secrets.rotation import RotationDenied

__all__ = [
    "EVENTS_PRINCIPAL",
    "SECRETS_PRINCIPAL",
    "EventFunctionTargets",
    "NotifiedFunctions",
    "RotationFunctionInvoker",
    "json_payload",
    "lambda_invocations",
]

EVENTS_PRINCIPAL: Final = "events.amazonaws.com"
SECRETS_PRINCIPAL: Final = "secretsmanager.amazonaws.com"
# AWS's refusal when a rotation function is not there or does not let Secrets Manager in.
_CANNOT_INVOKE: Final = (
    "Secrets Manager cannot invoke the specified Lambda function. Ensure that the function "
    "policy grants access to the principal secretsmanager.amazonaws.com."
)

Invocations = Callable[[], ServiceInvocations | None]


def lambda_invocations(apis: Mapping[str, object]) -> Invocations:
    """Lambda's service invocations, found in ``apis`` when a delivery needs them."""

    def found() -> ServiceInvocations | None:
        app = apis.get(LambdaApp.name)
        return app.invocations if isinstance(app, LambdaApp) else None

    return found


def json_payload(message: str) -> bytes:
    """A delivery's text as a function's event: JSON as it is, other text (what an
    ``InputTransformer`` may render) as a JSON string."""
    try:
        json.loads(message)
    except ValueError:
        return json.dumps(message).encode()
    return message.encode()


class EventFunctionTargets:
    def __init__(self, invocations: Invocations) -> None:
        self._invocations = invocations

    async def send(
        self, tenant_id: str, target: Target, message: str, rule_arn: str, trace: str | None
    ) -> None:
        invocations = self._invocations()
        if invocations is None:
            raise DeliveryRefused("NO_RESOURCE", "AWS Lambda is not served by this deployment")
        try:
            await invocations.invoke(
                EVENTS_PRINCIPAL,
                target.arn,
                json_payload(message),
                source_arn=rule_arn,
                source_account=tenant_id,
                trace=trace,  # the event's lineage (decision 0351)
            )
        except ResourceNotFound:
            raise DeliveryRefused(
                "NO_RESOURCE", f"Function {target.arn[:256]} does not exist"
            ) from None
        except ServiceDenied:
            raise DeliveryRefused(
                "NO_PERMISSIONS",
                f"The resource-based policy of {target.arn[:256]} does not allow "
                f"{EVENTS_PRINCIPAL} to invoke it for {rule_arn[:256]}",
            ) from None
        except FunctionsError as exc:  # the Event queue not served here
            raise DeliveryRefused("NO_RESOURCE", str(exc)[:256]) from None


class NotifiedFunctions:
    """SNS's and S3's invocations: a function gone or not permitting them is
    FunctionRefused (given up, as AWS gives up a client-side error)."""

    def __init__(self, invocations: Invocations | None = None) -> None:
        # Bound by Lambda's wiring, which ``serve`` runs after SNS's and S3's.
        self.find: Invocations = invocations or (lambda: None)

    async def invoke(
        self,
        service: str,
        function_arn: str,
        event: bytes,
        *,
        source_arn: str,
        source_account: str,
        trace: str | None = None,
    ) -> None:
        invocations = self.find()
        if invocations is None:
            raise FunctionDeferred("AWS Lambda is not served by this deployment")
        try:
            await invocations.invoke(
                service,
                function_arn,
                event,
                source_arn=source_arn,
                source_account=source_account,
                trace=trace,
            )
        except (ResourceNotFound, ServiceDenied) as exc:
            raise FunctionRefused(f"{type(exc).__name__}: {exc}") from None

    async def accepts(
        self, service: str, function_arn: str, *, source_arn: str, source_account: str
    ) -> bool:
        """Whether ``service`` may invoke the function for ``source_arn`` (S3's validation
        of a ``CloudFunctionConfiguration``)."""
        invocations = self.find()
        if invocations is None:
            return False
        try:
            await invocations.check(
                service, function_arn, source_arn=source_arn, source_account=source_account
            )
        except FunctionsError:
            return False
        return True


class RotationFunctionInvoker:
    """Secrets Manager's rotation functions (decision 0303), the
    ``secrets.rotation.RotationFunctions`` port: each step a synchronous invocation as
    ``secretsmanager.amazonaws.com``, the secret's ARN the source and its account the source
    account, allowed by the function's resource-based policy alone; audited in the
    function's account by the shared piece."""

    def __init__(self, invocations: Invocations) -> None:
        self._invocations = invocations

    async def check(self, function_arn: str, secret: Secret) -> None:
        invocations = self._invocations()
        if invocations is None:
            raise RotationDenied(_CANNOT_INVOKE)
        try:
            await invocations.check(
                SECRETS_PRINCIPAL,
                function_arn,
                source_arn=secret.arn,
                source_account=secret.tenant_id,
            )
        except FunctionsError:
            raise RotationDenied(_CANNOT_INVOKE) from None

    async def invoke(self, function_arn: str, secret: Secret, event: bytes) -> str | None:
        invocations = self._invocations()
        if invocations is None:
            return "AWS Lambda is not served by this deployment"
        try:
            done = await invocations.call(
                SECRETS_PRINCIPAL,
                function_arn,
                event,
                source_arn=secret.arn,
                source_account=secret.tenant_id,
            )
        except FunctionsError as exc:
            return f"{type(exc).__name__}: {str(exc)[:512]}"
        if done.ok:
            return None
        try:
            error = json.loads(done.payload)
        except ValueError:
            error = {}
        if not isinstance(error, dict):
            error = {}
        kind = str(error.get("errorType") or done.error_type or "Unhandled")
        return f"{kind}: {str(error.get('errorMessage', ''))[:512]}"
