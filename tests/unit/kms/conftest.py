"""The ``kit`` fixture: a CustomerKeyService over the in-memory store (see support.kmskit)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from andromede.kms.customer_keys import CustomerKeyService
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.keys_store import MemoryCustomerKeyStore
from andromede.kms.service import KeyService
from andromede.kmsapi.authorise import KmsAuthoriser, alias_names
from support.kmskit import REGION, IdentityPolicies, Kit, ManualClock


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    store = MemoryCustomerKeyStore()
    keys = KeyService(LocalKeyFileProvider(tmp_path / "keys"))
    clock = ManualClock()
    policies = IdentityPolicies()
    service = CustomerKeyService(
        store,
        keys,
        KmsAuthoriser(policies, REGION, key_aliases=alias_names(store)),
        region=REGION,
        clock=clock,
    )
    yield Kit(service, store, keys, clock, policies)
    keys.close()
