"""Audit tables: ``audit_events`` (the events from before the transparency log), the
transparency log's logs, leaves and nodes, its signing keys and their rotations, and witnesses'
cosignatures.

Part of the one ``MetaData`` (``andromede.db.metadata``); ``andromede.db.tables`` re-exports
every table, which the stores and the migrations import from there.
"""

from __future__ import annotations

import sqlalchemy as sa

from andromede.db.metadata import metadata
from andromede.db.types import UtcDateTime, big_id

__all__ = [
    "audit_events",
    "audit_key_transition_checkpoints",
    "audit_key_transitions",
    "audit_log_entries",
    "audit_log_nodes",
    "audit_logs",
    "audit_signing_keys",
    "audit_witness_cosignatures",
]

audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("id", big_id(), primary_key=True, autoincrement=True),
    sa.Column("occurred_at", UtcDateTime, nullable=False),
    sa.Column("request_id", sa.Text, nullable=False),
    sa.Column("tenant_id", sa.Text, nullable=True),
    sa.Column("principal", sa.Text, nullable=True),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("resource", sa.Text, nullable=False),
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("details", sa.Text, nullable=False),
    sa.Index(None, "tenant_id", "id"),
    # Append-only log: ids are never reused, even after retention drops the oldest rows.
    sqlite_autoincrement=True,
)

# The transparency log (migration 0040, decision 0105): one Merkle tree per tenant plus the
# platform's. ``audit_events`` above holds the events written before it, unsigned, untouched.

# One row per log: its tree head, and the row every append locks (FOR UPDATE) so that
# gateways appending at once extend the tree one after the other instead of forking it.
audit_logs = sa.Table(
    "audit_logs",
    metadata,
    sa.Column("log_id", sa.Text, primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("root_hash", sa.LargeBinary, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    # How many of the first entries retention pruned (migration 0041, decision 0107): their
    # text is NULL, their leaf hashes and the nodes stay, so every proof still verifies.
    sa.Column("pruned_size", sa.BigInteger, nullable=False, server_default="0"),
)

# The leaves: each event's canonical entry (audit.model.entry_text) at its index in its log,
# with its leaf hash (the level-0 node: a row of its own per leaf cost a third of a flush).
# ``id`` orders every log's entries together, as they were appended (the platform's listing).
audit_log_entries = sa.Table(
    "audit_log_entries",
    metadata,
    sa.Column("id", big_id(), primary_key=True, autoincrement=True),
    sa.Column("log_id", sa.Text, nullable=False),
    sa.Column("leaf_index", sa.BigInteger, nullable=False),
    sa.Column("entry", sa.Text, nullable=True),  # NULL: pruned by retention (0041)
    sa.Column("leaf_hash", sa.LargeBinary, nullable=False),
    sa.UniqueConstraint("log_id", "leaf_index"),
    sa.Index(None, "log_id", "id"),
    sqlite_autoincrement=True,
)

# The head of every perfect subtree of two leaves or more (level >= 1) of every log, written
# once when it completes and never changed: any tree head or proof is a fold of O(log n) of
# them and of leaf hashes.
audit_log_nodes = sa.Table(
    "audit_log_nodes",
    metadata,
    sa.Column("log_id", sa.Text, primary_key=True),
    sa.Column("level", sa.SmallInteger, primary_key=True),
    sa.Column("node_index", sa.BigInteger, primary_key=True),
    sa.Column("hash", sa.LargeBinary, nullable=False),
)

# The public half of each region's log signing key, registered by the first gateway that
# signs: a gateway holding another private key refuses to start rather than sign checkpoints
# no verifier would accept. The private key is never in the database.
audit_signing_keys = sa.Table(
    "audit_signing_keys",
    metadata,
    sa.Column("key_name", sa.Text, primary_key=True),
    sa.Column("public_key", sa.LargeBinary, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    # Migration 0061 (decision 0140's addendum): a due rotation claimed by one gateway until
    # then, and the current key's seed sealed under secrets.key when it is a key file.
    sa.Column("rotation_claimed_until", UtcDateTime, nullable=True),
    sa.Column("sealed_key", sa.Text, nullable=True),
)

# Each rotation of a region's log signing key (migration 0059, decision 0140): the retired
# key and its successor, and the statement both signed; ``audit_signing_keys`` above holds
# the current key. With the per-log rows below, every key the region ever signed with and
# the tree sizes it signed (from the previous transition's size to its own) stay known.
audit_key_transitions = sa.Table(
    "audit_key_transitions",
    metadata,
    sa.Column("key_name", sa.Text, primary_key=True),
    sa.Column("generation", sa.Integer, primary_key=True),
    sa.Column("old_public_key", sa.LargeBinary, nullable=False),
    sa.Column("new_public_key", sa.LargeBinary, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("statement", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

# Per log that had entries at a rotation: its size then (the last the old key signed, the
# first the new one signs) and its checkpoint at that size signed by both keys.
audit_key_transition_checkpoints = sa.Table(
    "audit_key_transition_checkpoints",
    metadata,
    sa.Column("key_name", sa.Text, primary_key=True),
    sa.Column("generation", sa.Integer, primary_key=True),
    sa.Column("log_id", sa.Text, primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("checkpoint", sa.Text, nullable=False),
)

# The latest cosignature of each witness on each log (decision 0122, increment 2): the size
# and root it vouched for and its signature line, replaced only by a larger size.
audit_witness_cosignatures = sa.Table(
    "audit_witness_cosignatures",
    metadata,
    sa.Column("log_id", sa.Text, primary_key=True),
    sa.Column("witness", sa.Text, primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("root_hash", sa.LargeBinary, nullable=False),
    sa.Column("cosignature", sa.Text, nullable=False),
    sa.Column("cosigned_at", UtcDateTime, nullable=False),
)
