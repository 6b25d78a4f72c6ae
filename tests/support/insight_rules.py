"""Contributor Insights rules for the tests (decision 0272): a definition built from AWS's
JSON example with members changed (None removes one), and a stored rule of it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from andromede.metrics.insight_rules import ENABLED, InsightRule

__all__ = ["definition", "rule"]


def definition(**changes: Any) -> str:
    document: dict[str, Any] = {
        "Schema": {"Name": "CloudWatchLogRule", "Version": 1},
        "LogGroupNames": ["api-*", "web"],
        "LogFormat": "JSON",
        "Contribution": {"Keys": ["$.ip"]},
        "AggregateOn": "Count",
    }
    document.update(changes)
    return json.dumps({k: v for k, v in document.items() if v is not None})


def rule(name: str, tenant: str = "t1", state: str = ENABLED, **changes: Any) -> InsightRule:
    return InsightRule(
        tenant_id=tenant,
        name=name,
        state=state,
        definition=definition(**changes),
        apply_on_transformed_logs=False,
        created=datetime(2026, 12, 6, 12, 0, 0, 123456, tzinfo=UTC),
        tags=(("team", "ops"),),
    )
