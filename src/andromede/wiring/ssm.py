"""Systems Manager Parameter Store (decision 0229): where the parameter context meets the
account's key ring and the customer-managed KMS keys, and its API.

**Encryption at rest, always.** :class:`ParameterSealer` seals every version's value:

- a ``String`` or ``StringList`` under a data key of the account's own key ring (the sealer
  SQS's messages use, ``wiring.queues.KeySealer``), its AAD the parameter's ARN and version,
  so closing the account (its key ring destroyed) leaves no value readable; reading it needs
  no KMS right, as on AWS;
- a ``SecureString`` in the KMS envelope Secrets Manager's secrets use
  (``wiring.kms_envelopes``), under the key it names (``KeyId``) or the account's AWS-managed
  ``alias/aws/ssm``, made on first use, with AWS's encryption context ``PARAMETER_ARN`` =
  the parameter's ARN and ``kms:ViaService`` = ``ssm.<region>.amazonaws.com``, on behalf of
  the caller: a PutParameter needs ``kms:GenerateDataKey`` on the key, a read
  ``WithDecryption`` ``kms:Decrypt``, decided by the key's policy, grants and IAM. A disabled
  or missing key is AWS's ``InvalidKeyId``; a refusal ``AccessDeniedException``. Each KMS use
  is audited and metered (``kms.requests``) as the envelope does.

**Policies.** :func:`ssm_upkeep` takes, every ``ssm_policy_interval`` in every gateway, the
parameter policies' actions due (``ssm.policy_actions``: each once however many gateways
run): it deletes the parameters whose Expiration has come, each audited as
``ssm:DeleteParameter`` by ``ssm.amazonaws.com``, and sends each action's "Parameter Store
Policy Action" event (Expiration, ExpirationNotification, NoChangeNotification) to the
account's default event bus (decision 0241).

**Changes.** :class:`ParameterEvents` sends AWS's "Parameter Store Change" event (operation
Create, Update, Delete or LabelParameterVersion) to the account's default bus after each
change is written; a failure to send is logged, never the caller's error (AWS sends these
events on a best-effort basis too).
"""

from __future__ import annotations

import asyncio
import json
import logging
import struct
import uuid
from datetime import UTC, datetime
from typing import Any, Final

from cryptography.exceptions import InvalidTag

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.billing.service import BillingService
from andromede.compute.model import ImageState
from andromede.compute.service import ComputeService
from andromede.db.database import Database
from andromede.events.model import DEFAULT_BUS, event_envelope
from andromede.events.service import EventsService
from andromede.http.ratelimit import RateLimiter
from andromede.iam.service import IdentityService
from andromede.kms.customer_keys import CustomerKeyService
from andromede.kms.errors import InvalidWrappedKey, KeyDestroyed, KeyNotFound, KmsError
from andromede.kms.keys_errors import CmkDisabled, CmkInvalidState, CmkNotFound
from andromede.kms.service import KeyService
from andromede.settings import Settings
from andromede.ssm.errors import InvalidKeyId, KmsAccessDenied
from andromede.ssm.model import ParameterType, ParameterVersion
from andromede.ssm.policy_actions import PolicyAction
from andromede.ssm.public import PublicImage, PublicImages
from andromede.ssm.service import ParameterLimits, ParameterService
from andromede.ssm.store_sql import SqlParameterStore
from andromede.ssmapi.app import SsmApp
from andromede.ssmapi.authorise import KeyUser
from andromede.wiring.kms_envelopes import EnvelopeService, KmsEnvelopeSealer
from andromede.wiring.queues import KeySealer

__all__ = [
    "ParameterEvents",
    "ParameterSealer",
    "parameter_limits",
    "public_images_of",
    "ssm_api",
    "ssm_events",
    "ssm_service",
    "ssm_upkeep",
    "take_policy_actions",
]

log = logging.getLogger(__name__)

_KEY_RING: Final = b"\x01"  # a String's or StringList's value, under the account's key ring
_KMS: Final = b"\x02"  # a SecureString's envelope


def _key_failure(exc: KmsError | None, why: str = "") -> InvalidKeyId:
    if isinstance(exc, CmkDisabled):
        return InvalidKeyId(f"The KMS key is disabled. ({str(exc)[:256]})")
    if isinstance(exc, CmkInvalidState):
        return InvalidKeyId(f"The KMS key is not in a valid state. ({str(exc)[:256]})")
    if isinstance(exc, CmkNotFound):
        return InvalidKeyId(f"The KMS key was not found. ({str(exc)[:256]})")
    return InvalidKeyId(why or "The KMS key cannot be used for this parameter.")


