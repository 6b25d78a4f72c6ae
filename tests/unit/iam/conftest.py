"""An IdentityService over the in-memory store, with a clock the test moves."""

from __future__ import annotations

import os

import pytest

from andromede.iam.secrets import SecretSealer
from andromede.iam.service import BootstrapResult, IdentityLimits, IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from support.clock import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def identity(clock: Clock) -> IdentityService:
    return IdentityService(
        MemoryIdentityStore(),
        SecretSealer(os.urandom(32)),
        limits=IdentityLimits(cache_ttl=30.0),
        clock=clock,
    )


@pytest.fixture
async def tenant(identity: IdentityService) -> BootstrapResult:
    return await identity.create_tenant("acme")
