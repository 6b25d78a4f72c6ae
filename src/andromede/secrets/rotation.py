"""Secrets Manager rotation through a Lambda function (decision 0303): RotateSecret,
CancelRotateSecret, and the rotations themselves, run now or when their schedule's window
opens, by whichever gateway takes the secret's lease.

A rotation is AWS's: a version labelled ``AWSPENDING`` whose id is the rotation's
``ClientRequestToken`` is made first, without a value (GetSecretValue answers
``ResourceNotFoundException`` for it until the function's PutSecretValue fills it); the
function is then invoked synchronously, as ``secretsmanager.amazonaws.com``, four times —
``createSecret``, ``setSecret``, ``testSecret``, ``finishSecret`` — with ``SecretId`` (the
ARN), ``ClientRequestToken`` and ``Step``. The function itself calls the API back with its
execution role (PutSecretValue, UpdateSecretVersionStage moving ``AWSCURRENT``). Once
``finishSecret`` has moved ``AWSCURRENT`` to the pending version, ``AWSPENDING`` is taken off
it and the rotation is done (``LastRotatedDate``). A step that fails stops the rotation:
``AWSPENDING`` and the previous ``AWSCURRENT`` stay where they are, as on AWS, and the next
RotateSecret is refused ("A previous rotation isn't complete") until the schedule's next
window tries it again with the same token (the functions are written to be re-run) or the
customer takes ``AWSPENDING`` off.

RotateSecret with ``RotateImmediately`` false rotates nothing but tests the configuration as
AWS does (decision 0308): a version labelled ``AWSPENDING`` holding the current value (sealed
anew under its own id, as the caller) is made, the function's ``testSecret`` step is invoked
once with it, and the version is removed; a failing step refuses the call
(``InvalidRequestException``) and leaves the rotation's configuration as it was before it.
A rotated primary's new ``AWSCURRENT`` is carried to its replicas, as Secrets Manager itself.

The function is reached through :class:`RotationFunctions`, the port the wiring fills with
Lambda's service invocations (the functions context is not imported here). Each rotation run
is audited in the secret's account as CloudTrail logs it — ``RotationStarted``, then
``RotationSucceeded`` or ``RotationFailed`` with the step's error — through
:class:`RotationAudit`."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from typing import Final, Protocol

from andromede.secrets.errors import Conflict, InvalidRequest, SecretsError
from andromede.secrets.model import CURRENT, PENDING, Secret, SecretVersion, move_stage, parse_arn
from andromede.secrets.replication import ReplicaSync
from andromede.secrets.rotation_model import STEPS, TEST_STEP, RotationRules, RotationState
from andromede.secrets.rotation_store import RotationStore
from andromede.secrets.store import SecretStore

__all__ = ["RotationAudit", "RotationDenied", "RotationFunctions", "SecretRotation"]

log = logging.getLogger(__name__)

_TRIES: Final = 5
_IN_PROGRESS: Final = "A previous rotation isn't complete. That rotation will be reattempted."
_NO_FUNCTION: Final = "No Lambda rotation function ARN is associated with this secret."
_TEST_FAILED: Final = (
    "Secrets Manager tested the rotation configuration and the rotation function's testSecret "
    "step failed: "
)


class RotationDenied(SecretsError):
    """The rotation function is not there, or its resource-based policy does not let
    Secrets Manager invoke it (AWS's ``AccessDeniedException``)."""


class RotationFunctions(Protocol):
    async def check(self, function_arn: str, secret: Secret) -> None:
        """RotationDenied unless ``secretsmanager.amazonaws.com`` may invoke the function for
        ``secret`` (its ARN the source, its account the source account)."""
        ...

    async def invoke(self, function_arn: str, secret: Secret, event: bytes) -> str | None:
        """Invoke the function synchronously with ``event`` as Secrets Manager; None when
        the handler succeeded, else why not (its error type and message)."""
        ...


Authorised = Callable[[object, str, str], Awaitable[Secret]]


class Calling(Protocol):
    """Who asks for a rotation (the service's ``Actor``): its caller is the one the sealer
    uses the secret's key for."""

    @property
    def caller(self) -> object: ...


class Sealing(Protocol):
    """The service's sealer, as far as the configuration's test needs it."""

    async def seal(
        self, secret: Secret, version_id: str, plaintext: bytes, caller: object
    ) -> bytes: ...

    async def open(self, secret: Secret, version: SecretVersion, caller: object) -> bytes: ...


class RotationAudit(Protocol):
    def __call__(self, tenant_id: str, event: str, secret_arn: str, error: str | None) -> None:
        """Record ``event`` (``RotationStarted``, ``RotationSucceeded``, ``RotationFailed``,
        as CloudTrail logs them) of the secret in its account, Secrets Manager acting."""
        ...


class SecretRotation:
    def __init__(
        self,
        secrets: SecretStore,
        store: RotationStore,
        clock: Callable[[], datetime],
        authorised: Authorised,
        *,
        lease_seconds: float = 900.0,
        sealer: Sealing | None = None,
        replicas: ReplicaSync | None = None,
    ) -> None:
        self._secrets = secrets
        self.store = store
        self._clock = clock
        self._authorised = authorised
        self.lease_seconds = lease_seconds
        self._sealer = sealer
        self._replicas = replicas
        # Lambda's, bound by its wiring (made after Secrets Manager's); None: not served.
        self.functions: RotationFunctions | None = None
        self.audit: RotationAudit | None = None
        self.owner = f"rotation-{uuid.uuid4().hex[:12]}"
        self._running: set[asyncio.Task[bool]] = set()

    # --- the API -------------------------------------------------------------------------

    async def rotate(
        self,
        actor: Calling,
        secret_id: str,
        *,
        token: str | None,
        function_arn: str | None,
        rules: RotationRules | None,
        immediately: bool,
        authorise_invoke: Callable[[str], Awaitable[None]],
    ) -> tuple[Secret, str | None]:
        """RotateSecret: the rotation configured (the function, the rules) and, unless
        ``immediately`` is False, started; the pending version's id when started. Not
        started, the configuration is tested first (the function's ``testSecret``)."""
        secret = await self._authorised(actor, "secretsmanager:RotateSecret", secret_id)
        held = await self.store.get(secret.arn)
        function = function_arn or (None if held is None else held.function_arn)
        if function is None:
            raise InvalidRequest(_NO_FUNCTION)
        if function_arn is not None:  # passing a function needs the right to invoke it
            await authorise_invoke(function_arn)
        if self.functions is None:
            raise RotationDenied("AWS Lambda is not served by this deployment.")
        await self.functions.check(function, secret)
        pending = _pending(await self._secrets.versions(secret.arn))
        live_lease = held is not None and held.lease_until > _ms()
        if pending is not None or live_lease:
            if immediately and token is not None and pending == token:
                return secret, token  # the same request again
            raise InvalidRequest(_IN_PROGRESS)
        now = self._clock()
        kept = rules or (None if held is None else held.rules)
        state = RotationState(
            secret.arn,
            secret.tenant_id,
            secret.region,
            function_arn=function,
            rules=kept,
            enabled=True,
            last_rotated=None if held is None else held.last_rotated,
            next_rotation=None if kept is None else kept.next_after(now),
        )
        if not immediately:
            await self._tested(actor, secret, state, held, token or str(uuid.uuid4()))
            return secret, None
        version_id = token or str(uuid.uuid4())
        secret = await self._add_pending(secret, version_id)
        await self.store.save(replace(state, token=version_id, failure=None))
        task = asyncio.create_task(self.run(secret.arn), name=f"rotation-{version_id[:8]}")
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return secret, version_id

    async def cancel(self, actor: object, secret_id: str) -> tuple[Secret, str | None]:
        """CancelRotateSecret: automatic rotation off (the function and rules kept, as AWS
        keeps them); the id of a pending version left by a rotation, which AWS leaves for the
        customer to remove."""
        secret = await self._authorised(actor, "secretsmanager:CancelRotateSecret", secret_id)
        held = await self.store.get(secret.arn)
        if held is not None:
            await self.store.save(replace(held, enabled=False, next_rotation=None))
        return secret, _pending(await self._secrets.versions(secret.arn))

    async def state(self, secret: Secret) -> RotationState | None:
        return await self.store.get(secret.arn)

    async def idle(self) -> None:
        """Wait for the rotations this gateway started (tests)."""
        while self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    async def stop(self) -> None:
        """Stop the rotations this gateway started (shutdown): their lease runs out and
        another gateway's worker tries them again with the same token."""
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)

    # --- running ---------------------------------------------------------------------------

    async def run_due(self, batch: int = 50) -> int:
        """Run the rotations whose window is open (every gateway's worker); the number run."""
        now = self._clock()
        ran = 0
        for state in await self.store.due(now, _ms(), batch):
            if await self.run(state.secret_arn):
                ran += 1
        return ran

    async def run(self, secret_arn: str) -> bool:
        """Claim the secret's rotation and run it; False when another gateway holds it or
        its window had closed (moved to the next one)."""
        lease_ms = int(self.lease_seconds * 1000)
        state = await self.store.claim(secret_arn, self.owner, _ms(), _ms() + lease_ms)
        if state is None:
            return False
        secret = await self._secret(state)
        if secret is None:  # the secret is gone: so is its rotation
            await self.store.delete(secret_arn)
            return False
        now = self._clock()
        if state.token is None and state.rules is not None and state.next_rotation is not None:
            if now >= state.rules.window_closes(state.next_rotation):
                await self.store.settle(
                    replace(state, next_rotation=state.rules.next_after(now)), self.owner
                )
                return False
        if secret.deleted_date is not None or self.functions is None or not state.function_arn:
            await self.store.settle(state, self.owner)  # the lease released, nothing run
            return False
        token = state.token or str(uuid.uuid4())
        self._audited(secret, "RotationStarted", None)
        try:
            await self._add_pending(secret, token)
            failure = await self._steps(state.function_arn, secret, token)
        except SecretsError as exc:
            failure = f"{type(exc).__name__}: {exc}"
        if failure is None:
            await self._replicate(secret)
        self._audited(secret, "RotationFailed" if failure else "RotationSucceeded", failure)
        done = self._clock()
        following = None if state.rules is None else state.rules.next_after(done)
        if failure is None:
            settled = replace(
                state, token=None, failure=None, last_rotated=done, next_rotation=following
            )
        else:
            log.info("secret %s: rotation %s failed: %s", secret_arn, token, failure[:512])
            settled = replace(state, token=token, failure=failure[:2048], next_rotation=following)
        await self.store.settle(settled, self.owner)
        return True

    # --- the configuration's test (RotateImmediately false) --------------------------------

    async def _tested(
        self,
        actor: Calling,
        secret: Secret,
        state: RotationState,
        held: RotationState | None,
        token: str,
    ) -> None:
        """``state`` saved once the function's ``testSecret`` step passed on a version
        ``token`` labelled ``AWSPENDING`` holding the current value, made then removed, as
        AWS tests a configuration; the rotation as it was (``held``) and InvalidRequest when
        the step failed. The new configuration is saved, under this gateway's lease, while
        the step runs: AWS's templates refuse a secret whose rotation is not enabled."""
        functions = self.functions
        assert functions is not None  # noqa: S101 (rotate checked it)
        await self.store.save(state)
        lease_ms = int(self.lease_seconds * 1000)
        if await self.store.claim(secret.arn, self.owner, _ms(), _ms() + lease_ms) is None:
            await self._restore(secret.arn, held)
            raise InvalidRequest(_IN_PROGRESS)
        failure: str | None = "the test did not run"
        try:
            labels = await self._add_test_version(actor, secret, token)
            try:
                event = {"SecretId": secret.arn, "ClientRequestToken": token, "Step": TEST_STEP}
                failure = await functions.invoke(
                    state.function_arn or "", secret, json.dumps(event).encode()
                )
            finally:
                await self._remove_test_version(secret, token, labels)
        finally:  # the version not made (its KMS error, a token in use) answers its own error
            if failure is None:
                await self.store.settle(state, self.owner)
            else:
                await self._restore(secret.arn, held)
        if failure is not None:
            log.info("secret %s: rotation's testSecret failed: %s", secret.arn, failure[:512])
            raise InvalidRequest(_TEST_FAILED + failure[:1024])

    async def _restore(self, secret_arn: str, held: RotationState | None) -> None:
        """The rotation as it was before a refused RotateSecret (none: no row)."""
        if held is None:
            await self.store.delete(secret_arn)
        elif not await self.store.settle(held, self.owner):
            await self.store.save(held)

    async def _add_test_version(
        self, actor: Calling, secret: Secret, token: str
    ) -> dict[str, tuple[str, ...]]:
        """The version ``token`` labelled ``AWSPENDING`` (moved off the version holding it)
        with the current value, sealed under its own id as ``actor``'s caller; the labels
        the versions held before."""
        if self._sealer is None:
            raise InvalidRequest("The rotation configuration cannot be tested here.")
        for _ in range(_TRIES):
            current = await self._current(secret) or secret
            versions = await self._secrets.versions(current.arn)
            held = {v.version_id: v.stages for v in versions}
            if token in held:
                raise InvalidRequest(
                    f"You can't use ClientRequestToken {token} because that value is already "
                    f"in use for a version of secret {current.arn}."
                )
            now_current = next((v for v in versions if CURRENT in v.stages), None)
            if now_current is None or not now_current.sealed:
                raise InvalidRequest("The secret has no AWSCURRENT value to test rotation with.")
            plain = await self._sealer.open(current, now_current, actor.caller)
            sealed = await self._sealer.seal(current, token, plain, actor.caller)
            moved = move_stage({**held, token: ()}, PENDING, token)
            changes = {v: s for v, s in moved.items() if v != token and s != held[v]}
            version = SecretVersion(
                current.arn, token, (PENDING,), self._clock(), sealed, now_current.binary
            )
            try:
                await self._secrets.write_versions(current, current.revision, version, changes)
            except Conflict:
                continue
            return held
        raise InvalidRequest("The secret is being changed by another request; try again.")

    async def _remove_test_version(
        self, secret: Secret, token: str, labels: dict[str, tuple[str, ...]]
    ) -> None:
        """The test's version gone, ``AWSPENDING`` back where it was; the other labels as
        the function left them."""
        for _ in range(_TRIES):
            current = await self._current(secret)
            if current is None:
                return
            versions = await self._secrets.versions(current.arn)
            now = {v.version_id: v.stages for v in versions if v.version_id != token}
            mine = [v.stages for v in versions if v.version_id == token]
            if not mine or CURRENT in mine[0]:  # gone, or made current by the function itself
                return
            back = next((v for v, s in labels.items() if PENDING in s and v in now), None)
            moved = move_stage(now, PENDING, back) if back is not None else now
            changes = {v: s for v, s in moved.items() if s != now[v]}
            try:
                await self._secrets.write_versions(
                    current, current.revision, None, changes, [token]
                )
            except Conflict:
                continue
            return
        log.warning("secret %s: the rotation test's version %s was not removed", secret.arn, token)

    async def _replicate(self, secret: Secret) -> None:
        """A rotated primary's versions (the new ``AWSCURRENT``, ``AWSPENDING`` taken off)
        carried to its replicas as Secrets Manager acting for the account, as AWS replicates a
        rotated secret: those this gateway serves now, the others by their regions' upkeep.
        The function's own calls carried its changes as its role; the last one is ours."""
        replicas = self._replicas
        if replicas is None or secret.primary_region is None or secret.is_replica:
            return
        made_by = replicas.policy.background_caller
        if made_by is None:
            await self._secrets.mark_due(secret.arn, self._clock())
            return
        await replicas.propagate(secret, made_by(secret.tenant_id))

    def _audited(self, secret: Secret, event: str, error: str | None) -> None:
        if self.audit is not None:
            self.audit(secret.tenant_id, event, secret.arn, None if error is None else error[:512])

    async def _steps(self, function_arn: str, secret: Secret, token: str) -> str | None:
        functions = self.functions
        if functions is None:
            return "AWS Lambda is not served by this deployment."
        for step in STEPS:
            event = json.dumps({"SecretId": secret.arn, "ClientRequestToken": token, "Step": step})
            error = await functions.invoke(function_arn, secret, event.encode())
            if error is not None:
                return f"{step}: {error}"
        return await self._finish(secret, token)

    async def _finish(self, secret: Secret, token: str) -> str | None:
        """``AWSPENDING`` off the new ``AWSCURRENT``; why not if finishSecret did not move
        ``AWSCURRENT`` to it."""
        for _ in range(_TRIES):
            current = await self._current(secret)
            if current is None:
                return None
            versions = await self._secrets.versions(current.arn)
            held = {v.version_id: v.stages for v in versions}
            if CURRENT not in held.get(token, ()):
                return "finishSecret: AWSCURRENT was not moved to the pending version"
            if PENDING not in held[token]:
                return None
            changes = {token: tuple(s for s in held[token] if s != PENDING)}
            try:
                await self._secrets.write_versions(
                    replace(current, last_changed=self._clock()), current.revision, None, changes
                )
            except Conflict:
                continue
            return None
        return "finishSecret: the secret kept changing"

    async def _add_pending(self, secret: Secret, token: str) -> Secret:
        """The version ``token`` labelled ``AWSPENDING``, made without a value unless it is
        there already (a rotation tried again)."""
        for _ in range(_TRIES):
            current = await self._current(secret) or secret
            versions = await self._secrets.versions(current.arn)
            held = {v.version_id: v.stages for v in versions}
            if PENDING in held.get(token, ()):
                return current
            exists = token in held
            moved = move_stage({**held, token: held.get(token, ())}, PENDING, token)
            changes = {v: s for v, s in moved.items() if s != held.get(v) and v != token}
            binary = next((v.binary for v in versions if CURRENT in v.stages), False)
            placeholder = SecretVersion(
                current.arn, token, moved[token], self._clock(), b"", binary
            )
            if exists:
                changes[token] = moved[token]
            try:
                return await self._secrets.write_versions(
                    replace(current, last_changed=self._clock()),
                    current.revision,
                    None if exists else placeholder,
                    changes,
                )
            except Conflict:
                continue
        raise InvalidRequest("The secret is being changed by another request; try again.")

    async def _secret(self, state: RotationState) -> Secret | None:
        parsed = parse_arn(state.secret_arn)
        if parsed is None:
            return None
        region, account, part = parsed
        found = await self._secrets.get(account, region, part[:-7])
        return found if found is not None and found.arn == state.secret_arn else None

    async def _current(self, secret: Secret) -> Secret | None:
        found = await self._secrets.get(secret.tenant_id, secret.region, secret.name)
        return found if found is not None and found.arn == secret.arn else None


def _pending(versions: list[SecretVersion]) -> str | None:
    """The version ``AWSPENDING`` is on apart from ``AWSCURRENT``: a rotation not finished."""
    return next(
        (v.version_id for v in versions if PENDING in v.stages and CURRENT not in v.stages), None
    )


def _ms() -> int:
    return int(time.time() * 1000)
