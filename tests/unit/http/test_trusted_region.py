"""The Region an in-process call names (http/asgi.py, decision 0406): counted only beside the
trusted principal the same caller set, never alone (no wire request can set either key)."""

from __future__ import annotations

from andromede.http.asgi import (
    TRUSTED_PRINCIPAL_SCOPE_KEY,
    TRUSTED_REGION_SCOPE_KEY,
    trusted_region,
)


def test_the_region_counts_only_beside_the_trusted_principal() -> None:
    principal = object()
    assert trusted_region({TRUSTED_PRINCIPAL_SCOPE_KEY: principal}) is None
    named = {TRUSTED_PRINCIPAL_SCOPE_KEY: principal, TRUSTED_REGION_SCOPE_KEY: "eu-de-1"}
    assert trusted_region(named) == "eu-de-1"
    assert trusted_region({TRUSTED_REGION_SCOPE_KEY: "eu-de-1"}) is None
    assert trusted_region({TRUSTED_PRINCIPAL_SCOPE_KEY: principal,
                           TRUSTED_REGION_SCOPE_KEY: 7}) is None  # fmt: skip
