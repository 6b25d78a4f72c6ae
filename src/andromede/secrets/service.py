"""The secrets service (decision 0190): the only public entry of the context. It resolves a
secret from a name or an ARN (full, or partial: without the six random characters), asks the
caller's :class:`Actor` to authorise each action on it, seals each new value through the
injected :class:`SecretSealer` (an envelope under the secret's KMS key, ``wiring.secrets``)
and keeps the staging labels' rules of :mod:`andromede.secrets.model`.

Versions without a label are removed beyond ``max_versions``, the oldest first, once
``version_grace`` has passed since their creation (AWS's 24 hours); a write removes what it
can and the sweeper's :meth:`SecretService.prune_versions` the rest. A change of ``KmsKeyId``
re-encrypts the versions labelled ``AWSCURRENT``, ``AWSPENDING`` and ``AWSPREVIOUS`` under the
new key in the write that changes it (decision 0190, session 49).

A write reads the secret's revision and writes against it; a concurrent writer's
:class:`Conflict` makes it read and try again, a few times.

Replication to other regions (decision 0207) is :class:`~andromede.secrets.replication.
ReplicaSync`'s: each change of a primary secret is propagated to its replicas, which are
read-only."""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol

from andromede.secrets.errors import (
    Conflict,
    DecryptionFailure,
    EncryptionFailure,
    InvalidParameter,
    InvalidRequest,
    KmsAccessDenied,
    LimitExceeded,
    SecretExists,
    SecretNotFound,
)
from andromede.secrets.model import (
    CURRENT,
    PENDING,
    PREVIOUS,
    Replica,
    Secret,
    SecretVersion,
    check_name,
    matches,
    move_stage,
    new_arn,
    owning_service,
    parse_arn,
)
from andromede.secrets.replication import ReplicaSync, ReplicationPolicy
from andromede.secrets.rotation import SecretRotation
from andromede.secrets.rotation_store import MemoryRotationStore, RotationStore
from andromede.secrets.store import SecretStore

__all__ = ["Actor", "SecretLimits", "SecretSealer", "SecretService", "SecretValue"]

_TRIES: Final = 5
_MARKED: Final = (
    "You can't perform this operation on the secret because it was marked for deletion."
)
_NOT_FOUND: Final = "Secrets Manager can't find the specified secret."
_REPLICA: Final = (
    "Operation not permitted on a replica secret. Call must be made in primary secret's region."
)
# The versions AWS re-encrypts when a secret's key changes; the others keep their old key.
_RESEALED: Final = frozenset({CURRENT, PENDING, PREVIOUS})
# A failure to open a version under the old key or seal it under the new one: AWS then leaves
# the versions as they were and changes the key all the same.
_KEY_FAILURES: Final = (DecryptionFailure, EncryptionFailure, KmsAccessDenied)


class SecretSealer(Protocol):
    """Seals a version's value under the secret's KMS key and opens it again, on behalf of
    ``caller`` (the wire layer's, handed untouched). Raises ``EncryptionFailure`` /
    ``DecryptionFailure``."""

    async def seal(
        self, secret: Secret, version_id: str, plaintext: bytes, caller: object
    ) -> bytes: ...

    async def open(self, secret: Secret, version: SecretVersion, caller: object) -> bytes: ...

    async def reseal(
        self, secret: Secret, version: SecretVersion, plaintext: bytes, caller: object
    ) -> bytes:
        """``version``'s value (``plaintext``) sealed under ``secret``'s new key, the
        version's present sealing kept beside it (AWS keeps the previous key's)."""
        ...


@dataclass(frozen=True, slots=True)
class SecretValue:
    data: bytes
    binary: bool


@dataclass(frozen=True, slots=True)
class SecretLimits:
    max_value_size: int = 65536
    max_secrets: int = 500_000
    max_versions: int = 100
    max_tags: int = 50
    version_grace: float = 86400.0  # seconds a version is kept after its creation
    max_versions_held: int = 500  # versions at once, those within the grace included


