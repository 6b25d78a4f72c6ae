"""S3 Inventory's delivery into a bucket (decision 0154): whether its bucket policy lets S3
write the report there.

Storage and identity are separate bounded contexts; this adapter, at the composition root, is
where they meet for ``storage.inventory_report.InventoryGrants``. AWS writes a report as its
service principal ``s3.amazonaws.com``, which the destination's bucket policy must allow
``s3:PutObject`` on the report's keys, conditions included: ``aws:SourceAccount`` (the source
bucket's account), ``aws:SourceArn`` (the source bucket's ARN) and ``s3:x-amz-acl``
(``bucket-owner-full-control``, what S3's own example policy asks). The same policy engine as
every request decides, explicit denies first; a destination without a policy refuses, as on
AWS, even to its own account's reports.
"""

from __future__ import annotations

from typing import Final

from andromede.iam.policy.service_grants import service_may
from andromede.storage.model import Bucket

__all__ = ["S3_SERVICE", "S3InventoryGrants"]

S3_SERVICE: Final = "s3.amazonaws.com"


class S3InventoryGrants:
    def allows(self, source: Bucket, destination: Bucket, key: str) -> bool:
        return service_may(
            destination.policy,
            service=S3_SERVICE,
            action="s3:PutObject",
            resource=f"arn:aws:s3:::{destination.name}/{key}",
            resource_account=destination.tenant_id,
            source_arn=f"arn:aws:s3:::{source.name}",
            source_account=source.tenant_id,
            keys={"s3:x-amz-acl": "bucket-owner-full-control"},
        )
