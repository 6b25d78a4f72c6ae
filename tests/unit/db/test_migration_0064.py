"""Migration 0064 (security group rule ids, decision 0146): on SQLite and a real PostgreSQL,
every rule of every stored group gets the stable id the code derives for it, none added or
lost, a rule that had an id keeps it, and the downgrade takes ids and rule tags out again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from andromede.compute.model import Rule, SecurityGroup, stable_rule_id
from andromede.compute.store_sql import _CODECS
from andromede.db.database import create_engine
from support.migrations import migrate

_TABLE = "compute_security_groups"
_WEB, _DB = "sg-0123456789abcdef0", "sg-0fedcba9876543210"


def _legacy(group_id: str, ingress: list[dict[str, Any]], egress: list[dict[str, Any]]) -> str:
    """A group's document as releases before 0146 wrote it: rules without id nor tags."""
    return json.dumps(
        {
            "group_id": group_id, "tenant_id": "t", "name": group_id, "description": "d",
            "ingress": ingress, "egress": egress, "tags": [], "vpc_id": None,
            "format_version": 1, "revision": 0,
        }
    )  # fmt: skip


def _rule(
    protocol: str, low: int, high: int, cidr: str, group: str | None = None
) -> dict[str, Any]:
    return {"protocol": protocol, "from_port": low, "to_port": high, "cidr": cidr,
            "description": "kept", "group_id": group}  # fmt: skip


def _documents(url: str) -> dict[str, dict[str, Any]]:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            rows = conn.execute(sa.text(f"SELECT id, document FROM {_TABLE}")).all()  # noqa: S608
    finally:
        engine.dispose()
    return {row.id: json.loads(row.document) for row in rows}


def _insert(url: str, group_id: str, document: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    f"INSERT INTO {_TABLE} (id, tenant_id, document, format_version, revision)"  # noqa: S608
                    " VALUES (:id, 't', :document, 1, 0)"
                ),
                {"id": group_id, "document": document},
            )
    finally:
        engine.dispose()


def _check(url: str) -> None:
    migrate(url, "0063")
    ssh, ping = _rule("tcp", 22, 22, "10.0.0.0/8"), _rule("icmp", -1, -1, "::/0")
    peers = _rule("-1", -1, -1, "", _WEB)
    out = _rule("-1", -1, -1, "0.0.0.0/0")
    _insert(url, _WEB, _legacy(_WEB, [ssh, ping, peers], [out]))
    named = {**_rule("tcp", 443, 443, "0.0.0.0/0"), "rule_id": "sgr-00000000000000001"}
    _insert(url, _DB, _legacy(_DB, [named], []))
    before = _documents(url)
    migrate(url, "0064")
    after = _documents(url)
    web = after[_WEB]
    # Same rules, same order, each with the id the code derives (which reading an old record
    # without the migration would also give it).
    for name, egress in (("ingress", False), ("egress", True)):
        assert [{k: v for k, v in r.items() if k != "rule_id"} for r in web[name]] == before[_WEB][
            name
        ]
        for rule in web[name]:
            fields = {k: v for k, v in rule.items() if k != "rule_id"}
            assert rule["rule_id"] == stable_rule_id(_WEB, egress, Rule(**fields))
    unmigrated = _CODECS[SecurityGroup].validate_json(json.dumps(before[_WEB]))
    migrated = _CODECS[SecurityGroup].validate_json(json.dumps(web))
    assert migrated == unmigrated
    assert len({r["rule_id"] for r in (*web["ingress"], *web["egress"])}) == 4
    assert after[_DB]["ingress"][0]["rule_id"] == "sgr-00000000000000001"
    migrate(url, "0064")  # at head already: nothing moves
    assert _documents(url) == after
    # Tags written by this release go with the ids on the way down.
    web["ingress"][0]["tags"] = [["team", "a"]]
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(f"UPDATE {_TABLE} SET document = :d WHERE id = :id"),  # noqa: S608
            {"d": json.dumps(web), "id": _WEB},
        )
    engine.dispose()
    migrate(url, "0063", down=True)
    down = _documents(url)
    assert down[_WEB] == before[_WEB]
    assert "rule_id" not in down[_DB]["ingress"][0]


def test_on_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'meta.db'}")


def test_on_postgresql(postgres_empty_url: str) -> None:
    _check(postgres_empty_url)