@dataclass(frozen=True, slots=True)
class Actor:
    """Who calls: the account and region the call is in, how to authorise an action on a
    secret (None: an action on no secret, ``*``), and the caller the sealer is handed."""

    account: str
    region: str
    authorise: Callable[[str, Secret | None], Awaitable[None]]
    caller: object = None
    # The service acting (``events`` for EventBridge's connections): it alone may change or
    # delete the secrets it manages (their names ``<service>!…``, decision 0204).
    service: str | None = None


def _now() -> datetime:
    return datetime.now(UTC)


class SecretService:
    def __init__(
        self,
        store: SecretStore,
        sealer: SecretSealer,
        limits: SecretLimits | None = None,
        clock: Callable[[], datetime] = _now,
        replication: ReplicationPolicy | None = None,
        rotations: RotationStore | None = None,
    ) -> None:
        self._store = store
        self._sealer = sealer
        self.limits = limits or SecretLimits()
        self._clock = clock
        self.replication = ReplicaSync(store, sealer, replication or ReplicationPolicy(), clock)
        self.rotation = SecretRotation(
            store, rotations or MemoryRotationStore(), clock, self._rotated, sealer=sealer,
            replicas=self.replication,
        )  # fmt: skip

    # --- resolving ---------------------------------------------------------------------

    async def resolve(self, actor: Actor, secret_id: str) -> Secret:
        """The secret ``secret_id`` names: a name of the caller's account, or an ARN."""
        parsed = parse_arn(secret_id)
        if parsed is None:
            found = await self._store.get(actor.account, actor.region, secret_id)
        else:
            region, account, part = parsed
            found = None
            if region == actor.region:
                if len(part) > 7 and part[-7] == "-":  # a full ARN names its random suffix
                    exact = await self._store.get(account, region, part[:-7])
                    if exact is not None and exact.arn == secret_id:
                        found = exact
                if found is None:
                    found = await self._store.get(account, region, part)
        if found is None:
            raise SecretNotFound(_NOT_FOUND)
        return found

    async def _authorised(self, actor: Actor, action: str, secret_id: str) -> Secret:
        secret = await self.resolve(actor, secret_id)
        await actor.authorise(action, secret)
        return secret

    async def _rotated(self, actor: object, action: str, secret_id: str) -> Secret:
        """The live secret of ``actor``'s own that rotation's ``action`` may change."""
        if not isinstance(actor, Actor):
            raise TypeError("rotation is asked for by a caller")
        return self._own(actor, self._live(await self._authorised(actor, action, secret_id)))

    @staticmethod
    def _own(actor: Actor, secret: Secret) -> Secret:
        """``secret`` if ``actor`` may change it: a secret another service manages is changed
        and deleted through that service only (AWS's ``InvalidRequestException``), a replica
        through its primary only."""
        if secret.is_replica:
            raise InvalidRequest(_REPLICA)
        owner = owning_service(secret)
        if owner is not None and owner != actor.service:
            raise InvalidRequest(
                f"You can't perform this operation on the secret because it's managed by "
                f"{owner}. Use {owner} to change or delete it."
            )
        return secret

    @staticmethod
    def _live(secret: Secret) -> Secret:
        if secret.deleted_date is not None:
            raise InvalidRequest(_MARKED)
        return secret

    # --- values ------------------------------------------------------------------------

    def _check_value(self, value: SecretValue) -> None:
        if len(value.data) > self.limits.max_value_size:
            raise InvalidParameter(f"The secret value exceeds {self.limits.max_value_size} bytes.")

    async def _version(
        self,
        actor: Actor,
        secret: Secret,
        version_id: str,
        value: SecretValue,
        stages: tuple[str, ...],
    ) -> SecretVersion:
        sealed = await self._sealer.seal(secret, version_id, value.data, actor.caller)
        return SecretVersion(secret.arn, version_id, stages, self._clock(), sealed, value.binary)

    async def _same_value(
        self, actor: Actor, secret: Secret, version: SecretVersion, value: SecretValue
    ) -> bool:
        held = await self._sealer.open(secret, version, actor.caller)
        return version.binary == value.binary and hmac.compare_digest(held, value.data)

    async def create(
        self,
        actor: Actor,
        name: str,
        value: SecretValue | None,
        *,
        kms_key_id: str | None = None,
        description: str | None = None,
        tags: Sequence[tuple[str, str]] = (),
        token: str | None = None,
        replicas: Sequence[tuple[str, str | None]] = (),
        overwrite: bool = False,
    ) -> tuple[Secret, str | None]:
        """A new secret (and its first version, ``AWSCURRENT``); the same call again with its
        ``token`` and value answers the same. An ``actor`` that is a service (its
        ``service``) makes the secrets it manages, named ``<service>!…``. ``replicas``
        (region, key) replicate it at once (decision 0207)."""
        if actor.service is not None:
            prefix = f"{actor.service}!"
            if not name.startswith(prefix):
                raise InvalidParameter(f"A secret {actor.service} manages is named {prefix}….")
            check_name(name.removeprefix(prefix))
        else:
            check_name(name)
        self._check_tags(tags)
        if value is not None:
            self._check_value(value)
        await actor.authorise("secretsmanager:CreateSecret", None)
        # The operator's allow-list for the account, now that every served region is an
        # endpoint (decision 0207), as CreateBucket applies it.
        await self.replication.check_home(actor.account, actor.region)
        if replicas:
            await self.replication.check_regions(actor.account, actor.region, replicas)
        existing = await self._store.get(actor.account, actor.region, name)
        if existing is not None:
            return await self._create_again(actor, existing, value, token)
        if await self._store.count(actor.account, actor.region) >= self.limits.max_secrets:
            raise LimitExceeded("You have exceeded the number of secrets in this Region.")
        now = self._clock()
        secret = Secret(
            arn=new_arn(actor.region, actor.account, name),
            tenant_id=actor.account,
            region=actor.region,
            name=name,
            created=now,
            last_changed=now,
            description=description,
            kms_key_id=kms_key_id,
            tags=tuple(tags),
        )
        version = None
        if value is not None:
            version = await self._version(
                actor, secret, token or str(uuid.uuid4()), value, (CURRENT,)
            )
        try:
            await self._store.create(secret, version)
        except SecretExists:
            raced = await self._store.get(actor.account, actor.region, name)
            if raced is None:
                raise
            return await self._create_again(actor, raced, value, token)
        if replicas:
            secret = await self.replication.add(
                secret, replicas, overwrite=overwrite, caller=actor.caller
            )
        return secret, None if version is None else version.version_id

    async def _create_again(
        self, actor: Actor, existing: Secret, value: SecretValue | None, token: str | None
    ) -> tuple[Secret, str | None]:
        if existing.deleted_date is not None:
            raise InvalidRequest(
                "You can't create this secret because a secret with this name is already "
                "scheduled for deletion."
            )
        if token is not None and value is not None and existing.tenant_id == actor.account:
            for version in await self._store.versions(existing.arn):
                if version.version_id == token:
                    if await self._same_value(actor, existing, version, value):
                        return existing, token
                    break
        raise SecretExists(
            f"The operation failed because the secret {existing.name} already exists."
        )

    async def get_value(
        self,
        actor: Actor,
        secret_id: str,
        version_id: str | None = None,
        stage: str | None = None,
    ) -> tuple[Secret, SecretVersion, bytes]:
        secret = self._live(
            await self._authorised(actor, "secretsmanager:GetSecretValue", secret_id)
        )
        versions = await self._store.versions(secret.arn)
        wanted = stage if stage is not None or version_id is not None else CURRENT
        found = next(
            (
                v
                for v in versions
                if (version_id is None or v.version_id == version_id)
                and (wanted is None or wanted in v.stages)
            ),
            None,
        )
        if found is None or not found.sealed:  # a rotation's AWSPENDING awaiting its value
            raise SecretNotFound(
                "Secrets Manager can't find the specified secret value for "
                + (f"VersionId: {version_id}" if version_id else f"staging label: {wanted}")
            )
        plaintext = await self._sealer.open(secret, found, actor.caller)
        now = self._clock()
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        if secret.last_accessed != day or found.last_accessed != day:
            await self._store.touch(secret.arn, found.version_id, day)
        return secret, found, plaintext

    async def put_value(
        self,
        actor: Actor,
        secret_id: str,
        value: SecretValue,
        *,
        token: str | None = None,
        stages: Sequence[str] | None = None,
        action: str = "secretsmanager:PutSecretValue",
    ) -> tuple[Secret, str, tuple[str, ...]]:
        """A new version of the secret; its labels (``AWSCURRENT`` unless ``stages`` says)
        leave the versions that held them."""
        self._check_value(value)
        labels = tuple(dict.fromkeys(stages)) if stages is not None else (CURRENT,)
        version_id = token or str(uuid.uuid4())
        for _ in range(_TRIES):
            secret = self._own(actor, self._live(await self._authorised(actor, action, secret_id)))
            versions = await self._store.versions(secret.arn)
            # A rotation's AWSPENDING version awaiting its value (decision 0303): the put fills it.
            pending = next((v for v in versions if v.version_id == version_id), None)
            if pending is not None and pending.sealed:
                if await self._same_value(actor, secret, pending, value):
                    return secret, version_id, pending.stages
                raise SecretExists(
                    "You can't modify an existing version, you can only create a new version."
                )
            if pending is not None and pending.binary != value.binary:
                raise InvalidParameter(
                    "The rotation's pending version takes a value of the secret's own type "
                    "(SecretString or SecretBinary)."
                )
            held = {v.version_id: v.stages for v in versions}
            relabelled: dict[str, tuple[str, ...]] = {**held, version_id: held.get(version_id, ())}
            for label in labels:
                relabelled = move_stage(relabelled, label, version_id)
            adding = 0 if pending is not None else 1
            drop = self._overflow(versions, relabelled, adding=adding)  # before any KMS use
            new = await self._version(actor, secret, version_id, value, relabelled[version_id])
            changes = {
                v: s for v, s in relabelled.items() if s != held.get(v) and v != new.version_id
            }
            if pending is not None:
                changes[version_id] = relabelled[version_id]
            try:
                written = await self._store.write_versions(
                    replace(secret, last_changed=self._clock()),
                    secret.revision,
                    None if pending is not None else new,
                    changes,
                    drop,
                    resealed=None if pending is None else {version_id: new.sealed},
                )
            except Conflict:
                continue
            await self._propagate(actor, written)
            return secret, version_id, relabelled[version_id]
        raise InvalidRequest("The secret is being changed by another request; try again.")

    def _overflow(
        self,
        versions: Sequence[SecretVersion],
        stages: Mapping[str, tuple[str, ...]],
        *,
        adding: int,
    ) -> list[str]:
        """The oldest versions without a label beyond the kept number (AWS: 100) and older
        than the grace (AWS does not remove a version created less than 24 hours ago), once
        ``adding`` more are written; ``LimitExceeded`` if the secret would then hold more
        than ``max_versions_held``, the grace keeping too many."""
        excess = len(versions) + adding - self.limits.max_versions
        if excess <= 0:
            return []
        ripe = self._clock() - timedelta(seconds=self.limits.version_grace)
        unlabelled = [
            v.version_id for v in versions if not stages.get(v.version_id) and v.created <= ripe
        ]
        drop = unlabelled[:excess]
        held = len(versions) + adding - len(drop)
        if adding and held > max(self.limits.max_versions_held, self.limits.max_versions):
            raise LimitExceeded(
                "You have exceeded the maximum number of versions of this secret: versions "
                "without a staging label are removed only "
                f"{self.limits.version_grace:g} seconds after their creation."
            )
        return drop

    # --- metadata ----------------------------------------------------------------------

    async def update(
        self,
        actor: Actor,
        secret_id: str,
        *,
        description: str | None = None,
        kms_key_id: str | None = None,
        value: SecretValue | None = None,
        token: str | None = None,
    ) -> tuple[Secret, str | None]:
        """UpdateSecret: the description, the key (the labelled versions re-encrypted under a
        new one), and a new value."""
        if kms_key_id is None:
            secret = await self._change(
                actor,
                secret_id,
                "secretsmanager:UpdateSecret",
                lambda s: replace(
                    s, description=s.description if description is None else description
                ),
            )
        else:
            secret = await self._rekey(actor, secret_id, kms_key_id, description)
        if value is None:
            return secret, None
        secret, version_id, _ = await self.put_value(
            actor, secret.arn, value, token=token, action="secretsmanager:UpdateSecret"
        )
        return secret, version_id

    async def _rekey(
        self, actor: Actor, secret_id: str, kms_key_id: str, description: str | None
    ) -> Secret:
        """The secret under ``kms_key_id``, its ``AWSCURRENT``, ``AWSPENDING`` and
        ``AWSPREVIOUS`` versions re-encrypted under it (the caller's Decrypt on the old key,
        GenerateDataKey on the new), all in one write against the revision read."""
        for _ in range(_TRIES):
            secret = self._own(
                actor,
                self._live(await self._authorised(actor, "secretsmanager:UpdateSecret", secret_id)),
            )
            changed = replace(
                secret,
                description=secret.description if description is None else description,
                kms_key_id=kms_key_id,
                last_changed=self._clock(),
            )
            resealed: dict[str, bytes] = {}
            if kms_key_id != secret.kms_key_id:
                resealed = await self._reseal(actor, secret, changed)
            try:
                written = await self._store.write_versions(
                    changed, secret.revision, None, {}, resealed=resealed
                )
            except Conflict:
                continue
            await self._propagate(actor, written)
            return written
        raise InvalidRequest("The secret is being changed by another request; try again.")

    async def _reseal(self, actor: Actor, before: Secret, after: Secret) -> dict[str, bytes]:
        """Each labelled version's value sealed under ``after``'s key; none if one cannot be
        opened or sealed as the caller (a disabled old key, no Decrypt or no Encrypt right):
        AWS then keeps the versions under their old key and changes the key all the same."""
        versions = [
            v
            for v in await self._store.versions(before.arn)
            if _RESEALED.intersection(v.stages) and v.sealed  # a pending one has no value yet
        ]
        try:
            opened = [(v, await self._sealer.open(before, v, actor.caller)) for v in versions]
            return {
                v.version_id: await self._sealer.reseal(after, v, plain, actor.caller)
                for v, plain in opened
            }
        except _KEY_FAILURES:
            return {}

    async def _change(
        self,
        actor: Actor,
        secret_id: str,
        action: str,
        change: Callable[[Secret], Secret],
        *,
        live: bool = True,
        managed: bool = False,
    ) -> Secret:
        """``managed``: a change the customer may make to a secret a service manages (its
        tags); the others are the managing service's alone."""
        for _ in range(_TRIES):
            secret = await self._authorised(actor, action, secret_id)
            if not managed:
                self._own(actor, secret)
            if live:
                self._live(secret)
            if secret.is_replica:
                raise InvalidRequest(_REPLICA)
            changed = replace(change(secret), last_changed=self._clock())
            try:
                written = await self._store.update(changed, secret.revision)
            except Conflict:
                continue
            await self._propagate(actor, written)
            return written
        raise InvalidRequest("The secret is being changed by another request; try again.")

    async def describe(self, actor: Actor, secret_id: str) -> tuple[Secret, list[SecretVersion]]:
        secret = await self._authorised(actor, "secretsmanager:DescribeSecret", secret_id)
        return secret, await self._store.versions(secret.arn)

    async def list_versions(
        self, actor: Actor, secret_id: str
    ) -> tuple[Secret, list[SecretVersion]]:
        secret = await self._authorised(actor, "secretsmanager:ListSecretVersionIds", secret_id)
        return secret, await self._store.versions(secret.arn)

    async def list_secrets(
        self,
        actor: Actor,
        filters: Sequence[tuple[str, Sequence[str]]] = (),
        *,
        include_deleted: bool = False,
    ) -> list[tuple[Secret, list[SecretVersion]]]:
        await actor.authorise("secretsmanager:ListSecrets", None)
        found = []
        for secret in await self._store.list_all(actor.account, actor.region):
            if (include_deleted or secret.deleted_date is None) and matches(secret, filters):
                found.append((secret, await self._store.versions(secret.arn)))
        return found

    async def update_stage(
        self,
        actor: Actor,
        secret_id: str,
        stage: str,
        *,
        remove_from: str | None,
        move_to: str | None,
    ) -> Secret:
        for _ in range(_TRIES):
            secret = self._own(
                actor,
                self._live(
                    await self._authorised(
                        actor, "secretsmanager:UpdateSecretVersionStage", secret_id
                    )
                ),
            )
            versions = await self._store.versions(secret.arn)
            held = {v.version_id: v.stages for v in versions}
            holder = next((v for v, s in held.items() if stage in s), None)
            if move_to is not None and move_to not in held:
                raise InvalidParameter(f"The version {move_to} does not exist.")
            if holder is not None and holder != move_to and remove_from != holder:
                raise InvalidParameter(
                    f"The parameter RemoveFromVersionId can't be empty. Staging label {stage} "
                    f"is currently attached to version {holder}, so you must explicitly "
                    "reference that version in RemoveFromVersionId."
                )
            if remove_from is not None and remove_from != holder:
                raise InvalidParameter(
                    f"The staging label {stage} is not attached to version {remove_from}."
                )
            if stage == CURRENT and move_to is None:
                raise InvalidParameter("You can't remove AWSCURRENT without moving it.")
            relabelled = move_stage(held, stage, move_to)
            changes = {v: s for v, s in relabelled.items() if s != held[v]}
            try:
                written = await self._store.write_versions(
                    replace(secret, last_changed=self._clock()), secret.revision, None, changes
                )
            except Conflict:
                continue
            await self._propagate(actor, written)
            return written
        raise InvalidRequest("The secret is being changed by another request; try again.")

    async def delete(
        self, actor: Actor, secret_id: str, *, window_days: int | None, force: bool
    ) -> tuple[Secret, datetime]:
        if force and window_days is not None:
            raise InvalidParameter(
                "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays."
            )
        days = 30 if window_days is None else window_days
        if not 7 <= days <= 30:
            raise InvalidParameter("RecoveryWindowInDays value must be between 7 and 30 days.")
        secret = self._own(
            actor, await self._authorised(actor, "secretsmanager:DeleteSecret", secret_id)
        )
        held = await self.replication.statuses(secret) if secret.primary_region else []
        if held:
            regions = ", ".join(r.region for r, _ in held)
            raise InvalidRequest(
                f"You can't delete secret {secret.name} that still has replica regions "
                f"[{regions}]: remove them with RemoveRegionsFromReplication first."
            )
        if force:
            await self._store.delete(secret.arn)
            await self.rotation.store.delete(secret.arn)  # its rotation goes with it (0303)
            return secret, self._clock()
        when = self._clock() + timedelta(days=days)
        secret = await self._change(
            actor,
            secret_id,
            "secretsmanager:DeleteSecret",
            lambda s: replace(s, deleted_date=when),
        )
        return secret, when

    async def restore(self, actor: Actor, secret_id: str) -> Secret:
        return await self._change(
            actor,
            secret_id,
            "secretsmanager:RestoreSecret",
            lambda s: replace(s, deleted_date=None),
            live=False,
        )

    def _check_tags(self, tags: Sequence[tuple[str, str]]) -> None:
        if len({k for k, _ in tags}) > self.limits.max_tags:
            raise LimitExceeded(f"A secret can have at most {self.limits.max_tags} tags.")
        for key, value in tags:
            if not 1 <= len(key) <= 128 or len(value) > 256:
                raise InvalidParameter("A tag key must be 1 to 128 characters, its value 256.")
            if key.lower().startswith("aws:"):
                raise InvalidParameter("Tag keys starting with aws: are reserved.")

    async def tag(self, actor: Actor, secret_id: str, tags: Sequence[tuple[str, str]]) -> Secret:
        def change(secret: Secret) -> Secret:
            merged = dict(secret.tags)
            merged.update(tags)
            self._check_tags(list(merged.items()))
            return replace(secret, tags=tuple(merged.items()))

        return await self._change(
            actor, secret_id, "secretsmanager:TagResource", change, managed=True
        )

    async def untag(self, actor: Actor, secret_id: str, keys: Sequence[str]) -> Secret:
        def change(secret: Secret) -> Secret:
            return replace(secret, tags=tuple((k, v) for k, v in secret.tags if k not in keys))

        return await self._change(
            actor, secret_id, "secretsmanager:UntagResource", change, managed=True
        )

    async def put_policy(self, actor: Actor, secret_id: str, policy: str) -> Secret:
        return await self._change(
            actor,
            secret_id,
            "secretsmanager:PutResourcePolicy",
            lambda s: replace(s, policy=policy),
        )

    async def get_policy(self, actor: Actor, secret_id: str) -> Secret:
        return await self._authorised(actor, "secretsmanager:GetResourcePolicy", secret_id)

    async def delete_policy(self, actor: Actor, secret_id: str) -> Secret:
        return await self._change(
            actor,
            secret_id,
            "secretsmanager:DeleteResourcePolicy",
            lambda s: replace(s, policy=None),
        )

    # --- replication (decision 0207) ------------------------------------------------------

    async def _propagate(self, actor: Actor, secret: Secret) -> None:
        """A primary's change carried to its replicas (in this call for the regions this
        gateway serves)."""
        if secret.primary_region is not None and not secret.is_replica:
            await self.replication.propagate(secret, actor.caller)

    async def replicate(
        self,
        actor: Actor,
        secret_id: str,
        replicas: Sequence[tuple[str, str | None]],
        *,
        overwrite: bool,
    ) -> tuple[Secret, list[tuple[Replica, datetime | None]]]:
        """ReplicateSecretToRegions: the secret replicated to ``replicas`` (region, key)."""
        secret = self._own(
            actor,
            self._live(
                await self._authorised(actor, "secretsmanager:ReplicateSecretToRegions", secret_id)
            ),
        )
        await self.replication.check_regions(actor.account, secret.region, replicas)
        secret = await self.replication.add(
            secret, replicas, overwrite=overwrite, caller=actor.caller
        )
        return secret, await self.replication.statuses(secret)

    async def remove_regions(
        self, actor: Actor, secret_id: str, regions: Sequence[str]
    ) -> tuple[Secret, list[tuple[Replica, datetime | None]]]:
        """RemoveRegionsFromReplication: the replicas in ``regions`` deleted."""
        secret = self._own(
            actor,
            await self._authorised(actor, "secretsmanager:RemoveRegionsFromReplication", secret_id),
        )
        held = {r.region for r, _ in await self.replication.statuses(secret)}
        unknown = [r for r in regions if r not in held]
        if unknown:
            raise InvalidParameter(f"The secret is not replicated to {', '.join(sorted(unknown))}.")
        secret = await self.replication.remove(secret, regions)
        return secret, await self.replication.statuses(secret)

    async def stop_replication(self, actor: Actor, secret_id: str) -> Secret:
        """StopReplicationToReplica, called in the replica's region: it becomes standalone."""
        secret = await self._authorised(actor, "secretsmanager:StopReplicationToReplica", secret_id)
        if not secret.is_replica:
            raise InvalidRequest(
                "StopReplicationToReplica is called on a replica secret, in its Region: this "
                "secret is not a replica."
            )
        return await self.replication.stop(secret)

    async def replication_statuses(self, secret: Secret) -> list[tuple[Replica, datetime | None]]:
        if secret.primary_region is None or secret.is_replica:
            return []
        return await self.replication.statuses(secret)

    # --- upkeep ------------------------------------------------------------------------

    async def prune_versions(self, batch: int = 1000) -> int:
        """Remove the versions without a label beyond ``max_versions`` whose grace is over,
        of secrets a write has not trimmed (AWS removes deprecated versions in the
        background); the number removed. A secret changed meanwhile waits for the next pass."""
        removed = 0
        for secret in await self._store.crowded(self.limits.max_versions, batch):
            versions = await self._store.versions(secret.arn)
            held = {v.version_id: v.stages for v in versions}
            drop = self._overflow(versions, held, adding=0)
            if not drop:
                continue
            try:
                await self._store.write_versions(secret, secret.revision, None, {}, drop)
            except Conflict:
                continue
            removed += len(drop)
        return removed

    async def held(self) -> dict[tuple[str, str], int]:
        """The secrets each (account, region) holds, those marked for deletion not counted
        (AWS bills a secret-month, nothing for a secret marked for deletion)."""
        return await self._store.held()

    async def purge_due(self, batch: int = 100) -> list[str]:
        """Forget the secrets whose recovery window is over (the sweeper's pass)."""
        purged: list[str] = []
        while found := await self._store.purge_due(self._clock(), batch):
            purged += found
            for arn in found:  # their rotations go with them (decision 0303)
                await self.rotation.store.delete(arn)
            if len(found) < batch:
                break
        return purged
