"""The Parameter Store service (decision 0229): the only public entry of the context. It
resolves a parameter from its name, a ``name:version`` / ``name:label`` selector or its ARN,
asks the caller's :class:`Actor` to authorise each action on it, seals each new value through
the injected :class:`ValueSealer` (``wiring.ssm``: a String's and a StringList's under the
account's key ring, a SecureString's in a KMS envelope under its key) and keeps AWS's rules of
versions, tiers and labels.

A write reads the parameter's revision and writes against it; a concurrent writer's
:class:`Conflict` makes it read and try again, a few times.

**Shared parameters (decision 0249).** Another account's parameter is named by its full ARN:
GetParameter, GetParameters and GetParameterHistory read it when the IAM engine allows — its
resource policies (:attr:`ParameterService.resource_policies`) and the caller's own IAM
policies, both — and DescribeParameters ``Shared`` lists those the caller may describe. Every
other call on it is refused (``NotShared``, after the engine's own refusal): writes stay the
owner's.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Final, Protocol

from andromede.errors import AndromedeError
from andromede.ssm.errors import (
    Conflict,
    InvalidAllowedPattern,
    NotShared,
    ParameterAlreadyExists,
    ParameterLimitExceeded,
    ParameterMaxVersionLimitExceeded,
    ParameterNotFound,
    ParameterPatternMismatch,
    ParameterVersionLabelLimitExceeded,
    ParameterVersionNotFound,
    TooManyTags,
    ValidationError,
)
from andromede.ssm.model import (
    MAX_LABELS,
    TEXT,
    Parameter,
    ParameterFilter,
    ParameterType,
    ParameterVersion,
    Tier,
    check_data_type,
    check_name,
    check_path,
    invalid_label,
    matches,
    parameter_arn,
    parse_policies,
    split_selector,
)
from andromede.ssm.policy_actions import PolicyAction, first_action, take_due_actions
from andromede.ssm.public import PublicImages, is_public, public_parameters
from andromede.ssm.resource_policies import ResourcePolicies, parse_parameter_arn
from andromede.ssm.store import ParameterStore

__all__ = ["Actor", "NewValue", "ParameterLimits", "ParameterService", "ValueSealer"]

_TRIES: Final = 5


class ValueSealer(Protocol):
    """Seals a version's value and opens it again, on behalf of ``caller`` (the wire layer's,
    handed untouched): under the account's key ring, or a SecureString's KMS key."""

    async def seal(self, version: ParameterVersion, plaintext: bytes, caller: object) -> bytes: ...

    async def open(self, version: ParameterVersion, caller: object) -> bytes: ...


@dataclass(frozen=True, slots=True)
class ParameterLimits:
    max_standard_parameters: int = 10_000
    max_advanced_parameters: int = 100_000
    max_standard_value_size: int = 4096
    max_advanced_value_size: int = 8192
    max_versions: int = 100
    max_tags: int = 50
    max_resource_policy_size: int = 1024
    max_resource_policies: int = 10


@dataclass(frozen=True, slots=True)
class Actor:
    """Who calls: the account and region the call is in, the user a version records, how to
    authorise an action on a parameter's ARN (None: ``*``), and the caller the sealer is
    handed."""

    account: str
    region: str
    user: str
    authorise: Callable[[str, str | None], Awaitable[None]]
    caller: object = None


@dataclass(frozen=True, slots=True)
class NewValue:
    """What a PutParameter asks for (None: not said)."""

    name: str
    value: str
    type: ParameterType | None = None
    overwrite: bool = False
    description: str | None = None
    allowed_pattern: str | None = None
    tier: Tier | None = None
    data_type: str | None = None
    key_id: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    policies: str | None = None  # the Policies JSON ("[]" removes the previous version's)


def owner_of(actor: Actor, reference: str) -> str:
    """The account a name or an ARN names: an ARN's own (empty for a public parameter), a
    name the caller's."""
    target = parse_parameter_arn(reference) if reference.startswith("arn:") else None
    return actor.account if target is None else target.account


def _now() -> datetime:
    return datetime.now(UTC)


def name_of(reference: str) -> str:
    """A name from a name or an ARN (``…:parameter/a/b`` is ``/a/b``, ``…:parameter/a`` is
    ``a``: AWS's ARN drops the leading slash of a path)."""
    if reference.startswith("arn:") and ":parameter/" in reference:
        rest = reference.split(":parameter/", 1)[1]
        return "/" + rest if "/" in rest.split(":", 1)[0] else rest
    return reference


