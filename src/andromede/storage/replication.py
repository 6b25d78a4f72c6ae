"""A bucket's replication configuration: its rules, and which rule (if any) a new version of a
key falls under (decision 0112). The S3 wire form is ``s3/handlers/replication.py``'s.

S3's rules, as the configuration's two schemas have them:
- **V1** (a rule with the top-level ``<Prefix>``, or with no filter at all): the rule selects
  keys by prefix; delete markers are replicated; there is no priority;
- **V2** (a rule with ``<Filter>``): a prefix, tags (all of them) or an ``<And>`` of both;
  a ``Priority`` (0 when absent) breaks ties between rules whose filters overlap, the highest
  winning; ``DeleteMarkerReplication`` says whether delete markers go too (it must be
  ``Disabled`` beside a tag filter: a marker has no tags).
- A disabled rule is kept and shown, and selects nothing.

A destination is a bucket of this deployment named by ARN (``arn:aws:s3:::name``): the
source's owner's, or another tenant's that consents (``ReplicationGrants``, decision 0112
increment 4).

Versions under a KMS key (SSE-KMS, DSSE-KMS) are selected only by a rule whose
``SourceSelectionCriteria`` enables ``SseKmsEncryptedObjects``, and their replicas are sealed
under the rule's ``ReplicaKmsKeyID`` (decision 0112, increment 3): as on S3, a version the
customer put under a key of theirs is never copied under the platform's keys instead.

A replica's own metadata changes (tags, ACL, retention, legal hold) go back to the version it
came from when the replica's bucket has a rule with ``ReplicaModifications`` Enabled that
selects it (decision 0127, S3's "replica modification sync"): the rule's destination, which in
a two-way setup is the bucket the replica came from, holds that version under the same id.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol

if TYPE_CHECKING:  # storage.encryption and storage.model import this module's importer
    from andromede.storage.encryption import ObjectEncryption
    from andromede.storage.model import Bucket

__all__ = [
    "BACKFILL_DOCUMENT",
    "REPLICATION_DOCUMENT",
    "Backfill",
    "ReplicaKeys",
    "ReplicationConfiguration",
    "ReplicationGrants",
    "ReplicationRule",
    "ReplicationStatus",
    "ReplicationTarget",
    "bucket_from_arn",
]

# The kind under which the configuration is stored among the bucket's documents.
REPLICATION_DOCUMENT: Final = "replication"
# Where a bucket's pass over the versions it held before an ``ExistingObjectReplication`` rule
# stands (increment 7): present while the pass has versions left to look at.
BACKFILL_DOCUMENT: Final = "replication-backfill"
_BUCKET_ARN_PREFIX: Final = "arn:aws:s3:::"


class ReplicationStatus:
    """The values of ``x-amz-replication-status`` (S3's words), and the two a replica holds
    while a change made on it is brought back to its source (decision 0127): stored apart
    from a source's PENDING and FAILED, so that the version stays known as a replica (never
    copied again, its changes going back only under ``ReplicaModifications``), and shown as
    S3 shows them: PENDING while the change travels, FAILED if it could not be made, REPLICA
    again once made."""

    PENDING: Final = "PENDING"
    COMPLETED: Final = "COMPLETED"
    FAILED: Final = "FAILED"
    REPLICA: Final = "REPLICA"
    REPLICA_SYNC_PENDING: Final = "REPLICA-PENDING"
    REPLICA_SYNC_FAILED: Final = "REPLICA-FAILED"

    @staticmethod
    def is_replica(stored: str | None) -> bool:
        """Whether a version whose stored status is ``stored`` is a replica."""
        return stored in _REPLICA_STATUSES

    @staticmethod
    def shown(stored: str) -> str:
        """The ``x-amz-replication-status`` a stored status is answered as."""
        return _SHOWN.get(stored, stored)


_REPLICA_STATUSES: Final = frozenset(
    {
        ReplicationStatus.REPLICA,
        ReplicationStatus.REPLICA_SYNC_PENDING,
        ReplicationStatus.REPLICA_SYNC_FAILED,
    }
)
_SHOWN: Final = {
    ReplicationStatus.REPLICA_SYNC_PENDING: ReplicationStatus.PENDING,
    ReplicationStatus.REPLICA_SYNC_FAILED: ReplicationStatus.FAILED,
}


def bucket_from_arn(arn: str) -> str | None:
    """The bucket an S3 bucket ARN names (``arn:aws:s3:::name``); None when it is not one."""
    if not arn.startswith(_BUCKET_ARN_PREFIX):
        return None
    name = arn[len(_BUCKET_ARN_PREFIX) :]
    if not name or "/" in name or ":" in name:
        return None
    return name


@dataclass(frozen=True, slots=True)
class ReplicationRule:
    rule_id: str
    enabled: bool
    destination_bucket: str
    prefix: str = ""
    tags: tuple[tuple[str, str], ...] = ()
    # How the filter was written, to be shown back as it was put: the V1 top-level
    # ``<Prefix>`` (``legacy_prefix``), no filter at all (neither), or ``<Filter>`` (V2), with
    # ``<And>`` when it combined several conditions.
    legacy_prefix: bool = False
    filtered: bool = False
    filter_and: bool = False
    priority: int | None = None
    # None: not given (V1, where markers are replicated).
    delete_marker_replication: bool | None = None
    storage_class: str | None = None
    # ``SourceSelectionCriteria``: whether versions under a KMS key are selected
    # (``SseKmsEncryptedObjects``; None: not given, and they are not) and whether changes
    # made on the bucket's replicas go back to their source (``ReplicaModifications``,
    # decision 0127; None: not given, and they do not).
    sse_kms_objects: bool | None = None
    replica_modifications: bool | None = None
    # ``Destination/EncryptionConfiguration/ReplicaKmsKeyID``: the key ARN or alias ARN the
    # replicas of versions under a KMS key are sealed under, as given.
    replica_kms_key_id: str | None = None
    # ``ExistingObjectReplication``: whether versions written before the rule are copied too
    # (increment 7; None: not given, and they are not).
    existing_objects: bool | None = None

    @property
    def is_v2(self) -> bool:
        return self.filtered

    @property
    def replicates_delete_markers(self) -> bool:
        if self.delete_marker_replication is None:
            return not self.is_v2
        return self.delete_marker_replication

    def selects(
        self, key: str, tags: Iterable[tuple[str, str]], *, kms_encrypted: bool = False
    ) -> bool:
        """Whether an enabled rule takes a new version of ``key`` carrying ``tags``;
        ``kms_encrypted``: the version is under a KMS key (SSE-KMS or DSSE-KMS)."""
        if not self.enabled or not key.startswith(self.prefix):
            return False
        if kms_encrypted and not self.sse_kms_objects:
            return False
        held = set(tags)
        return all(tag in held for tag in self.tags)

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.rule_id,
            "enabled": self.enabled,
            "bucket": self.destination_bucket,
            "prefix": self.prefix,
            "tags": [list(tag) for tag in self.tags],
            "legacy": self.legacy_prefix,
            "filtered": self.filtered,
            "and": self.filter_and,
            "priority": self.priority,
            "markers": self.delete_marker_replication,
            "class": self.storage_class,
            "sse_kms": self.sse_kms_objects,
            "replica_modifications": self.replica_modifications,
            "replica_kms_key": self.replica_kms_key_id,
            "existing": self.existing_objects,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> ReplicationRule:
        raw_tags = data.get("tags")
        tags = tuple(
            (str(pair[0]), str(pair[1]))
            for pair in (raw_tags if isinstance(raw_tags, list) else [])
            if isinstance(pair, list) and len(pair) == 2
        )
        priority = data.get("priority")
        markers = data.get("markers")
        storage_class = data.get("class")
        sse_kms = data.get("sse_kms")
        modifications = data.get("replica_modifications")
        replica_key = data.get("replica_kms_key")
        return cls(
            rule_id=str(data["id"]),
            enabled=bool(data["enabled"]),
            destination_bucket=str(data["bucket"]),
            prefix=str(data.get("prefix") or ""),
            tags=tags,
            legacy_prefix=bool(data.get("legacy")),
            filtered=bool(data.get("filtered")),
            filter_and=bool(data.get("and")),
            priority=priority if isinstance(priority, int) else None,
            delete_marker_replication=markers if isinstance(markers, bool) else None,
            storage_class=storage_class if isinstance(storage_class, str) else None,
            sse_kms_objects=sse_kms if isinstance(sse_kms, bool) else None,
            replica_modifications=modifications if isinstance(modifications, bool) else None,
            replica_kms_key_id=replica_key if isinstance(replica_key, str) else None,
            existing_objects=existing
            if isinstance(existing := data.get("existing"), bool)
            else None,
        )


@dataclass(frozen=True, slots=True)
class ReplicationTarget:
    """Where a version about to be committed is to be copied: what the metadata store writes
    as the version's task (and PENDING status) in the transaction that commits the version
    (decision 0112, increment 2), once it knows the version's id."""

    destination_bucket: str
    rule_id: str
    source_region: str
    delete_marker: bool = False
    # A change made on a replica, going back to the version it came from (decision 0127):
    # the replica is REPLICA-PENDING meanwhile, not PENDING (it stays a replica).
    replica_modification: bool = False

    @property
    def queued_status(self) -> str:
        """The status the version takes when its task is queued."""
        if self.replica_modification:
            return ReplicationStatus.REPLICA_SYNC_PENDING
        return ReplicationStatus.PENDING


