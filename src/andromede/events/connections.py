"""EventBridge's connections and API destinations (decision 0200): their calls' rules over a
:class:`andromede.events.connection_store.ConnectionStore`.

A BASIC or API_KEY connection is AUTHORIZED once made; an OAuth one is AUTHORIZING until its
first token comes from its AuthorizationEndpoint (the invoker's
:meth:`ConnectionService.authorized`), DEAUTHORIZED with a StateReason when the endpoint
refuses. DeauthorizeConnection drops the credentials (AWS deletes them; the invocation
parameters stay), and an UpdateConnection giving new ones authorizes it again. An API
destination names its connection by ARN (its uuid: a connection made again is another) and is
invoked only while that connection is authorized.

Where a :class:`~andromede.events.connection_secrets.ConnectionSecrets` is given (``serve``,
decision 0204), the credentials live in the account's Secrets Manager secret
``events!connection/<name>/<uuid>`` and the store keeps its ARN only: a change reads the
held credentials from it, writes the new ones into it (the caller's KMS rights deciding), then
writes the connection against the row it read (ConcurrentModification if another change came
between). A connection of before that decision keeps its credentials in the store until its
next change moves them into a secret.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from andromede.events.connection_model import (
    HTTP_METHODS,
    ApiDestination,
    AuthType,
    Connection,
    ConnectionState,
    check_auth,
    check_endpoint,
    check_resource_name,
    merge_auth,
    split_auth,
)
from andromede.events.connection_secrets import ConnectionCaller, ConnectionSecrets
from andromede.events.connection_store import (
    ConnectionStore,
    connection_missing,
    destination_missing,
)
from andromede.events.errors import ConcurrentModification, ResourceNotFound, ValidationError
from andromede.events.model import parse_arn

__all__ = ["ConnectionLimits", "ConnectionService", "check_kms_key"]


def check_kms_key(value: str | None) -> None:
    """KmsKeyIdentifier: a key id, key ARN, alias name or alias ARN of 2,048 characters at
    most (AWS's constraint); whether the key exists and may be used is KMS's to say."""
    if value is not None and not 1 <= len(value) <= 2048:
        raise ValidationError("KmsKeyIdentifier must be 1 to 2048 characters.")


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    max_connections: int = 50
    max_destinations: int = 3000
    max_parameters: int = 100
    allow_http: bool = False


class ConnectionService:
    def __init__(
        self,
        store: ConnectionStore,
        *,
        region: str,
        limits: ConnectionLimits | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        secrets: ConnectionSecrets | None = None,
    ) -> None:
        self.store = store
        self.region = region
        self.limits = limits or ConnectionLimits()
        self._clock = clock
        self.secrets = secrets

    def connection_arn(self, tenant_id: str, name: str) -> str:
        """The ARN IAM judges a call on (its uuid unknown before the read: ``*``)."""
        return f"arn:aws:events:{self.region}:{tenant_id}:connection/{name}"

    def destination_arn(self, tenant_id: str, name: str) -> str:
        return f"arn:aws:events:{self.region}:{tenant_id}:api-destination/{name}"

    def _key(self, kms_key: str | None) -> None:
        check_kms_key(kms_key)
        if kms_key is not None and self.secrets is None:
            raise ValidationError(
                "KmsKeyIdentifier needs the connections' credentials in Secrets Manager, "
                "which this deployment does not serve."
            )

    def _auth(self, auth_type: str, params: Any, *, partial: bool = False) -> dict[str, Any]:
        if auth_type not in AuthType.ALL:
            raise ValidationError(
                f"1 validation error detected: Value '{str(auth_type)[:64]}' at "
                "'authorizationType' failed to satisfy constraint: Member must satisfy enum "
                "value set: [OAUTH_CLIENT_CREDENTIALS, BASIC, API_KEY]"
            )
        return check_auth(
            auth_type,
            params,
            limit=self.limits.max_parameters,
            allow_http=self.limits.allow_http,
            partial=partial,
        )

    # -- connections

    async def create_connection(
        self,
        tenant_id: str,
        name: str,
        auth_type: str,
        auth_params: Any,
        *,
        description: str | None = None,
        kms_key: str | None = None,
        caller: ConnectionCaller | None = None,
    ) -> Connection:
        check_resource_name(name)
        self._key(kms_key)
        auth = self._auth(auth_type, auth_params)
        now = self._clock()
        oauth = auth_type == AuthType.OAUTH
        connection = Connection(
            tenant_id,
            self.region,
            name,
            str(uuid.uuid4()),
            auth_type,
            auth,
            state=ConnectionState.AUTHORIZING if oauth else ConnectionState.AUTHORIZED,
            description=description,
            shown=split_auth(auth)[0],
            created=now,
            modified=now,
            last_authorized=None if oauth else now,
            kms_key=kms_key,
        )
        if self.secrets is None:
            await self.store.create_connection(connection, limit=self.limits.max_connections)
            return connection
        arn = await self.secrets.write(connection, auth, caller)
        kept = replace(connection, auth=None, secret_ref=arn)
        try:
            await self.store.create_connection(kept, limit=self.limits.max_connections)
        except Exception:  # the name taken, the limit reached: the secret made goes again
            await self.secrets.delete(kept)
            raise
        return replace(kept, auth=auth)

    async def describe_connection(self, tenant_id: str, name: str) -> Connection:
        found = await self.store.get_connection(tenant_id, check_resource_name(name))
        if found is None:
            raise connection_missing(name)
        return found

    async def list_connections(
        self, tenant_id: str, *, prefix: str, state: str | None, after: str, limit: int
    ) -> list[Connection]:
        if state is not None and state not in ConnectionState.ALL:
            raise ValidationError(f"ConnectionState {state[:64]} is not valid.")
        return await self.store.list_connections(
            tenant_id, prefix=prefix, state=state, after=after, limit=limit
        )

    async def update_connection(
        self,
        tenant_id: str,
        name: str,
        *,
        auth_type: str | None,
        auth_params: Any,
        description: str | None,
        kms_key: str | None = None,
        caller: ConnectionCaller | None = None,
    ) -> Connection:
        check_resource_name(name)
        self._key(kms_key)
        now = self._clock()

        def change(held: Connection) -> Connection:
            kind = auth_type or held.auth_type
            changed = replace(held, modified=now, auth_type=kind)
            if description is not None:
                changed = replace(changed, description=description)
            if kms_key is not None:
                changed = replace(changed, kms_key=kms_key)
            if auth_params is None and kind == held.auth_type:
                return changed
            given = self._auth(kind, auth_params or {}, partial=kind == held.auth_type)
            base = (held.auth or {}) if kind == held.auth_type else {}
            auth = self._auth(kind, merge_auth(base, given))  # whole again: nothing missing
            oauth = kind == AuthType.OAUTH
            return replace(
                changed.with_auth(auth),
                state=ConnectionState.AUTHORIZING if oauth else ConnectionState.AUTHORIZED,
                state_reason=None,
                last_authorized=held.last_authorized if oauth else now,
            )

        return await self._change(tenant_id, name, change, caller)

    async def deauthorize_connection(
        self, tenant_id: str, name: str, *, caller: ConnectionCaller | None = None
    ) -> Connection:
        check_resource_name(name)
        now = self._clock()

        def change(held: Connection) -> Connection:
            # The credentials go (AWS deletes them); the invocation parameters stay, so that
            # an UpdateConnection giving new credentials only authorizes it again.
            kept = {k: v for k, v in (held.auth or {}).items() if k == "InvocationHttpParameters"}
            return replace(
                held.with_auth(kept),
                state=ConnectionState.DEAUTHORIZED,
                state_reason="Deauthorized by DeauthorizeConnection",
                modified=now,
            )

        return await self._change(tenant_id, name, change, caller)

    async def _change(
        self,
        tenant_id: str,
        name: str,
        change: Callable[[Connection], Connection],
        caller: ConnectionCaller | None,
    ) -> Connection:
        """``change`` applied to the held connection, its credentials read from and written
        into its secret (where secrets are served) before the row is written against the one
        read; a connection of before decision 0204 gets its secret now."""
        if self.secrets is None:
            return await self.store.change_connection(tenant_id, name, change)
        held = await self.store.get_connection(tenant_id, name)
        if held is None:
            raise connection_missing(name)
        if held.secret_ref is not None:
            held = replace(held, auth=await self.secrets.read(held))
        changed = change(held)
        arn = held.secret_ref
        moved = arn is None or changed.auth != held.auth or changed.kms_key != held.kms_key
        if moved:
            arn = await self.secrets.write(changed, changed.auth or {}, caller)
        kept = replace(changed, auth=None, secret_ref=arn)

        def against(current: Connection) -> Connection:
            if current.uuid != held.uuid or current.modified != held.modified:
                raise ConcurrentModification(f"Connection {name} changed meanwhile; try again.")
            return kept

        await self.store.change_connection(tenant_id, name, against)
        return replace(changed, secret_ref=arn)

    async def delete_connection(self, tenant_id: str, name: str) -> Connection:
        deleted = await self.store.delete_connection(tenant_id, check_resource_name(name))
        if self.secrets is not None and deleted.secret_ref is not None:
            await self.secrets.delete(deleted)  # AWS deletes the connection's secret with it
        return deleted

    async def authorized(self, connection: Connection, reason: str | None) -> None:
        """The invoker's word on an OAuth connection's token: fetched (``reason`` None) or
        refused (the connection DEAUTHORIZED, ``reason`` its StateReason)."""
        now = self._clock()
        state = ConnectionState.AUTHORIZED if reason is None else ConnectionState.DEAUTHORIZED
        if connection.state == state:
            return

        def change(held: Connection) -> Connection:
            if held.uuid != connection.uuid or held.state == ConnectionState.DEAUTHORIZED:
                return held  # made again, or deauthorized by its owner meanwhile
            return replace(
                held,
                state=state,
                state_reason=reason,
                last_authorized=now if reason is None else held.last_authorized,
            )

        try:
            await self.store.change_connection(connection.tenant_id, connection.name, change)
        except ResourceNotFound:
            pass

    # -- API destinations

    async def _connection_of(self, tenant_id: str, arn: str) -> Connection:
        parts = parse_arn(arn)
        resource = "" if parts is None else parts[3]
        pieces = resource.split("/")
        if (
            parts is None
            or parts[0] != "events"
            or parts[2] != tenant_id
            or parts[1] != self.region
            or len(pieces) != 3
            or pieces[0] != "connection"
        ):
            raise ValidationError(f"ConnectionArn {arn[:256]} is not a connection's ARN.")
        held = await self.store.get_connection(tenant_id, pieces[1])
        if held is None or held.uuid != pieces[2]:
            raise connection_missing(pieces[1])
        return held

    def _check_destination(self, endpoint: Any, method: Any, rate: Any) -> None:
        check_endpoint(endpoint, "InvocationEndpoint", allow_http=self.limits.allow_http)
        if method not in HTTP_METHODS:
            raise ValidationError(
                "HttpMethod must be one of " + ", ".join(sorted(HTTP_METHODS)) + "."
            )
        if isinstance(rate, bool) or not isinstance(rate, int) or not 1 <= rate <= 300:
            raise ValidationError("InvocationRateLimitPerSecond must be between 1 and 300.")

    async def create_destination(
        self,
        tenant_id: str,
        name: str,
        connection_arn: str,
        endpoint: str,
        method: str,
        *,
        rate: int | None = None,
        description: str | None = None,
    ) -> ApiDestination:
        check_resource_name(name)
        rate = 300 if rate is None else rate
        self._check_destination(endpoint, method, rate)
        connection = await self._connection_of(tenant_id, connection_arn)
        now = self._clock()
        destination = ApiDestination(
            tenant_id,
            self.region,
            name,
            str(uuid.uuid4()),
            connection.name,
            connection.arn,
            endpoint,
            method,
            rate,
            description=description,
            created=now,
            modified=now,
        )
        await self.store.create_destination(destination, limit=self.limits.max_destinations)
        return destination

    async def describe_destination(self, tenant_id: str, name: str) -> ApiDestination:
        found = await self.store.get_destination(tenant_id, check_resource_name(name))
        if found is None:
            raise destination_missing(name)
        return found

    async def list_destinations(
        self,
        tenant_id: str,
        *,
        prefix: str,
        connection_arn: str | None,
        after: str,
        limit: int,
    ) -> list[ApiDestination]:
        return await self.store.list_destinations(
            tenant_id, prefix=prefix, connection_arn=connection_arn, after=after, limit=limit
        )

    async def update_destination(
        self,
        tenant_id: str,
        name: str,
        *,
        connection_arn: str | None,
        endpoint: str | None,
        method: str | None,
        rate: int | None,
        description: str | None,
    ) -> ApiDestination:
        check_resource_name(name)
        connection = (
            None if connection_arn is None else await self._connection_of(tenant_id, connection_arn)
        )
        now = self._clock()

        def change(held: ApiDestination) -> ApiDestination:
            changed = replace(
                held,
                endpoint=held.endpoint if endpoint is None else endpoint,
                method=held.method if method is None else method,
                rate=held.rate if rate is None else rate,
                description=held.description if description is None else description,
                modified=now,
            )
            if connection is not None:
                changed = replace(
                    changed, connection_name=connection.name, connection_arn=connection.arn
                )
            self._check_destination(changed.endpoint, changed.method, changed.rate)
            return changed

        return await self.store.change_destination(tenant_id, name, change)

    async def delete_destination(self, tenant_id: str, name: str) -> None:
        await self.store.delete_destination(tenant_id, check_resource_name(name))

    async def invocation(self, tenant_id: str, arn: str) -> tuple[ApiDestination, Connection]:
        """The destination a target's ARN names and its connection with its credentials;
        ResourceNotFound when either is gone (or was made again: another uuid)."""
        parts = parse_arn(arn)
        pieces = ("" if parts is None else parts[3]).split("/")
        # Another Region's ARN names another Region's destination (decision 0400).
        if parts is None or parts[2] != tenant_id or parts[1] != self.region or len(pieces) != 3:
            raise destination_missing(arn[:256])
        destination = await self.store.get_destination(tenant_id, pieces[1])
        if destination is None or destination.uuid != pieces[2]:
            raise destination_missing(pieces[1])
        connection = await self.store.get_connection(tenant_id, destination.connection_name)
        if connection is None or connection.arn != destination.connection_arn:
            raise connection_missing(destination.connection_name)
        if self.secrets is not None and connection.secret_ref is not None:
            connection = replace(connection, auth=await self.secrets.read(connection))
        return destination, connection