class ParameterService:
    def __init__(
        self,
        store: ParameterStore,
        sealer: ValueSealer,
        limits: ParameterLimits | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.store = store
        self._sealer = sealer
        self.limits = limits or ParameterLimits()
        self._clock = clock
        self.resource_policies = ResourcePolicies(
            store,
            self.limits.max_resource_policy_size,
            self.limits.max_resource_policies,
            clock,
        )
        # The operator's public images, read through as /aws/service/… (decision 0241); set
        # once the image library is up (None: no public parameter).
        self.public_images: PublicImages | None = None
        # Told of each change (AWS's "Parameter Store Change" operations: Create, Update,
        # Delete, LabelParameterVersion) once it is written (decision 0241).
        self.on_change: Callable[[str, ParameterVersion], Awaitable[None]] | None = None
        # Told of each policy action the upkeep takes (``wiring.ssm``).
        self.on_policy_action: Callable[[PolicyAction], Awaitable[None]] | None = None

    # --- writes ---------------------------------------------------------------------------

    async def _own(self, actor: Actor, action: str, reference: str) -> str:
        """The name of the caller's own parameter ``reference`` names; another account's is
        refused: the IAM engine decides first (a parameter's policy allows reads only), and
        were it to allow, the parameter is still only its owner's to change."""
        owner = owner_of(actor, reference)
        name = name_of(reference)
        if owner != actor.account and owner:
            await actor.authorise(action, parameter_arn(actor.region, owner, name))
            raise NotShared(
                f"{action} on {parameter_arn(actor.region, owner, name)[:2048]} is its "
                "owner's alone: a shared parameter is read-only."
            )
        return name

    async def put(self, actor: Actor, new: NewValue) -> ParameterVersion:
        await self._own(actor, "ssm:PutParameter", new.name)
        check_name(new.name)
        arn = parameter_arn(actor.region, actor.account, new.name)
        await actor.authorise("ssm:PutParameter", arn)
        if new.overwrite and new.tags:
            raise ValidationError(
                "Invalid request: tags and overwrite can't be used together. To create a "
                "parameter with tags, please remove overwrite flag. To update tags for an "
                "existing parameter, please use AddTagsToResource or RemoveTagsFromResource."
            )
        if len(new.tags) > self.limits.max_tags:
            raise TooManyTags("The Tags parameter contains too many tags.")
        if new.allowed_pattern:
            try:
                pattern = re.compile(new.allowed_pattern)
            except re.error:
                raise InvalidAllowedPattern(
                    f"The allowed pattern {new.allowed_pattern[:1024]} is not valid."
                ) from None
            if not pattern.fullmatch(new.value):
                raise ParameterPatternMismatch(
                    "Parameter value, cannot be validated against allowedPattern: "
                    f"{new.allowed_pattern[:1024]}"
                )
        for _ in range(_TRIES):
            held = await self.store.get(actor.account, actor.region, new.name)
            try:
                return await self._put(actor, new, held)
            except Conflict:
                continue
            except ParameterAlreadyExists:
                raise _exists() from None
        raise Conflict(f"{arn} is changed by others at once; try again")

    async def _put(self, actor: Actor, new: NewValue, held: Parameter | None) -> ParameterVersion:
        previous = None if held is None else held.latest
        if previous is not None and not new.overwrite:
            raise _exists()
        kind = new.type or (previous.type if previous is not None else None)
        if kind is None:
            raise ValidationError("A parameter type is required when you create a parameter.")
        if new.key_id is not None and kind is not ParameterType.SECURE_STRING:
            raise ValidationError(
                f"KeyId is not supported for parameter type {kind}. KeyId is supported for "
                "SecureString parameters only."
            )
        data_type = new.data_type or (previous.data_type if previous is not None else TEXT)
        check_data_type(data_type, new.value)
        now = self._clock()
        if new.policies is not None:
            policies, expires = parse_policies(new.policies, now)
        elif previous is not None:
            policies, expires = previous.policies, previous.expires
        else:
            policies, expires = None, None
        tier = await self._tier(actor, new, previous, policies is not None)
        size = len(new.value.encode())
        if tier is Tier.STANDARD and size > self.limits.max_standard_value_size:
            raise ValidationError(
                "Standard tier parameters support a maximum parameter value of "
                f"{self.limits.max_standard_value_size} characters. To create a larger "
                "parameter value, upgrade the parameter to use the advanced-parameter tier."
            )
        if size > self.limits.max_advanced_value_size:
            raise ValidationError(
                "1 validation error detected: Value at 'value' failed to satisfy constraint: "
                f"Member must have length less than or equal to "
                f"{self.limits.max_advanced_value_size}"
            )
        same_kind = previous is not None and previous.type is kind
        version = ParameterVersion(
            tenant_id=actor.account,
            region=actor.region,
            name=new.name,
            version=1 if previous is None else previous.version + 1,
            type=kind,
            sealed=b"",
            modified=now,
            modified_user=actor.user,
            tier=tier,
            data_type=data_type,
            key_id=(new.key_id or (previous.key_id if same_kind and previous else None))
            if kind is ParameterType.SECURE_STRING
            else None,
            description=new.description
            if new.description is not None
            else (previous.description if previous is not None else None),
            allowed_pattern=new.allowed_pattern
            if new.allowed_pattern is not None
            else (previous.allowed_pattern if previous is not None else None),
            policies=policies,
            expires=expires,
        )
        drop = await self._beyond_history(held) if held is not None else []
        version = replace(
            version, sealed=await self._sealer.seal(version, new.value.encode(), actor.caller)
        )
        fresh = new.policies is not None or held is None
        next_action = first_action(version, None if held is None else held.next_action, fresh)
        if held is None:
            await self._within_count(actor, tier)
            written = await self.store.write(
                Parameter(version, new.tags, next_action=next_action), None
            )
        else:
            written = await self.store.write(
                Parameter(version, held.tags, held.revision, next_action), held.revision,
                drop=drop,
            )  # fmt: skip
        await self._changed("Create" if held is None else "Update", written.latest)
        return written.latest

    async def _changed(self, operation: str, version: ParameterVersion) -> None:
        if self.on_change is not None:
            await self.on_change(operation, version)

    async def _tier(
        self, actor: Actor, new: NewValue, previous: ParameterVersion | None, policies: bool
    ) -> Tier:
        was_advanced = previous is not None and previous.tier is Tier.ADVANCED
        asked = new.tier
        if asked is Tier.STANDARD and was_advanced:
            raise ValidationError(
                "This parameter uses the advanced-parameter tier. You can't downgrade a "
                "parameter from the advanced-parameter tier to the standard-parameter tier. If "
                "necessary, you can delete the advanced parameter and recreate it as a "
                "standard parameter."
            )
        if asked is Tier.ADVANCED or was_advanced:
            return Tier.ADVANCED
        if policies and asked is not Tier.INTELLIGENT:
            raise ValidationError(
                "Parameter policies are supported for parameters of the advanced-parameter tier "
                "only: set Tier to Advanced or Intelligent-Tiering."
            )
        if asked is Tier.INTELLIGENT:
            # AWS: Advanced only when the value or the account's standard quota needs it.
            big = len(new.value.encode()) > self.limits.max_standard_value_size
            full = previous is None and (
                await self.store.count(actor.account, actor.region, Tier.STANDARD)
                >= self.limits.max_standard_parameters
            )
            return Tier.ADVANCED if big or full or policies else Tier.STANDARD
        return Tier.STANDARD

    async def _within_count(self, actor: Actor, tier: Tier) -> None:
        limit = (
            self.limits.max_advanced_parameters
            if tier is Tier.ADVANCED
            else self.limits.max_standard_parameters
        )
        if await self.store.count(actor.account, actor.region, tier) >= limit:
            raise ParameterLimitExceeded(
                f"You have exceeded the number of {tier.lower()} parameters ({limit}) this "
                "account can hold in this Region."
            )

    async def _beyond_history(self, held: Parameter) -> list[int]:
        """The versions a new one pushes out: the oldest, once ``max_versions`` are held,
        unless it carries a label (AWS's ParameterMaxVersionLimitExceeded)."""
        versions = await self.store.versions(held.tenant_id, held.region, held.name)
        excess = len(versions) + 1 - self.limits.max_versions
        if excess <= 0:
            return []
        oldest = versions[:excess]
        for version in oldest:
            if version.labels:
                raise ParameterMaxVersionLimitExceeded(
                    f"You attempted to create a new version of {held.name} by calling the "
                    "PutParameter API with the overwrite flag. Version "
                    f"{version.version}, the oldest version, can't be deleted because it has a "
                    "label associated with it. Move the label to another version of the "
                    "parameter, and try again."
                )
        return [v.version for v in oldest]

    async def delete(self, actor: Actor, reference: str) -> str:
        name = await self._own(actor, "ssm:DeleteParameter", reference)
        arn = parameter_arn(actor.region, actor.account, name)
        await actor.authorise("ssm:DeleteParameter", arn)
        if not await self._delete(actor, name):
            raise ParameterNotFound(f"Parameter {name[:2048]} not found.")
        return arn

    async def _delete(self, actor: Actor, name: str) -> bool:
        held = await self.store.get(actor.account, actor.region, name)
        if held is None or not await self.store.delete(actor.account, actor.region, name):
            return False
        await self._changed("Delete", held.latest)
        return True

    async def delete_many(
        self, actor: Actor, references: Sequence[str]
    ) -> tuple[list[str], list[str]]:
        deleted, invalid = [], []
        for reference in dict.fromkeys(references):
            name = await self._own(actor, "ssm:DeleteParameters", reference)
            await actor.authorise(
                "ssm:DeleteParameters", parameter_arn(actor.region, actor.account, name)
            )
            if await self._delete(actor, name):
                deleted.append(reference)
            else:
                invalid.append(reference)
        return deleted, invalid

    async def policies_due(self, limit: int = 100) -> list[PolicyAction]:
        """Take the parameter policies' actions now due (decision 0241): delete the
        parameters whose Expiration has come (every version, as AWS), and note the
        notifications due, each once; the actions taken, for the upkeep to tell."""
        return await take_due_actions(self.store, self._clock(), limit)

    async def advanced_held(self) -> dict[tuple[str, str], int]:
        """The advanced parameters each (account, region) holds, for the billing sampler
        (decision 0241)."""
        return await self.store.held(Tier.ADVANCED)

    async def expire_due(self, limit: int = 100) -> list[str]:
        """The ARNs of the parameters :meth:`policies_due` deleted."""
        return [a.version.arn for a in await self.policies_due(limit) if a.kind == "Expiration"]

    # --- reads ----------------------------------------------------------------------------

    async def get(self, actor: Actor, reference: str, action: str) -> ParameterVersion:
        """The version a name, ``name:version``, ``name:label`` or ARN selects."""
        name, number, label = split_selector(name_of(reference))
        if is_public(name):
            return await self._public(actor, action, name, number, label)
        account = owner_of(actor, reference)  # another's: shared with the caller, or refused
        await actor.authorise(action, parameter_arn(actor.region, account, name))
        held = await self.store.get(account, actor.region, name)
        if held is None:
            raise ParameterNotFound(f"Parameter {name[:2048]} not found.")
        if number is None and label is None:
            return held.latest
        for version in await self.store.versions(account, actor.region, name):
            if version.version == number or (label is not None and label in version.labels):
                return version
        if number is not None:
            raise ParameterVersionNotFound(
                f"Systems Manager could not find version {number} of {name[:2048]}. Verify the "
                "version and try again."
            )
        raise ParameterNotFound(f"Parameter {reference[:2048]} not found.")

    async def _published(self, region: str) -> dict[str, ParameterVersion]:
        images = [] if self.public_images is None else await self.public_images()
        return public_parameters(region, images)

    async def _public(
        self, actor: Actor, action: str, name: str, number: int | None, label: str | None
    ) -> ParameterVersion:
        """A public parameter, readable by every account its IAM policies let (AWS's ARN,
        with an empty account); it has one version and no label."""
        await actor.authorise(action, parameter_arn(actor.region, "", name))
        found = (await self._published(actor.region)).get(name)
        if found is None or label is not None:
            raise ParameterNotFound(f"Parameter {name[:2048]} not found.")
        if number is not None and number != found.version:
            raise ParameterVersionNotFound(
                f"Systems Manager could not find version {number} of {name[:2048]}. Verify the "
                "version and try again."
            )
        return found

    async def value(self, actor: Actor, version: ParameterVersion) -> str:
        """The version's value in clear (a SecureString's through its KMS key, as the
        caller; a public parameter's, an image id, is held in clear)."""
        if not version.tenant_id and is_public(version.name):
            return version.sealed.decode()
        return (await self._sealer.open(version, actor.caller)).decode()

    async def by_path(
        self, actor: Actor, path: str, recursive: bool, filters: Sequence[ParameterFilter]
    ) -> list[ParameterVersion]:
        """The parameters under ``path`` passing ``filters``: each one's newest version, or
        with a Label filter its newest version carrying one of the labels (AWS's)."""
        if is_public(path.rstrip("/") + "/"):
            return await self._public_by_path(actor, path, recursive, filters)
        prefix = check_path(path)
        await actor.authorise(
            "ssm:GetParametersByPath",
            parameter_arn(actor.region, actor.account, prefix.rstrip("/") or "/"),
        )
        labels = {v for f in filters if f.key == "Label" for v in f.values}
        found = []
        for held in await self.store.list_all(
            actor.account, actor.region, "" if prefix == "/" else prefix
        ):
            full = "/" + held.name.removeprefix("/")
            rest = full[len(prefix) :]
            if not full.startswith(prefix) or (not recursive and "/" in rest):
                continue
            if not matches(held, filters):
                continue
            if not labels:
                found.append(held.latest)
                continue
            versions = await self.store.versions(actor.account, actor.region, held.name)
            labelled = [v for v in versions if labels & set(v.labels)]
            if labelled:
                found.append(labelled[-1])
        return found

    async def _public_by_path(
        self, actor: Actor, path: str, recursive: bool, filters: Sequence[ParameterFilter]
    ) -> list[ParameterVersion]:
        check_path("/p" + path.removeprefix("/aws"))  # AWS's path rules past the reserved root
        prefix = path.rstrip("/") + "/"
        await actor.authorise(
            "ssm:GetParametersByPath", parameter_arn(actor.region, "", prefix.rstrip("/"))
        )
        if any(f.key == "Label" for f in filters):
            return []  # public parameters carry no label
        found = []
        for name, version in (await self._published(actor.region)).items():
            rest = name[len(prefix) :]
            if name.startswith(prefix) and (recursive or "/" not in rest):
                if matches(Parameter(version), filters):
                    found.append(version)
        return found

    async def describe(self, actor: Actor, filters: Sequence[ParameterFilter]) -> list[Parameter]:
        await actor.authorise("ssm:DescribeParameters", None)
        prefix = ""
        for f in filters:  # the store narrows a single Path filter's search
            if f.key == "Path" and len(f.values) == 1 and f.values[0].strip("/"):
                prefix = check_path(f.values[0])
        held = await self.store.list_all(actor.account, actor.region, prefix)
        return [p for p in held if matches(p, filters)]

    async def describe_shared(
        self, actor: Actor, filters: Sequence[ParameterFilter]
    ) -> list[Parameter]:
        """DescribeParameters ``Shared``: the other accounts' parameters shared with the
        caller that the IAM engine lets it describe (their policies and its own IAM)."""
        await actor.authorise("ssm:DescribeParameters", None)
        found = []
        for held in await self.store.shared_with(actor.account, actor.region):
            try:
                await actor.authorise("ssm:DescribeParameters", held.arn)
            except AndromedeError:  # a refusal: a parameter it may not describe is not listed
                continue
            if matches(held, filters):
                found.append(held)
        return found

    async def history(self, actor: Actor, reference: str) -> list[ParameterVersion]:
        name = name_of(reference)
        if is_public(name):
            return [await self._public(actor, "ssm:GetParameterHistory", name, None, None)]
        account = owner_of(actor, reference)  # another's: shared with the caller, or refused
        await actor.authorise("ssm:GetParameterHistory", parameter_arn(actor.region, account, name))
        versions = await self.store.versions(account, actor.region, name)
        if not versions:
            raise ParameterNotFound(f"Parameter {name[:2048]} not found.")
        return versions

    # --- labels ---------------------------------------------------------------------------

    async def label(
        self, actor: Actor, reference: str, number: int | None, labels: Sequence[str]
    ) -> tuple[list[str], int]:
        """(the labels refused, the version labelled)."""
        name = await self._own(actor, "ssm:LabelParameterVersion", reference)
        await actor.authorise(
            "ssm:LabelParameterVersion", parameter_arn(actor.region, actor.account, name)
        )
        invalid = [label for label in labels if invalid_label(label)]
        wanted = [label for label in dict.fromkeys(labels) if label not in invalid]
        for _ in range(_TRIES):
            held, versions = await self._versions(actor, name)
            number = held.latest.version if number is None else number
            target = next((v for v in versions if v.version == number), None)
            if target is None:
                raise ParameterVersionNotFound(
                    f"Systems Manager could not find version {number} of {name[:2048]}. Verify "
                    "the version and try again."
                )
            added = tuple(dict.fromkeys((*target.labels, *wanted)))
            if len(added) > MAX_LABELS:
                raise ParameterVersionLabelLimitExceeded(
                    f"A parameter version can have maximum {MAX_LABELS} labels. Move one or "
                    "more labels to another version and try again."
                )
            changes = {number: added}
            for other in versions:
                if other.version != number and set(other.labels) & set(wanted):
                    changes[other.version] = tuple(x for x in other.labels if x not in wanted)
            try:
                await self.store.write(held, held.revision, add_latest=False, labels=changes)
            except Conflict:
                continue
            if wanted:
                await self._changed("LabelParameterVersion", replace(target, labels=added))
            return invalid, number
        raise Conflict(f"{name} is changed by others at once; try again")

    async def unlabel(
        self, actor: Actor, reference: str, number: int, labels: Sequence[str]
    ) -> tuple[list[str], list[str]]:
        """(the labels removed, those the version did not carry)."""
        name = await self._own(actor, "ssm:UnlabelParameterVersion", reference)
        await actor.authorise(
            "ssm:UnlabelParameterVersion", parameter_arn(actor.region, actor.account, name)
        )
        for _ in range(_TRIES):
            held, versions = await self._versions(actor, name)
            target = next((v for v in versions if v.version == number), None)
            if target is None:
                raise ParameterVersionNotFound(
                    f"Systems Manager could not find version {number} of {name[:2048]}. Verify "
                    "the version and try again."
                )
            asked = list(dict.fromkeys(labels))
            removed = [label for label in asked if label in target.labels]
            invalid = [label for label in asked if label not in target.labels]
            kept = tuple(x for x in target.labels if x not in removed)
            try:
                if removed:
                    await self.store.write(
                        held, held.revision, add_latest=False, labels={number: kept}
                    )
            except Conflict:
                continue
            return removed, invalid
        raise Conflict(f"{name} is changed by others at once; try again")

    async def _versions(self, actor: Actor, name: str) -> tuple[Parameter, list[ParameterVersion]]:
        held = await self.store.get(actor.account, actor.region, name)
        if held is None:
            raise ParameterNotFound(f"Parameter {name[:2048]} not found.")
        return held, await self.store.versions(actor.account, actor.region, name)

    # --- tags -----------------------------------------------------------------------------

    async def tags(self, actor: Actor, reference: str) -> tuple[tuple[str, str], ...]:
        held = await self._tagged(actor, "ssm:ListTagsForResource", reference)
        return held.tags

    async def tag(self, actor: Actor, reference: str, tags: Sequence[tuple[str, str]]) -> None:
        await self._retag(actor, "ssm:AddTagsToResource", reference, dict(tags), ())

    async def untag(self, actor: Actor, reference: str, keys: Sequence[str]) -> None:
        await self._retag(actor, "ssm:RemoveTagsFromResource", reference, {}, keys)

    async def _retag(
        self,
        actor: Actor,
        action: str,
        reference: str,
        added: dict[str, str],
        removed: Sequence[str],
    ) -> None:
        for _ in range(_TRIES):
            held = await self._tagged(actor, action, reference)
            tags = {k: v for k, v in held.tags if k not in removed}
            tags.update(added)
            if len(tags) > self.limits.max_tags:
                raise TooManyTags("The Tags parameter contains too many tags.")
            try:
                await self.store.write(
                    replace(held, tags=tuple(sorted(tags.items()))), held.revision,
                    add_latest=False,
                )  # fmt: skip
            except Conflict:
                continue
            return
        raise Conflict(f"{reference} is changed by others at once; try again")

    async def _tagged(self, actor: Actor, action: str, reference: str) -> Parameter:
        name = await self._own(actor, action, reference)
        await actor.authorise(action, parameter_arn(actor.region, actor.account, name))
        held = await self.store.get(actor.account, actor.region, name)
        if held is None:
            raise ParameterNotFound(f"Parameter {name[:2048]} not found.")
        return held


def _exists() -> ParameterAlreadyExists:
    return ParameterAlreadyExists(
        "The parameter already exists. To overwrite this value, set the overwrite option in "
        "the request to true."
    )
