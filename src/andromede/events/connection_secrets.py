"""Where a connection's credentials live (decision 0204): the port
:class:`ConnectionSecrets` the connections' service writes and reads them through — on AWS,
and here when ``serve`` wires it (``andromede.connection_secrets_adapters``), a Secrets
Manager secret of the customer's account, ``events!connection/<name>/<uuid>``, managed by
EventBridge. The events context knows nothing of Secrets Manager nor of KMS.

:class:`ConnectionCaller` is who asked (the EventBridge request's principal, its address, its
request id): the secret's KMS key is used on that caller's behalf at CreateConnection,
UpdateConnection and DeauthorizeConnection, so the caller's ``kms:*`` rights decide as they do
for Secrets Manager's own calls. The deliveries read the secret on the account's behalf.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from andromede.events.connection_model import Connection

__all__ = ["ConnectionCaller", "ConnectionSecrets"]


@dataclass(frozen=True, slots=True)
class ConnectionCaller:
    """The request a connection's change comes from; ``principal`` is the wire layer's,
    handed untouched to the adapter."""

    principal: object
    source_ip: str | None
    secure: bool
    request_id: str


class ConnectionSecrets(Protocol):
    async def write(
        self,
        connection: Connection,
        auth: dict[str, Any],
        caller: ConnectionCaller | None,
    ) -> str:
        """``auth`` (the whole AuthParameters) as the connection's secret value, under
        ``connection.kms_key`` (None: the platform's default for Secrets Manager): a new
        secret when ``connection.secret_ref`` is None, else a new version of it (its key
        changed first when ``connection.kms_key`` differs from the secret's). The secret's
        ARN. ``KmsAccessDenied`` / ``ValidationError`` when the key cannot be used."""
        ...

    async def read(self, connection: Connection) -> dict[str, Any] | None:
        """The AuthParameters its secret holds (perhaps from a short-lived cache); None when
        it cannot be read (the secret gone, its key disabled or refused)."""
        ...

    async def delete(self, connection: Connection) -> None:
        """Its secret deleted at once (DeleteConnection); nothing if it is gone already."""
        ...