class ReplicaKeys(Protocol):
    """The KMS keys replicas are sealed under (implemented at the composition root over the
    customer-managed keys). The copy is a use the platform makes for the bucket owner, under
    the authorisation checked when the configuration naming the key was put, as EBS uses a
    volume's key at each attach: no caller, so no policy; the key must be the owner's and
    usable, which the customer controls by disabling or deleting it. Each use is audited."""

    async def replica_encryption(
        self,
        tenant_id: str,
        key_ref: str,
        *,
        bucket: str,
        key: str,
        dual_layer: bool,
        region: str,
        payer: str | None = None,
    ) -> ObjectEncryption:
        """How the replica of ``bucket``/``key`` is sealed under ``key_ref`` (a key ARN or an
        alias ARN of ``tenant_id``'s in ``region``, the destination bucket's), bound to S3's
        encryption context for that object. ``payer``: the source bucket's owner, whose
        account the key use is metered to as a KMS request (decision 0150). Raises
        ``KmsKeyUnusable`` (missing, another account's, another region's, disabled, pending
        deletion)."""
        ...

    async def source_decryption(
        self,
        payer: str | None,
        key_arn: str,
        *,
        bucket: str,
        key: str,
    ) -> None:
        """The replicator's read of ``bucket``/``key``, a version under the KMS key
        ``key_arn``: a use of that key (``kms:Decrypt``), audited, and metered as a KMS
        request of ``payer`` — the source bucket's owner, as AWS bills the replication role's
        account; None: the key's owner — in the key's region (decision 0150's addendum).
        Raises ``KmsKeyDisabled``, ``KmsKeyUnusable`` (missing, pending deletion)."""
        ...


