"""Every KMS action, every parameter it reads, given values of the wrong type, size or shape:
the answer is always one of KMS's 4xx errors with a type, never a 500 or a traceback, and
nothing is left half-made. The parameters come from the isolation matrix's recipes (which
cover every action) plus the optional ones the actions read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from andromede.kms.keys_store import MemoryCustomerKeyStore
from andromede.kmsapi.actions import ACTIONS
from support.kmsapp import Harness, kms_harness
from unit.kmsapi.test_isolation import RECIPES

OPTIONAL = {
    "Constraints",
    "Description",
    "DryRunModifiers",
    "DestinationEncryptionContext",
    "DryRun",
    "EncryptionAlgorithm",
    "EncryptionContext",
    "ExpirationModel",
    "GrantId",
    "GrantToken",
    "GrantTokens",
    "GranteePrincipal",
    "GranteeServicePrincipal",
    "ImportType",
    "IncludeKeyMaterial",
    "KeyMaterialDescription",
    "KeyMaterialId",
    "KeyPairSpec",
    "KeySpec",
    "KeyUsage",
    "Limit",
    "Mac",
    "MacAlgorithm",
    "Marker",
    "MessageType",
    "Name",
    "NumberOfBytes",
    "Operations",
    "Origin",
    "PendingWindowInDays",
    "Policy",
    "Recipient",
    "ResourceOwners",
    "RetiringPrincipal",
    "RetiringServicePrincipal",
    "RotationPeriodInDays",
    "Signature",
    "SigningAlgorithm",
    "Tags",
    "ValidTo",
}
BAD_VALUES: list[Any] = [
    None,
    True,
    -1,
    2**70,
    1.5,
    "",
    "x" * 70_000,
    "é\u0000\ud7ff",
    [],
    ["a", 1],
    {},
    {"a": {"b": 1}},
    [{"TagKey": None}],
]


@pytest.fixture
async def kms(tmp_path: Path) -> AsyncIterator[Harness]:
    async for harness in kms_harness(tmp_path, MemoryCustomerKeyStore()):
        yield harness


@pytest.mark.parametrize("action", sorted(ACTIONS))
async def test_wrong_values_get_a_kms_error_never_a_500(kms: Harness, action: str) -> None:
    created = await kms.call("CreateKey", {})
    key_arn = created.json()["KeyMetadata"]["Arn"]
    recipe = {
        name: (key_arn if isinstance(value, str) and value.startswith("{") else value)
        for name, value in RECIPES[action].items()
    }
    for name in sorted(set(recipe) | OPTIONAL):
        for value in BAD_VALUES:
            reply = await kms.call(action, {**recipe, name: value})
            assert reply.status < 500, (action, name, repr(value)[:80], reply.body[:300])
            if reply.status != 200:
                assert reply.error_type, (action, name, reply.body[:300])
                assert b"Traceback" not in reply.body
