"""``andromede admin tenant regions`` and ``andromede admin residency report``."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from andromede.app import open_metadata
from andromede.cli.main import app
from andromede.settings import load_settings
from andromede.storage.model import Bucket, ContentHeaders, ObjectRecord, Segment
from andromede.storage.replication import (
    REPLICATION_DOCUMENT,
    ReplicationConfiguration,
    ReplicationRule,
)

_NOW = datetime(2026, 11, 29, tzinfo=UTC)
REGIONS = json.dumps(
    [
        {"name": "eu-paris-1", "jurisdiction": "FR"},
        {"name": "eu-berlin-1", "jurisdiction": "DE"},
    ]
)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ANDROMEDE_REGIONS", REGIONS)
    monkeypatch.setenv("ANDROMEDE_REGION", "eu-paris-1")
    return tmp_path / "data"


def run(data_dir: Path, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, ["admin", *args, "--data-dir", str(data_dir)])
    assert result.exit_code == code, (result.stdout, result.stderr)
    return result.stdout


def test_tenant_regions_show_set_and_lift(data_dir: Path) -> None:
    run(data_dir, "tenant", "create", "acme")
    assert run(data_dir, "tenant", "regions", "acme").strip() == "every region"
    run(data_dir, "tenant", "regions", "acme", "--allow", "eu-berlin-1, eu-paris-1")
    shown = json.loads(run(data_dir, "tenant", "regions", "acme", "--json"))
    assert shown["allowed_regions"] == ["eu-berlin-1", "eu-paris-1"]
    run(data_dir, "tenant", "regions", "acme", "--allow", "eu-madrid-1", code=2)
    run(data_dir, "tenant", "regions", "acme", "--allow", "x", "--all", code=2)
    run(data_dir, "tenant", "regions", "nobody", "--allow", "eu-paris-1", code=1)
    assert json.loads(run(data_dir, "tenant", "regions", "acme", "--json"))["allowed_regions"] == [
        "eu-berlin-1",
        "eu-paris-1",
    ]
    run(data_dir, "tenant", "regions", "acme", "--all")
    assert run(data_dir, "tenant", "regions", "acme").strip() == "every region"


def test_residency_report(data_dir: Path) -> None:
    created = json.loads(run(data_dir, "tenant", "create", "acme", "--json"))
    tenant = created["tenant_id"]
    # Another tenant's bucket that acme's replication copies into (with its consent, 0112).
    vault_tenant = json.loads(run(data_dir, "tenant", "create", "vaultco", "--json"))["tenant_id"]

    async def fill() -> None:
        async with open_metadata(load_settings(data_dir=data_dir)) as (_, store):
            now = _NOW
            await store.create_bucket(Bucket("docs-fr", tenant, "o", "eu-paris-1", now))
            await store.create_bucket(Bucket("docs-de", tenant, "o", "eu-berlin-1", now))
            await store.create_bucket(Bucket("vault", vault_tenant, "v", "eu-berlin-1", now))
            for key, size in (("a", 10), ("b", 5)):
                await store.put_object(
                    ObjectRecord(
                        bucket="docs-de",
                        key=key,
                        size=size,
                        etag="e",
                        last_modified=now,
                        headers=ContentHeaders(),
                        segments=(Segment(f"blob-{key}", size, region="eu-berlin-1"),),
                        owner_id="o",
                    )
                )

        # docs-fr replicates to docs-de, and to a bucket since deleted; a disabled rule
        # moves nothing and is not shown.
        config = ReplicationConfiguration(
            rules=(
                ReplicationRule("de", True, "docs-de"),
                ReplicationRule("gone", True, "gone-copy"),
                ReplicationRule("off", False, "never-copy"),
                ReplicationRule("vault", True, "vault"),
            )
        )
        async with open_metadata(load_settings(data_dir=data_dir)) as (_, store):
            await store.put_bucket_document("docs-fr", REPLICATION_DOCUMENT, config.to_text())

    asyncio.run(fill())
    report = json.loads(run(data_dir, "residency", "report", "--json"))
    assert [r["region"] for r in report["regions"]] == ["eu-paris-1", "eu-berlin-1"]
    rows = {row["bucket"]: row for row in report["buckets"]}
    assert rows["docs-de"] == {
        "tenant_id": tenant,
        "tenant": "acme",
        "bucket": "docs-de",
        "region": "eu-berlin-1",
        "jurisdiction": "DE",
        "backend": "local",
        "location": str(data_dir / "objects-eu-berlin-1"),
        "inline_max_bytes": 16384,  # local disk: small objects in the metadata database
        "objects": 2,
        "bytes": 15,
        "replicates_to": [],
    }
    assert rows["docs-fr"]["replicates_to"] == [
        {"bucket": "docs-de", "tenant": "acme", "region": "eu-berlin-1", "jurisdiction": "DE"},
        {"bucket": "gone-copy", "tenant": "", "region": "gone", "jurisdiction": "gone"},
        {"bucket": "vault", "tenant": "vaultco", "region": "eu-berlin-1", "jurisdiction": "DE"},
    ]
    assert (rows["docs-fr"]["jurisdiction"], rows["docs-fr"]["objects"]) == ("FR", 0)
    assert rows["docs-fr"]["location"] == str(data_dir / "objects")
    text = run(data_dir, "residency", "report")
    assert "docs-de" in text and "eu-berlin-1" in text and "DE" in text
    assert "up to 16384 B" in text
    assert (
        "docs-de@eu-berlin-1 (DE), gone-copy@gone (gone), vault@eu-berlin-1 (DE) of vaultco" in text
    )
    assert "never-copy" not in text