_SSM: Final = EnvelopeService(
    "ssm",
    refused=lambda: KmsAccessDenied("Access to KMS is not allowed"),
    seal_failed=_key_failure,
    open_failed=lambda why, exc: _key_failure(exc, why),
    owner_detail="PARAMETER_ARN",
)


class ParameterSealer:
    """``ssm.service.ValueSealer``: the key ring for String and StringList, a KMS envelope for
    SecureString."""

    def __init__(
        self,
        keys: KeyService,
        customer_keys: CustomerKeyService,
        region: str,
        audit: AuditService | None = None,
        billing: BillingService | None = None,
    ) -> None:
        self._ring = KeySealer(keys)
        self._envelopes = KmsEnvelopeSealer(_SSM, customer_keys, region, audit, billing)

    async def seal(self, version: ParameterVersion, plaintext: bytes, caller: object) -> bytes:
        if version.type is ParameterType.SECURE_STRING:
            return _KMS + await self._envelopes.seal(
                version, _context(version), _binding(version), plaintext, _user(caller)
            )
        return _KEY_RING + await self._ring.seal(version.tenant_id, plaintext, _binding(version))

    async def open(self, version: ParameterVersion, caller: object) -> bytes:
        form, sealed = version.sealed[:1], version.sealed[1:]
        if form == _KMS:
            return await self._envelopes.open(
                version, _context(version), _binding(version), sealed, _user(caller)
            )
        try:
            if form != _KEY_RING:
                raise ValueError("unknown sealed form")
            return await self._ring.open(version.tenant_id, sealed, _binding(version))
        except (KeyDestroyed, KeyNotFound, InvalidWrappedKey, InvalidTag, struct.error,
                ValueError):  # fmt: skip
            # The account's key ring destroyed (a closed tenant) or a row not its own.
            raise InvalidKeyId("The parameter's sealed value is not readable.") from None


def _user(caller: object) -> KeyUser:
    if not isinstance(caller, KeyUser):
        raise TypeError("a parameter's key is used on behalf of a request's caller")
    return caller


def _context(version: ParameterVersion) -> dict[str, str]:
    """AWS's encryption context of a SecureString."""
    return {"PARAMETER_ARN": version.arn}


def _binding(version: ParameterVersion) -> bytes:
    return f"ssm\n{version.arn}\n{version.version}".encode()


def public_images_of(compute: ComputeService) -> PublicImages:
    """The operator's available public images (DescribeImages' ``Owners=amazon``), which
    Parameter Store publishes under ``/aws/service/…`` (decision 0241)."""

    async def images() -> list[PublicImage]:
        return [
            PublicImage(image.image_id, image.name, image.architecture, image.created_at)
            for image in await compute.describe_images("", (), owners=("amazon",))
            if image.public and image.state is ImageState.AVAILABLE
        ]

    return images


def parameter_limits(settings: Settings) -> ParameterLimits:
    return ParameterLimits(
        max_standard_parameters=settings.ssm_max_standard_parameters,
        max_advanced_parameters=settings.ssm_max_advanced_parameters,
        max_standard_value_size=settings.ssm_max_standard_value_size,
        max_advanced_value_size=settings.ssm_max_advanced_value_size,
        max_versions=settings.ssm_max_versions,
        max_tags=settings.ssm_max_tags,
        max_resource_policy_size=settings.ssm_max_resource_policy_size,
        max_resource_policies=settings.ssm_max_resource_policies,
    )


def ssm_service(
    settings: Settings,
    db: Database,
    keys: KeyService,
    customer_keys: CustomerKeyService,
    audit: AuditService | None = None,
    billing: BillingService | None = None,
) -> ParameterService:
    """The parameter service of ``serve``, over the metadata database."""
    return ParameterService(
        SqlParameterStore(db),
        ParameterSealer(keys, customer_keys, settings.region, audit, billing),
        parameter_limits(settings),
    )


