"""A table's KMS key (decision 0254): what the DynamoDB API asks of the key wiring when a
table is put under the AWS-owned key (the account's key ring), the account's AWS-managed key
``alias/aws/dynamodb`` or a customer-managed key, and the errors a key the caller may not use,
or one that is disabled, pending deletion or gone, makes the table's calls answer.

The wiring (``wiring.dynamodb_table_keys``) does the cryptography: a change of key re-wraps
the table key (its items stay sealed as they are), a table whose key cannot be used answers
its reads and writes ``AccessDeniedException`` (``SealedItemUnreadable``, a ``KeyUnusable``)
and is described ``INACCESSIBLE_ENCRYPTION_CREDENTIALS`` until the key is usable again.
"""

from __future__ import annotations

from typing import Protocol

from andromede.dynamodb.errors import KeyUnusable, ValidationError
from andromede.dynamodb.model import Table

__all__ = ["TableKeyDenied", "TableKeyInvalid", "TableKeys"]


class TableKeyInvalid(ValidationError):
    """The key named for a table is disabled, pending deletion, unknown or not a symmetric
    encryption key: ``ValidationException`` with KMS's reason, as AWS answers."""


class TableKeyDenied(KeyUnusable):
    """The caller may not use the key named for a table (``kms:DescribeKey``,
    ``kms:CreateGrant``): ``AccessDeniedException``, as AWS answers."""


class TableKeys(Protocol):
    async def authorise(
        self, tenant_id: str, table_name: str, key_ref: str | None, caller: object
    ) -> str:
        """The ARN of the key ``key_ref`` names (None: the account's AWS-managed key, made on
        first use) once ``caller`` may use it for the table and it is usable."""
        ...

    async def rekey(self, table: Table, key_arn: str | None) -> tuple[bytes, bytes]:
        """The table's key re-wrapped under ``key_arn`` (None: the account's key ring): the
        new wrapped data key and the table key sealed under it."""
        ...

    async def accessible(self, table: Table) -> bool:
        """Whether the table's key can be used now (False: its reads and writes refused)."""
        ...
