"""What metering samples of KMS (decision 0108): each tenant's customer-managed keys per region,
disabled keys included, keys pending deletion and AWS-managed keys not (as AWS bills them),
read page by page and never another tenant's."""

from __future__ import annotations

import pytest

from andromede.kms import customer_keys_lifecycle
from support.kmskit import ACCOUNT_A, ACCOUNT_B, REGION, Kit, root

A = root(ACCOUNT_A)
B = root(ACCOUNT_B)


async def test_billable_keys_per_tenant_and_region(
    kit: Kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Several pages with a few keys.
    monkeypatch.setattr(customer_keys_lifecycle, "_BILLING_PAGE", 2)
    held = [await kit.service.create_key(A) for _ in range(4)]
    await kit.service.disable_key(A, held[0].key_id)  # a disabled key is billed on AWS too
    leaving = await kit.service.create_key(A)
    await kit.service.schedule_key_deletion(A, leaving.key_id, 7)
    await kit.service.aws_managed_key(ACCOUNT_A, "s3")  # alias/aws/s3: free, as on AWS
    await kit.service.create_key(B)

    assert await kit.service.billable_keys(ACCOUNT_A) == {REGION: 4}
    assert await kit.service.billable_keys(ACCOUNT_B) == {REGION: 1}
    assert await kit.service.billable_keys("000000000000") == {}
    await kit.service.cancel_key_deletion(A, leaving.key_id)  # held again (disabled)
    assert await kit.service.billable_keys(ACCOUNT_A) == {REGION: 5}