class ParameterEvents:
    """Parameter Store's EventBridge events (decision 0241), to the account's default bus:
    "Parameter Store Change" and "Parameter Store Policy Action", as AWS shapes them."""

    def __init__(self, events: EventsService) -> None:
        self._events = events

    async def _send(
        self, version: ParameterVersion, detail_type: str, detail: dict[str, Any]
    ) -> None:
        event = event_envelope(
            event_id=str(uuid.uuid4()),
            detail_type=detail_type,
            source="aws.ssm",
            account=version.tenant_id,
            moment=datetime.now(UTC),
            region=version.region,
            resources=[version.arn],
            detail=detail,
        )
        try:
            await self._events.route(version.tenant_id, DEFAULT_BUS, [event])
        except Exception:  # best effort, as AWS's: the change itself is written
            log.exception("parameter %s: its %s event was not sent", version.arn, detail_type)

    async def changed(self, operation: str, version: ParameterVersion) -> None:
        detail: dict[str, Any] = {
            "operation": operation,
            "name": version.name,
            "type": str(version.type),
        }
        if version.description:
            detail["description"] = version.description
        if operation == "LabelParameterVersion":
            detail["labels"] = list(version.labels)
        await self._send(version, "Parameter Store Change", detail)

    async def policy_action(self, action: PolicyAction) -> None:
        version = action.version
        await self._send(
            version,
            "Parameter Store Policy Action",
            {
                "parameter-name": version.name,
                "parameter-type": str(version.type),
                "policy-type": action.kind,
                "policy-content": json.dumps(action.policy, separators=(",", ":")),
                "action-status": "Finished",
                "action-reason": _reason(action),
            },
        )


def _reason(action: PolicyAction) -> str:
    attributes = action.policy.get("Attributes") or {}
    if action.kind == "Expiration":
        return "The parameter's Expiration time came: the parameter was deleted."
    if action.kind == "ExpirationNotification":
        return (
            f"The parameter expires in {attributes.get('Before')} "
            f"{str(attributes.get('Unit')).lower()}, at {action.version.expires}."
        )
    return (
        f"The parameter has not changed for {attributes.get('After')} "
        f"{str(attributes.get('Unit')).lower()}."
    )


def ssm_api(
    settings: Settings,
    db: Database,
    keys: KeyService,
    customer_keys: CustomerKeyService,
    identity: IdentityService,
    audit: AuditService,
    rate_limiter: RateLimiter | None,
    billing: BillingService | None,
) -> SsmApp:
    """The Parameter Store API app of ``serve`` (its store's ``forget_tenant`` is what closing
    a tenant forgets of it); :func:`ssm_events` completes it."""
    service = ssm_service(settings, db, keys, customer_keys, audit, billing)
    return SsmApp(service, identity, audit, settings, rate_limiter)


def ssm_events(
    settings: Settings,
    app: SsmApp,
    compute: ComputeService,
    events: EventsService,
    audit: AuditService | None = None,
) -> asyncio.Task[None]:
    """What Parameter Store reads and tells once the image library and EventBridge are up:
    the public parameters and its EventBridge events (decision 0241); then its policy
    upkeep, started (after: no action it takes goes untold)."""
    service = app.service
    service.public_images = public_images_of(compute)
    told = ParameterEvents(events)
    service.on_change = told.changed
    service.on_policy_action = told.policy_action
    return asyncio.create_task(ssm_upkeep(settings, service, audit), name="ssm")


async def ssm_upkeep(
    settings: Settings, parameters: ParameterService, audit: AuditService | None = None
) -> None:
    """Every ``ssm_policy_interval``: take the parameter policies' actions due."""
    while True:
        try:
            await take_policy_actions(parameters, audit)
        except Exception:  # a failed round must not end the loop; the next one retries
            log.exception("Parameter Store upkeep failed")
        await asyncio.sleep(settings.ssm_policy_interval)


async def take_policy_actions(
    parameters: ParameterService, audit: AuditService | None = None
) -> list[PolicyAction]:
    """One round of the upkeep: the actions due taken, audited (a deletion) and told."""
    taken = await parameters.policies_due()
    for action in taken:
        arn = action.version.arn
        if action.kind == "Expiration":
            log.info("parameter %s: its Expiration policy's time came, deleted", arn)
            if audit is not None:
                audit.record(
                    request_id=uuid.uuid4().hex.upper()[:16],
                    tenant_id=action.version.tenant_id,
                    principal="ssm.amazonaws.com",
                    action="ssm:DeleteParameter",
                    resource=arn,
                    outcome=Outcome.SUCCESS,
                    details={"policy": "Expiration"},
                )
        if parameters.on_policy_action is not None:
            await parameters.on_policy_action(action)
    return taken
