"""Where Lambda's failure records meet S3 (decision 0311): an S3 bucket as the ``OnFailure``
destination of asynchronous invocations and of Kinesis and DynamoDB stream mappings, as AWS
added them in 2024.

- **The role's check** (:meth:`BucketRecords.refusal`): the function's execution role must be
  allowed ``s3:PutObject`` on the bucket's keys and ``s3:ListBucket`` on the bucket, as AWS's
  documentation asks, judged by S3's own authoriser (``s3.authorise.S3Authoriser``: the role's
  identity policies within its boundary, the bucket's policy, its ACLs and Block Public
  Access) — so a bucket of another account takes the record when its policy lets the role
  in, as on AWS. A bucket gone or of another Region is refused by name.
- **The write** (:meth:`BucketRecords.send`, a ``function_deliveries.Channel``): the same
  check, then the object written through the object service as every service's writes into a
  bucket (``firehose_delivery``, ``log_export_delivery``): owned by the bucket's owner,
  sealed under the owner's key ring, a class A request counted to the owner, and audited on
  the owner's account as ``s3:PutObject`` by the role.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Final

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.errors import AndromedeError
from andromede.function_deliveries import DestinationRefused, Message
from andromede.iam.model import Principal
from andromede.s3.authorise import S3Authoriser
from andromede.s3.operations import S3Operation
from andromede.storage.errors import NoSuchBucket
from andromede.storage.model import Bucket
from andromede.storage.service import ObjectService

__all__ = ["BucketRecords", "bucket_name"]

_REQUEST_METER: Final = "s3.requests.class-a"  # a PUT, as s3_request_meter prices it
_PROBE_KEY: Final = "aws/lambda/"

RequestCounter = Callable[[str, int, str], None]  # (tenant, quantity, meter)


def bucket_name(arn: str) -> str:
    """The bucket an ``arn:aws:s3:::<name>`` destination names."""
    return arn.split(":::", 1)[1]


class BucketRecords:
    def __init__(
        self,
        objects: ObjectService,
        authoriser: S3Authoriser,
        region: str,
        audit: AuditService | None = None,
        count: RequestCounter | None = None,
    ) -> None:
        self._objects = objects
        self._authoriser = authoriser
        self._region = region
        self._audit = audit
        self._count = count

    async def refusal(self, session: Principal, destination: str) -> str | None:
        """Why the role may not write records into the bucket, in AWS's words; None when
        it may."""
        try:
            await self._bucket(session, destination, _PROBE_KEY)
        except DestinationRefused as exc:
            return str(exc)
        return None

    async def _bucket(self, session: Principal, destination: str, key: str) -> Bucket:
        name = bucket_name(destination)
        try:
            bucket = await self._objects.get_bucket(name)
        except NoSuchBucket:
            raise DestinationRefused(f"The S3 bucket {name} does not exist.") from None
        if bucket.region != self._region:
            raise DestinationRefused(
                f"The S3 bucket {name} is in another Region: a Lambda function records "
                "into a bucket of its own Region."
            )
        for operation, on_key in ((S3Operation.ListObjectsV2, None), (S3Operation.PutObject, key)):
            try:
                await self._authoriser.authorise(
                    session,
                    operation,
                    bucket=bucket,
                    bucket_name=name,
                    key=on_key,
                    keys={},
                    source_ip=None,
                    secure=True,
                )
            except AndromedeError:
                raise DestinationRefused(
                    f"The provided execution role does not have permissions to call "
                    f"{'ListBucket' if on_key is None else 'PutObject'} on S3"
                ) from None
        return bucket

    async def send(self, session: Principal, destination: str, message: Message) -> None:
        key = message.key or f"{_PROBE_KEY}{uuid.uuid4()}"
        bucket = await self._bucket(session, destination, key)
        body = message.body.encode()
        try:
            await self._objects.put_delivered_object(bucket, key, body, "application/json")
        except AndromedeError as exc:
            raise DestinationRefused(f"{type(exc).__name__}: {str(exc)[:512]}") from None
        if self._count is not None:
            self._count(bucket.tenant_id, 1, _REQUEST_METER)
        if self._audit is not None:
            self._audit.record(
                request_id=uuid.uuid4().hex.upper()[:16],
                tenant_id=bucket.tenant_id,
                principal=session.arn,
                action="s3:PutObject",
                resource=f"arn:aws:s3:::{bucket.name}/{key}"[:2048],
                outcome=Outcome.SUCCESS,
                details={"invoked_by": "lambda.amazonaws.com", "size": str(len(body))},
            )
