"""Every security group rule gets an ``sgr-`` id (decision 0146). Rules live in their
group's JSON document; each rule stored without an id is given its stable id, derived from
the group, the direction and the permission (unique together), as the code derives it for a
rule that comes without one (the rule is copied here: a migration must not change when the
code does). No rule is added or lost, and a rule that has an id keeps it.

The downgrade takes the ids and the rules' tags out of the documents again: the release
before does not know them, and a rule's tags exist nowhere else.

Revision ID: 0064
Revises: 0062
Create Date: 2026-12-05
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0064"
down_revision: str | None = "0063"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_GROUPS = "compute_security_groups"


def _rule_id(group_id: str, egress: bool, rule: dict[str, Any]) -> str:
    key = "/".join(
        (
            group_id,
            "egress" if egress else "ingress",
            str(rule["protocol"]),
            str(rule["from_port"]),
            str(rule["to_port"]),
            str(rule.get("cidr") or ""),
            str(rule.get("group_id") or ""),
        )
    )
    return "sgr-" + hashlib.sha256(f"andromede-sgr:{key}".encode()).hexdigest()[:17]


def _rewrite(change: Callable[[str, dict[str, Any]], bool]) -> None:
    groups = sa.table(_GROUPS, sa.column("id", sa.Text()), sa.column("document", sa.Text()))
    connection = op.get_bind()
    rows = connection.execute(sa.select(groups.c.id, groups.c.document)).all()
    for group_id, text in rows:
        document = json.loads(text)
        if change(group_id, document):
            connection.execute(
                groups.update()
                .where(groups.c.id == group_id)
                .values(document=json.dumps(document, separators=(",", ":")))
            )


def _name_rules(group_id: str, document: dict[str, Any]) -> bool:
    changed = False
    for name, egress in (("ingress", False), ("egress", True)):
        for rule in document.get(name) or ():
            if not rule.get("rule_id"):
                rule["rule_id"] = _rule_id(document.get("group_id") or group_id, egress, rule)
                changed = True
    return changed


def _unname_rules(_: str, document: dict[str, Any]) -> bool:
    changed = False
    for name in ("ingress", "egress"):
        for rule in document.get(name) or ():
            for key in ("rule_id", "tags"):
                if key in rule:
                    del rule[key]
                    changed = True
    return changed


def upgrade() -> None:
    _rewrite(_name_rules)


def downgrade() -> None:
    _rewrite(_unname_rules)
