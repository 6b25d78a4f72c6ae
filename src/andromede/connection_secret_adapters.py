"""EventBridge's connections' credentials in Secrets Manager (decision 0204): the events
context's :class:`~andromede.events.connection_secrets.ConnectionSecrets` over the secrets
context's :class:`~andromede.secrets.service.SecretService`.

Each connection's AuthParameters are the JSON value of a secret of the connection's account,
``events!connection/<name>/<uuid>``, made and changed by EventBridge (the actor's ``service``
``events``: the customer reads it, lists it, sees ``OwningService`` ``events``, but cannot
change or delete it through Secrets Manager). The secret is sealed by Secrets Manager's own
sealer under the connection's ``KmsKeyIdentifier`` (the account's ``aws/secretsmanager`` key
when it has none), on behalf of the EventBridge request's caller at Create, Update and
DeauthorizeConnection — so the caller's ``kms:*`` rights, the key's policy and state decide
as for a Secrets Manager call, ``kms:ViaService`` ``secretsmanager.<region>.amazonaws.com``,
each KMS use audited and metered as Secrets Manager's are. A customer key must carry the tag
``EventBridgeApiDestinations`` = ``true``, as AWS requires (checked on the key's record, in
the connection's account, before any secret is written). The secret is of the connection's
Region (decision 0400: Secrets Manager serves every declared Region, decision 0207, its key
that Region's), so a connection of eu-de-1 reports ``arn:aws:secretsmanager:eu-de-1:…``, as
AWS's. The deliveries read it on the
account's behalf (its root principal: a key policy that lets the account use the key lets
EventBridge's reads through), the value kept ``cache_ttl`` seconds per gateway; a change made
through this gateway forgets it at once.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any, Final

from andromede.events.connection_model import Connection
from andromede.events.connection_secrets import ConnectionCaller
from andromede.events.errors import KmsAccessDenied, LimitExceeded, ValidationError
from andromede.iam.model import Principal, PrincipalKind
from andromede.kms.customer_keys import CustomerKeyService
from andromede.kms.errors import KmsError
from andromede.kms.keys_model import ALIAS_PREFIX, alias_arn, key_arn
from andromede.secrets.errors import (
    DecryptionFailure,
    EncryptionFailure,
    SecretNotFound,
    SecretsError,
)
from andromede.secrets.errors import KmsAccessDenied as SecretKmsDenied
from andromede.secrets.errors import LimitExceeded as SecretLimit
from andromede.secrets.model import Secret
from andromede.secrets.service import Actor, SecretService, SecretValue
from andromede.secretsapi.authorise import KeyUser

__all__ = ["OWNING_SERVICE", "SecretsManagerConnectionSecrets"]

log = logging.getLogger(__name__)

OWNING_SERVICE: Final = "events"
_DEFAULT_KEY: Final = "alias/aws/secretsmanager"
# AWS: "For EventBridge to use a customer managed key, you must add a resource tag to the key
# with a key of EventBridgeApiDestinations and a value of true."
KEY_TAG: Final = ("EventBridgeApiDestinations", "true")


async def _eventbridge_may(action: str, secret: Secret | None) -> None:
    """EventBridge writes the secrets it manages: the caller's ``events:<Action>`` was judged
    by the EventBridge API before (the key's use is judged by KMS, as the caller)."""


class SecretsManagerConnectionSecrets:
    def __init__(
        self,
        secrets: SecretService,
        region: str,
        *,
        cache_ttl: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        customer_keys: CustomerKeyService | None = None,
    ) -> None:
        self._customer_keys = customer_keys
        self._secrets = secrets
        self._region = region
        self._ttl = cache_ttl
        self._clock = clock
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}

    def _actor(
        self, tenant_id: str, caller: ConnectionCaller | None, region: str | None = None
    ) -> Actor:
        if caller is not None and isinstance(caller.principal, Principal):
            user = KeyUser(caller.principal, caller.source_ip, caller.secure, caller.request_id)
        else:  # a delivery: EventBridge on the account's behalf
            root = Principal(
                tenant_id=tenant_id,
                user_id=None,
                user_name=None,
                kind=PrincipalKind.ROOT,
                arn=f"arn:aws:iam::{tenant_id}:root",
            )
            user = KeyUser(root, None, True, f"events-{uuid.uuid4()}")
        return Actor(
            account=tenant_id,
            region=region or self._region,
            authorise=_eventbridge_may,
            caller=user,
            service=OWNING_SERVICE,
        )

    async def write(
        self, connection: Connection, auth: dict[str, Any], caller: ConnectionCaller | None
    ) -> str:
        if connection.kms_key is not None:
            await self._check_tag(connection, connection.kms_key)
        actor = self._actor(connection.tenant_id, caller, connection.region)
        value = SecretValue(json.dumps(auth, separators=(",", ":")).encode(), binary=False)
        try:
            if connection.secret_ref is not None:
                written = await self._rewrite(actor, connection, value)
                if written is not None:
                    self._cache.pop(written, None)
                    return written
            secret, _ = await self._secrets.create(
                actor,
                connection.secret_name,
                value,
                kms_key_id=connection.kms_key,
                description=f"Auth parameters of the EventBridge connection {connection.arn}",
            )
        except SecretKmsDenied:
            raise KmsAccessDenied(
                f"EventBridge cannot use the KMS key {connection.kms_key or _DEFAULT_KEY} for "
                "the connection's secret: access to KMS is not allowed."
            ) from None
        except (EncryptionFailure, DecryptionFailure) as exc:
            raise ValidationError(
                f"The connection's secret cannot be sealed under the KMS key "
                f"{connection.kms_key or _DEFAULT_KEY}: {exc}"
            ) from None
        except SecretLimit as exc:  # the account's secrets quota (secrets_max_secrets)
            raise LimitExceeded(f"The connection's secret cannot be made: {exc}") from None
        except SecretsError as exc:  # any other refusal of Secrets Manager, in its words
            raise ValidationError(f"The connection's secret cannot be written: {exc}") from None
        return secret.arn

    async def _check_tag(self, connection: Connection, ref: str) -> None:
        """``ValidationError`` unless the key ``ref`` names in the connection's account is
        usable and tagged as AWS requires (where the key records are wired)."""
        if self._customer_keys is None:
            return
        region, account = connection.region, connection.tenant_id
        if ref.startswith("arn:"):
            wanted = ref
        elif ref.startswith(ALIAS_PREFIX):
            wanted = alias_arn(region, account, ref)
        else:
            wanted = key_arn(region, account, ref)
        parts = wanted.split(":")
        if len(parts) < 6 or parts[2] != "kms" or parts[4] != account:
            raise ValidationError(
                f"KMS key {ref[:256]} does not exist or is not a key of the connection's account."
            )
        try:
            # The connection's Region's KMS (decision 0400): its keys are the secret's.
            keys = self._customer_keys
            if region != self._region:
                keys = keys.in_region(region)
            key = await keys.key_record_for_service_use(wanted, alias_arn=True)
        except KmsError as exc:
            raise ValidationError(f"KMS key {ref[:256]} is not usable: {exc}") from None
        if KEY_TAG not in key.tags:
            raise ValidationError(
                f"KMS key {ref[:256]} must carry the tag {KEY_TAG[0]}={KEY_TAG[1]} for "
                "EventBridge to use it."
            )

    async def _rewrite(
        self, actor: Actor, connection: Connection, value: SecretValue
    ) -> str | None:
        """A new value of the connection's secret (under its new key, if it changed); None
        when the secret is gone (a new one is then made)."""
        assert connection.secret_ref is not None  # noqa: S101 (the caller checked)
        try:
            secret = await self._secrets.resolve(actor, connection.secret_ref)
            if secret.kms_key_id != connection.kms_key:
                secret, _ = await self._secrets.update(
                    actor,
                    secret.arn,
                    kms_key_id=connection.kms_key or _DEFAULT_KEY,
                    value=value,
                )
            else:
                secret, _, _ = await self._secrets.put_value(actor, secret.arn, value)
        except SecretNotFound:
            return None
        return secret.arn

    async def read(self, connection: Connection) -> dict[str, Any] | None:
        arn = connection.secret_ref
        if arn is None:
            return None
        now = self._clock()
        held = self._cache.get(arn)
        if held is not None and held[0] > now:
            return held[1]
        try:
            _, _, plaintext = await self._secrets.get_value(
                self._actor(connection.tenant_id, None, connection.region), arn
            )
            auth = json.loads(plaintext)
        except (SecretsError, ValueError) as exc:
            # The secret gone or its key refused: no credentials (the delivery is refused);
            # the reason by its kind only, never a value.
            log.warning("connection %s: its secret unreadable (%s)", connection.arn, type(exc))
            self._cache.pop(arn, None)
            return None
        if not isinstance(auth, dict):
            return None
        if self._ttl > 0:
            self._cache[arn] = (now + self._ttl, auth)
        return auth

    async def delete(self, connection: Connection) -> None:
        arn = connection.secret_ref
        if arn is None:
            return
        self._cache.pop(arn, None)
        try:
            await self._secrets.delete(
                self._actor(connection.tenant_id, None, connection.region),
                arn,
                window_days=None,
                force=True,
            )
        except SecretNotFound:
            pass
