"""Secrets and their versions (decision 0190): pure values and the rules AWS Secrets Manager
keeps — names, ARNs (the name then ``-`` and six random characters), and the staging labels,
``AWSCURRENT`` on exactly one version once a value exists, the version it leaves taking
``AWSPREVIOUS``."""

from __future__ import annotations

import re
import secrets as random
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from andromede.secrets.errors import InvalidParameter

__all__ = [
    "CURRENT",
    "FILTER_KEYS",
    "PENDING",
    "PREVIOUS",
    "REPLICA_FAILED",
    "REPLICA_IN_PROGRESS",
    "REPLICA_IN_SYNC",
    "Replica",
    "Secret",
    "SecretVersion",
    "check_name",
    "matches",
    "move_stage",
    "new_arn",
    "owning_service",
    "parse_arn",
    "replica_arn",
]

CURRENT: Final = "AWSCURRENT"
PREVIOUS: Final = "AWSPREVIOUS"
PENDING: Final = "AWSPENDING"
# A replica's ReplicationStatus (decision 0207).
REPLICA_IN_SYNC: Final = "InSync"
REPLICA_IN_PROGRESS: Final = "InProgress"
REPLICA_FAILED: Final = "Failed"
_NAME: Final = re.compile(r"[A-Za-z0-9/_+=.@-]{1,512}")
_SUFFIX_CHARS: Final = string.ascii_letters + string.digits
_ARN: Final = re.compile(r"arn:aws:secretsmanager:([a-z0-9-]+):(\d{12}|[^:]+):secret:(.+)")


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise InvalidParameter(
            "Invalid name. Must be a valid name containing alphanumeric characters, or any of "
            "the following: -/_+=.@!"
        )
    return name


def owning_service(secret: Secret) -> str | None:
    """The service that manages ``secret`` (AWS's ``OwningService``): the prefix of a name
    ``<service>!…``. A customer's name cannot hold ``!`` (:func:`check_name`), so only a
    service's call through :meth:`SecretService.create`'s ``owner`` makes one."""
    head, bang, _ = secret.name.partition("!")
    return head if bang and head else None


def new_arn(region: str, account: str, name: str) -> str:
    suffix = "".join(random.choice(_SUFFIX_CHARS) for _ in range(6))
    return f"arn:aws:secretsmanager:{region}:{account}:secret:{name}-{suffix}"


def replica_arn(primary_arn: str, region: str) -> str:
    """The ARN of ``primary_arn``'s replica in ``region``: the same name and random suffix,
    as AWS names a replica."""
    head, _, rest = primary_arn.partition(":secretsmanager:")
    return f"{head}:secretsmanager:{region}:{rest.partition(':')[2]}"


def parse_arn(text: str) -> tuple[str, str, str] | None:
    """(region, account, name part) of a secret's ARN, full or partial; None if no ARN."""
    match = _ARN.fullmatch(text)
    return None if match is None else (match[1], match[2], match[3])


@dataclass(frozen=True, slots=True)
class Secret:
    """A secret's metadata; its values are its versions'. ``deleted_date``: when a
    scheduled deletion purges it (None: not marked for deletion). ``revision`` counts its
    writes, so that two concurrent ones cannot both move its labels."""

    arn: str
    tenant_id: str
    region: str
    name: str
    created: datetime
    last_changed: datetime
    description: str | None = None
    kms_key_id: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    policy: str | None = None
    last_accessed: datetime | None = None
    deleted_date: datetime | None = None
    revision: int = 0
    # The region of the primary this secret is a replica of, or its own region for a primary
    # that has replicas (AWS's ``PrimaryRegion``); None for a secret not replicated.
    primary_region: str | None = None

    @property
    def is_replica(self) -> bool:
        return self.primary_region is not None and self.primary_region != self.region


@dataclass(frozen=True, slots=True)
class Replica:
    """A primary secret's replication to one region (decision 0207): the key its replica is
    sealed under there (None: that region's ``aws/secretsmanager``), its status as
    DescribeSecret tells it, and the durable task that brings the replica up to date —
    ``due`` (None: nothing to do) and ``attempts`` (the backoff's count). ``generation`` grows
    at each change to propagate, so a sync that read an older primary settles nothing."""

    primary_arn: str
    tenant_id: str
    region: str
    kms_key_id: str | None
    status: str
    message: str | None = None
    due: datetime | None = None
    attempts: int = 0
    generation: int = 0
    overwrite: bool = False


@dataclass(frozen=True, slots=True)
class SecretVersion:
    """One value of a secret, sealed (``sealed``: the envelope the sealer wrote)."""

    secret_arn: str
    version_id: str
    stages: tuple[str, ...]
    created: datetime
    sealed: bytes
    binary: bool
    last_accessed: datetime | None = None


def move_stage(
    stages: Mapping[str, tuple[str, ...]], stage: str, to_version: str | None
) -> dict[str, tuple[str, ...]]:
    """Each version's labels once ``stage`` is on ``to_version`` alone (None: on none). Moving
    ``AWSCURRENT`` away from a version gives that version ``AWSPREVIOUS``, as AWS does."""
    moved = {version: tuple(s for s in held if s != stage) for version, held in stages.items()}
    holder = next((v for v, held in stages.items() if stage in held), None)
    if to_version is not None:
        moved[to_version] = (*moved.get(to_version, ()), stage)
    if stage == CURRENT and holder is not None and holder != to_version:
        moved = {v: tuple(s for s in held if s != PREVIOUS) for v, held in moved.items()}
        moved[holder] = (*moved[holder], PREVIOUS)
    return moved


FILTER_KEYS: Final = frozenset(
    {"description", "name", "tag-key", "tag-value", "primary-region", "owning-service", "all"}
)


def _prefixed(candidates: list[str], value: str, *, fold: bool) -> bool:
    if fold:
        return any(c.lower().startswith(value.lower()) for c in candidates)
    return any(c.startswith(value) for c in candidates)


def _filter_matches(secret: Secret, key: str, value: str) -> bool:
    if key == "description":
        return _prefixed([secret.description or ""], value, fold=True)
    if key == "name":
        return _prefixed([secret.name], value, fold=False)
    if key == "tag-key":
        return _prefixed([k for k, _ in secret.tags], value, fold=False)
    if key == "tag-value":
        return _prefixed([v for _, v in secret.tags], value, fold=False)
    if key == "primary-region":
        return _prefixed([secret.primary_region or ""], value, fold=False)
    if key == "owning-service":
        return _prefixed([owning_service(secret) or ""], value, fold=False)
    words = [secret.name, secret.description or "", *(t for pair in secret.tags for t in pair)]
    return all(
        _prefixed([w for text in words for w in re.split(r"[\s/_+=.@-]+", text)], word, fold=True)
        for word in value.split()
    )


def matches(secret: Secret, filters: Sequence[tuple[str, Sequence[str]]]) -> bool:
    """Whether ``secret`` passes every filter of ListSecrets: a filter passes when one of its
    values matches (by prefix; ``description`` and ``all`` fold case), a value starting with
    ``!`` matching when its remainder does not."""
    for key, values in filters:
        passed = False
        for value in values:
            if value.startswith("!"):
                passed = passed or not _filter_matches(secret, key, value[1:])
            else:
                passed = passed or _filter_matches(secret, key, value)
        if not passed:
            return False
    return True
