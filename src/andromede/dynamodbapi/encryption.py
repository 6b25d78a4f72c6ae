"""A table's encryption at rest as CreateTable and UpdateTable set it (decision 0254):
``SSESpecification`` {Enabled, SSEType, KMSMasterKeyId}. Without it, or ``Enabled`` false,
the table is under the AWS-owned key (the account's key ring); ``Enabled`` true names the
account's AWS-managed key ``alias/aws/dynamodb`` unless ``KMSMasterKeyId`` (a key id, ARN,
alias name or alias ARN) names a customer-managed key. The key is checked before the table is
made or changed (the caller's right to use it, its state), then the table key is re-wrapped
under it (``dynamodb.table_keys``); DescribeTable's ``SSEDescription`` says which key it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from andromede.awsjson.endpoint import JsonRequest
from andromede.dynamodb.errors import ValidationError
from andromede.dynamodb.model import Table
from andromede.dynamodbapi.params import DynamoCall, invalid
from andromede.kms.customer_keys import Caller

__all__ = ["KeyChoice", "apply_key", "key_choice", "kms_caller"]


def kms_caller(request: JsonRequest[Any], region: str) -> Caller:
    """The request's caller as KMS judges it, through DynamoDB (``kms:ViaService``)."""
    principal = request.principal
    client = request.scope.get("client")
    return Caller(
        account_id=principal.tenant_id or "",
        arn=principal.arn,
        principal=principal,
        source_ip=client[0] if client else None,
        secure=request.scope.get("scheme") == "https",
        via_service=f"dynamodb.{region}.amazonaws.com",
        request_id=request.request_id,
    )


@dataclass(frozen=True, slots=True)
class KeyChoice:
    """The key asked for: KMS (``kms``) under ``key_arn`` (checked), or the AWS-owned key."""

    kms: bool
    key_arn: str | None = None


async def key_choice(
    call: DynamoCall,
    table_name: str,
    table: Table | None = None,
    field: str = "SSESpecification",
) -> KeyChoice | None:
    """The key ``field`` asks for (a restore's ``SSESpecificationOverride``), checked (None: the
    parameter is absent)."""
    sse = call.mapping(field)
    if sse is None:
        return None
    enabled = call.boolean("Enabled", source=sse)
    kind = call.string("SSEType", source=sse)
    if kind is not None and kind not in ("AES256", "KMS"):
        raise invalid(
            "SSESpecification.sSEType", "Member must satisfy enum value set: [AES256, KMS]", kind
        )
    key_ref = call.string("KMSMasterKeyId", min_length=1, max_length=2048, source=sse)
    if enabled is False:
        if key_ref is not None or kind == "KMS":
            raise ValidationError(
                "One or more parameter values were invalid: SSEType and KMSMasterKeyId must "
                "not be specified when SSE is disabled"
            )
        return KeyChoice(kms=False)
    if enabled is None and key_ref is None and kind is None:
        return KeyChoice(kms=False)
    if kind == "AES256":
        raise ValidationError(
            "One or more parameter values were invalid: SSEType AES256 is not supported, only KMS"
        )
    if call.table_keys is None:
        raise ValidationError("Tables under a KMS key are not served by this gateway")
    key_arn = await call.table_keys.authorise(call.tenant_id, table_name, key_ref, call.kms_caller)
    if table is not None and table.kms_key_arn == key_arn:
        raise ValidationError("Table is already encrypted by given KMSMasterKeyId")
    return KeyChoice(kms=True, key_arn=key_arn)


async def apply_key(call: DynamoCall, table: Table, choice: KeyChoice | None) -> Table:
    """``table`` under the key chosen: its table key re-wrapped, nothing else changed."""
    if choice is None or call.table_keys is None:
        return table
    if not choice.kms and table.kms_key_arn is None:
        return (
            table if not table.sse_kms else await call.dynamodb.change_table(table, sse_kms=False)
        )
    wrapped, sealed = await call.table_keys.rekey(table, choice.key_arn)
    return await call.dynamodb.change_table(
        table,
        sse_kms=choice.kms,
        kms_key_arn=choice.key_arn,
        wrapped_key=wrapped,
        table_key=sealed,
    )
