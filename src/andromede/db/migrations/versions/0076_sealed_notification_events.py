"""Pending notification events sealed at rest (decision 0163's addendum): rows of
``notification_events`` may now be ``format_version`` 2, the message sealed under the tenant's
key. No schema change.

Upgrade changes no row: a migration cannot reach the root-key provider, so the rows queued in
clear before are sealed by the start-up step (``seal_legacy_notification_events``, as
decision 0011's objects are) and by the worker when it claims one. Downgrade deletes the
sealed rows: a release before this one would push their ciphertext to the endpoints as the
event's body; the clear ones stay, theirs to deliver.

Revision ID: 0076
Revises: 0075
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0076"
down_revision: str | None = "0075"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM notification_events WHERE format_version = 2"))