class ReplicationGrants(Protocol):
    """Whether a configuration's ``Role`` may copy into a bucket of another tenant
    (implemented at the composition root over the identity and policy engine, decision 0112
    increment 4): the role is the source tenant's and trusts S3, its policies allow the
    action, and so does the destination's bucket policy."""

    async def allows(
        self,
        role_arn: str | None,
        source_tenant: str,
        destination: Bucket,
        action: str,
        key: str,
        *,
        audited: bool = False,
        source_bucket: str | None = None,
    ) -> bool:
        """``action``: ``s3:ReplicateObject`` or ``s3:ReplicateDelete`` on
        ``destination``/``key``. ``audited``: the decision is recorded in the destination
        tenant's trail (each copy's; the configuration's own check is its request's).
        ``source_bucket``: the bucket replicated from, the role's trust policy's
        ``aws:SourceArn`` (decision 0321; None: the account alone is given)."""
        ...


@dataclass(frozen=True, slots=True)
class ReplicationConfiguration:
    rules: tuple[ReplicationRule, ...]
    # The IAM role S3 would assume to replicate: recorded and shown back; the gateway copies
    # under the source owner's authority (decision 0112), so no role is assumed.
    role: str | None = None
    # The format of the stored document, for the readers of a later release.
    version: int = 1

    def rule_for(
        self, key: str, tags: Iterable[tuple[str, str]], *, kms_encrypted: bool = False
    ) -> ReplicationRule | None:
        """The rule a new object version of ``key`` with ``tags`` is replicated under: among
        the enabled rules that select it, the one of highest priority (the first written
        when priorities tie, as V1 rules, which have none, never overlap on S3). A version
        under a KMS key (``kms_encrypted``) is selected only by rules that select those."""
        held = tuple(tags)
        chosen: ReplicationRule | None = None
        for rule in self.rules:
            if not rule.selects(key, held, kms_encrypted=kms_encrypted):
                continue
            if chosen is None or (rule.priority or 0) > (chosen.priority or 0):
                chosen = rule
        return chosen

    def rule_for_marker(self, key: str) -> ReplicationRule | None:
        """The rule a new delete marker of ``key`` is replicated under, if its rule replicates
        markers. A marker has no tags: a rule with a tag filter never selects it."""
        rule = self.rule_for(key, ())
        if rule is None or rule.tags or not rule.replicates_delete_markers:
            return None
        return rule

    def rule(self, rule_id: str) -> ReplicationRule | None:
        """The rule whose ID is ``rule_id``, if the configuration still has it."""
        return next((rule for rule in self.rules if rule.rule_id == rule_id), None)

    def target_for(
        self,
        key: str,
        tags: Iterable[tuple[str, str]],
        source_region: str,
        *,
        kms_encrypted: bool = False,
    ) -> ReplicationTarget | None:
        """The task a new version of ``key`` with ``tags`` gets, if a rule selects it."""
        rule = self.rule_for(key, tags, kms_encrypted=kms_encrypted)
        if rule is None:
            return None
        return ReplicationTarget(rule.destination_bucket, rule.rule_id, source_region)

    def target_for_marker(self, key: str, source_region: str) -> ReplicationTarget | None:
        """The task a new delete marker of ``key`` gets, if its rule replicates markers."""
        rule = self.rule_for_marker(key)
        if rule is None:
            return None
        return ReplicationTarget(
            rule.destination_bucket, rule.rule_id, source_region, delete_marker=True
        )

    def existing_target_for(
        self,
        key: str,
        tags: Iterable[tuple[str, str]],
        source_region: str,
        *,
        kms_encrypted: bool = False,
    ) -> ReplicationTarget | None:
        """The task a version written before the configuration gets: the rule that would
        take it if it were new, when that rule has ``ExistingObjectReplication`` Enabled."""
        rule = self.rule_for(key, tags, kms_encrypted=kms_encrypted)
        if rule is None or not rule.existing_objects:
            return None
        return ReplicationTarget(rule.destination_bucket, rule.rule_id, source_region)

    def modification_target_for(
        self, key: str, tags: Iterable[tuple[str, str]], source_region: str
    ) -> ReplicationTarget | None:
        """Where a change made on a replica of ``key`` carrying ``tags`` (after the change)
        goes (decision 0127): the destination of the rule that would take such a version if
        it were written here, when that rule has ``ReplicaModifications`` Enabled. Only the
        rule's filter counts, not ``SseKmsEncryptedObjects``: no byte is read or sealed."""
        rule = self.rule_for(key, tags)
        if rule is None or not rule.replica_modifications:
            return None
        return ReplicationTarget(
            rule.destination_bucket, rule.rule_id, source_region, replica_modification=True
        )

    @property
    def replicates_existing_objects(self) -> bool:
        return any(rule.enabled and rule.existing_objects for rule in self.rules)

    @property
    def destinations(self) -> frozenset[str]:
        return frozenset(rule.destination_bucket for rule in self.rules)

    def to_text(self) -> str:
        return json.dumps(
            {
                "version": self.version,
                "role": self.role,
                "rules": [rule.to_json() for rule in self.rules],
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_text(cls, text: str) -> ReplicationConfiguration:
        data = json.loads(text)
        role = data.get("role")
        return cls(
            rules=tuple(ReplicationRule.from_json(rule) for rule in data.get("rules") or ()),
            role=role if isinstance(role, str) else None,
            version=int(data.get("version") or 1),
        )


@dataclass(frozen=True, slots=True)
class Backfill:
    """Where a bucket's pass over its existing versions stands (increment 7): the last
    (key, version sort id) looked at, none before the first step; how many versions it
    queued so far."""

    after_key: str | None = None
    after_version: str | None = None
    queued: int = 0

    def to_text(self) -> str:
        return json.dumps(
            {"key": self.after_key, "version": self.after_version, "queued": self.queued},
            separators=(",", ":"),
        )

    @classmethod
    def from_text(cls, text: str) -> Backfill:
        data = json.loads(text)
        key, version, queued = data.get("key"), data.get("version"), data.get("queued")
        return cls(
            key if isinstance(key, str) else None,
            version if isinstance(version, str) else None,
            queued if isinstance(queued, int) else 0,
        )
