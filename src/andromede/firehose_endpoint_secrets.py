"""HTTP endpoint destinations' access keys in Secrets Manager (decision 0250): Firehose's
:class:`~andromede.firehose.http_endpoint.EndpointSecrets` over the secrets context's
:class:`~andromede.secrets.service.SecretService`.

A stream's SecretsManagerConfiguration names a secret of the stream's account and Region,
read by Firehose as a role: the configuration's RoleARN, else the destination's, else its S3
backup's — a role of the account that trusts ``firehose.amazonaws.com``. Each read is that
role's session's ``secretsmanager:GetSecretValue``, decided as every Secrets Manager call
(its identity policies and the secret's resource policy), and the secret's KMS key is
opened on the session's behalf (the key's policy decides, as AWS asks the role for
``kms:Decrypt``). The value must be AWS's ``{"api_key": "…"}``. A refusal is a failed
attempt with a code and no secret in its message; the value is read at every attempt, never
kept (a rotated key is used at once).
"""

from __future__ import annotations

import json
import uuid
from typing import Final

from andromede.firehose.errors import InvalidArgument
from andromede.firehose.model import DeliveryFailed, DeliveryStream
from andromede.firehose_delivery import role_session
from andromede.iam.model import Principal
from andromede.iam.service import IdentityService
from andromede.secrets.errors import SecretNotFound, SecretsError
from andromede.secrets.model import Secret
from andromede.secrets.service import Actor, SecretService
from andromede.secretsapi.authorise import KeyUser, SecretsAuthoriser
from andromede.secretsapi.errors import SecretsWireError

__all__ = ["SecretsManagerEndpointSecrets"]

_API_KEY: Final = "api_key"


def _reading_role(stream: DeliveryStream) -> str:
    http = stream.http
    if http is None:
        return stream.destination.role_arn
    return http.secret_role_arn or http.role_arn or stream.destination.role_arn


class SecretsManagerEndpointSecrets:
    def __init__(self, secrets: SecretService, identity: IdentityService, region: str) -> None:
        self._secrets = secrets
        self._identity = identity
        self._region = region
        self._authoriser = SecretsAuthoriser(identity, region)

    async def check(self, stream: DeliveryStream) -> None:
        http = stream.http
        arn = None if http is None else http.secret_arn
        if arn is None:
            raise InvalidArgument("SecretARN is required when SecretsManagerConfiguration is "
                                  "enabled.")  # fmt: skip
        if arn.split(":")[3:5] != [stream.region, stream.tenant_id]:
            raise InvalidArgument(
                f"The secret {arn[:256]} is not a secret of the account in the stream's Region."
            )
        role = _reading_role(stream)
        if await role_session(self._identity, stream, role) is None:
            raise InvalidArgument(
                f"Firehose is unable to assume role {role[:512]}. Please check the role provided."
            )

    async def access_key(self, stream: DeliveryStream) -> str:
        http = stream.http
        arn = None if http is None else http.secret_arn
        session = await role_session(self._identity, stream, _reading_role(stream))
        if arn is None or session is None:
            raise DeliveryFailed(
                "SecretsManager.AccessDenied",
                "Firehose is unable to assume the role reading the endpoint's secret.",
            )
        try:
            _, _, plaintext = await self._secrets.get_value(self._actor(stream, session), arn)
        except SecretNotFound:
            raise DeliveryFailed(
                "SecretsManager.ResourceNotFound", "The endpoint's secret was not found."
            ) from None
        except (SecretsError, SecretsWireError):  # refused: the policies, or its KMS key
            raise DeliveryFailed(
                "SecretsManager.AccessDenied",
                "Firehose may not read the endpoint's secret as the role, or open its key.",
            ) from None
        try:
            value = json.loads(plaintext)
        except ValueError:
            value = None
        key = value.get(_API_KEY) if isinstance(value, dict) else None
        if not isinstance(key, str):
            raise DeliveryFailed(
                "SecretsManager.InvalidSecretFormat",
                'The endpoint\'s secret must be a JSON object {"api_key": "..."}.',
            )
        return key

    def _actor(self, stream: DeliveryStream, session: Principal) -> Actor:
        user = KeyUser(session, None, True, f"firehose-{uuid.uuid4()}")

        async def authorise(action: str, secret: Secret | None) -> None:
            await self._authoriser.authorise(user, action, secret)

        return Actor(
            account=stream.tenant_id,
            region=self._region,
            authorise=authorise,
            caller=user,
        )
