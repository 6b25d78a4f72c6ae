"""DynamoDB's export and import calls (decision 0261): ExportTableToPointInTime,
DescribeExport, ListExports, ImportTable, DescribeImport, ListImports, in botocore's shapes
and AWS's errors (``PointInTimeRecoveryUnavailableException``, ``InvalidExportTimeException``,
``ExportNotFoundException``, ``ImportNotFoundException``, ``ResourceInUseException``).

IAM as AWS's: ``dynamodb:ExportTableToPointInTime`` on the table, ``dynamodb:DescribeExport``
on the export's ARN, ``dynamodb:ListExports`` on ``*``; ``dynamodb:ImportTable`` on the new
table (its creation authorised by it, as AWS asks nothing more), ``dynamodb:DescribeImport``
on the import's ARN, ``dynamodb:ListImports`` on ``*``. The bucket is then written or read as
the caller (``dynamodb_export_buckets``). What the platform does not offer is refused naming
it: the ION format, incremental exports, exports under an SSE-KMS key, ZSTD imports.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from typing import Any, Final

from andromede.dynamodb.errors import TableNotFound
from andromede.dynamodb.exports import (
    DynamoExports,
    ExportJob,
    ImportJob,
    ImportSource,
    JobStatus,
    job_id,
)
from andromede.dynamodb.model import Table
from andromede.dynamodbapi.errors import DynamoWireError
from andromede.dynamodbapi.params import DynamoCall, Handler, invalid
from andromede.dynamodbapi.tables import create_table
from andromede.kms.customer_keys import Caller

__all__ = ["EXPORT_ACTIONS"]

_DAY_MS: Final = 86_400_000
_JOB_ARN: Final = re.compile(
    r"(arn:aws[\w-]*:dynamodb:([a-z0-9-]+):(\d{12}):table/[a-zA-Z0-9_.-]{3,255})"
    r"/(export|import)/\d{13}-[0-9a-f]{8}"
)


def _now() -> int:
    return int(time.time() * 1000)


def _service(call: DynamoCall) -> DynamoExports:
    if call.exports is None or call.backups is None:
        raise DynamoWireError(
            "UnknownOperationException", "Exports and imports are not served here"
        )
    return call.exports


def _caller(call: DynamoCall) -> object:
    return call.kms_caller.principal if isinstance(call.kms_caller, Caller) else None


def _not_offered(what: str) -> DynamoWireError:
    return DynamoWireError("ValidationException", f"{what} is not offered by this platform")


def _page(call: DynamoCall, size_field: str) -> tuple[int, str | None]:
    limit = call.integer(size_field, minimum=1, maximum=25) or 25
    return limit, call.string("NextToken", max_length=1024)


# --- exports ---------------------------------------------------------------------------------


def _export_description(job: ExportJob) -> dict[str, Any]:
    described: dict[str, Any] = {
        "ExportArn": job.arn,
        "ExportStatus": job.status.value,
        "StartTime": job.started / 1000,
        "TableArn": job.table_arn,
        "TableId": job.table_id,
        "ExportTime": job.export_time / 1000,
        "ClientToken": job.client_token,
        "S3Bucket": job.bucket,
        "S3SseAlgorithm": "AES256",
        "ExportFormat": "DYNAMODB_JSON",
        "ExportType": "FULL_EXPORT",
    }
    if job.prefix:
        described["S3Prefix"] = job.prefix
    if job.bucket_owner:
        described["S3BucketOwner"] = job.bucket_owner
    if job.ended is not None:
        described["EndTime"] = job.ended / 1000
    if job.status is JobStatus.COMPLETED:
        described["ExportManifest"] = job.root + "manifest-summary.json"
        described["BilledSizeBytes"] = job.billed_bytes
        described["ItemCount"] = job.item_count
    if job.failure_code is not None:
        described["FailureCode"] = job.failure_code
        described["FailureMessage"] = job.failure_message
    return described


async def _exported_table(call: DynamoCall) -> Table:
    arn = call.string("TableArn", required=True, min_length=1, max_length=1024)
    try:
        return await call.table("ExportTableToPointInTime", arn)
    except TableNotFound as exc:
        raise DynamoWireError("TableNotFoundException", str(exc)) from None


async def export_table(call: DynamoCall) -> dict[str, Any]:
    table = await _exported_table(call)
    exports = _service(call)
    bucket = call.string("S3Bucket", required=True, max_length=255)
    prefix = call.string("S3Prefix", max_length=1024) or ""
    owner = call.string("S3BucketOwner", max_length=12)
    if call.choice("ExportFormat", ("DYNAMODB_JSON", "ION"), "DYNAMODB_JSON") == "ION":
        raise _not_offered("The ION export format")
    if call.choice("ExportType", ("FULL_EXPORT", "INCREMENTAL_EXPORT")) == "INCREMENTAL_EXPORT":
        raise _not_offered("An incremental export")
    if call.choice("S3SseAlgorithm", ("AES256", "KMS"), "AES256") == "KMS":
        raise _not_offered("An export encrypted under an SSE-KMS key (S3SseAlgorithm KMS)")
    token = call.string("ClientToken", max_length=36) or job_id()
    if table.pitr is None:
        raise DynamoWireError(
            "PointInTimeRecoveryUnavailableException",
            f"Point in time recovery is not enabled for table '{table.name}'",
        )
    now = _now()
    latest = now - int(call.backups.restore_lag * 1000) if call.backups else now
    earliest = max(table.pitr[1], now - table.pitr[0] * _DAY_MS)
    given = call.params.get("ExportTime")
    if given is not None and (isinstance(given, bool) or not isinstance(given, int | float)):
        raise DynamoWireError("SerializationException", "ExportTime must be a timestamp")
    at = now if given is None else int(float(given) * 1000)
    if given is None:
        at = max(earliest, min(at, now))
    elif not earliest <= at <= now:
        raise DynamoWireError(
            "InvalidExportTimeException",
            f"ExportTime {at / 1000} is not within the point in time recovery window "
            f"[{earliest / 1000}, {max(latest, earliest) / 1000}]",
        )
    assert bucket is not None  # noqa: S101 (required)
    job = ExportJob(
        tenant_id=call.tenant_id,
        export_id=job_id(),
        table_arn=table.arn,
        table_id=table.describe(0, 0)["TableId"],
        export_time=at,
        bucket=bucket,
        prefix=prefix,
        bucket_owner=owner,
        client_token=token,
        started=now,
    )
    saved = await exports.export(job, table, _caller(call))
    if saved.export_id != job.export_id and (
        saved.table_arn,
        saved.bucket,
        saved.prefix,
    ) != (job.table_arn, job.bucket, job.prefix):
        raise DynamoWireError(
            "ExportConflictException",
            "There was a conflict when writing to the specified S3 bucket: the client token "
            "names another export",
        )
    return {"ExportDescription": _export_description(saved)}


def _job_arn(call: DynamoCall, name: str, kind: str) -> str:
    arn = call.string(name, required=True, min_length=37, max_length=1024)
    assert arn is not None  # noqa: S101 (required)
    matched = _JOB_ARN.fullmatch(arn)
    if matched is None or matched.group(4) != kind:
        raise invalid(name, "Member must satisfy the ARN pattern of an " + kind, arn)
    return arn


async def describe_export(call: DynamoCall) -> dict[str, Any]:
    arn = _job_arn(call, "ExportArn", "export")
    call.resources.append(arn)
    await call.authorise("dynamodb:DescribeExport", arn)
    found = await _service(call).store.get_export(call.tenant_id, arn)
    if found is None:
        raise DynamoWireError("ExportNotFoundException", f"Export not found: {arn}")
    return {"ExportDescription": _export_description(found)}


async def list_exports(call: DynamoCall) -> dict[str, Any]:
    table_arn = call.string("TableArn", max_length=1024)
    await call.authorise("dynamodb:ListExports", "*")
    if table_arn is not None:
        _, table_arn = call.table_name(table_arn, "TableArn")
    limit, after = _page(call, "MaxResults")
    found = await _service(call).store.list_exports(call.tenant_id, table_arn, after, limit + 1)
    answer: dict[str, Any] = {
        "ExportSummaries": [
            {"ExportArn": j.arn, "ExportStatus": j.status.value, "ExportType": "FULL_EXPORT"}
            for j in found[:limit]
        ]
    }
    if len(found) > limit:
        answer["NextToken"] = found[limit - 1].arn
    return answer


# --- imports ---------------------------------------------------------------------------------


def _import_source(call: DynamoCall) -> ImportSource:
    given = call.mapping("S3BucketSource")
    if given is None:
        raise invalid("S3BucketSource", "Member must not be null")
    bucket = call.string("S3Bucket", required=True, max_length=255, source=given)
    fmt = call.choice("InputFormat", ("DYNAMODB_JSON", "ION", "CSV"))
    if fmt is None:
        raise invalid("InputFormat", "Member must not be null")
    if fmt == "ION":
        raise _not_offered("The ION input format")
    compression = call.choice("InputCompressionType", ("GZIP", "ZSTD", "NONE"), "NONE")
    if compression == "ZSTD":
        raise _not_offered("The ZSTD input compression")
    options = call.mapping("InputFormatOptions") or {}
    csv = call.mapping("Csv", source=options) or {}
    delimiter = call.string("Delimiter", min_length=1, max_length=1, source=csv) or ","
    header = tuple(str(h) for h in call.listing("HeaderList", source=csv) or [])
    assert bucket is not None and compression is not None  # noqa: S101 (required, defaulted)
    return ImportSource(
        bucket=bucket,
        prefix=call.string("S3KeyPrefix", max_length=1024, source=given) or "",
        bucket_owner=call.string("S3BucketOwner", max_length=12, source=given),
        input_format=fmt,
        compression=compression,
        delimiter=delimiter,
        header=header,
    )


def _source_shape(source: ImportSource) -> dict[str, Any]:
    shape: dict[str, Any] = {"S3Bucket": source.bucket}
    if source.prefix:
        shape["S3KeyPrefix"] = source.prefix
    if source.bucket_owner:
        shape["S3BucketOwner"] = source.bucket_owner
    return shape


def _import_description(job: ImportJob) -> dict[str, Any]:
    source = job.source
    described: dict[str, Any] = {
        "ImportArn": job.arn,
        "ImportStatus": job.status.value,
        "TableArn": job.table_arn,
        "TableId": job.table_id,
        "ClientToken": job.client_token,
        "S3BucketSource": _source_shape(source),
        "ErrorCount": job.error_count,
        "InputFormat": source.input_format,
        "InputCompressionType": source.compression,
        "TableCreationParameters": json.loads(job.creation),
        "StartTime": job.started / 1000,
        "ProcessedSizeBytes": job.processed_bytes,
        "ProcessedItemCount": job.processed_items,
        "ImportedItemCount": job.imported_items,
    }
    if source.input_format == "CSV":
        csv: dict[str, Any] = {"Delimiter": source.delimiter}
        if source.header:
            csv["HeaderList"] = list(source.header)
        described["InputFormatOptions"] = {"Csv": csv}
    if job.ended is not None:
        described["EndTime"] = job.ended / 1000
    if job.failure_code is not None:
        described["FailureCode"] = job.failure_code
        described["FailureMessage"] = job.failure_message
    return described


async def import_table(call: DynamoCall) -> dict[str, Any]:
    exports = _service(call)
    source = _import_source(call)
    creation = call.mapping("TableCreationParameters")
    if creation is None:
        raise invalid("TableCreationParameters", "Member must not be null")
    token = call.string("ClientToken", max_length=36)
    if token is not None:  # a retry answers the import its token started, as AWS's
        held = await exports.store.import_by_token(call.tenant_id, token)
        if held is not None:
            call.resources.append(held.table_arn)
            await call.authorise("dynamodb:ImportTable", held.table_arn)
            if held.source != source or json.loads(held.creation) != creation:
                raise DynamoWireError(
                    "ImportConflictException",
                    "The client token names an import of other parameters",
                )
            return {"ImportTableDescription": _import_description(held)}
    token = token or job_id()

    async def as_import(
        action: str, resource: str, /, policy: str | None = None, owner: str | None = None
    ) -> None:
        # AWS asks dynamodb:ImportTable of the new table, and no CreateTable
        await call.authorise(
            action.replace(":CreateTable", ":ImportTable"), resource, policy, owner
        )

    made = dataclasses.replace(call, params=creation, authorise=as_import)
    created = await create_table(made)
    table = await call.dynamodb.table(call.tenant_id, created["TableDescription"]["TableName"])
    job = ImportJob(
        tenant_id=call.tenant_id,
        import_id=job_id(),
        table_arn=table.arn,
        table_id=created["TableDescription"]["TableId"],
        source=source,
        client_token=token,
        started=_now(),
        creation=json.dumps(creation),
    )
    saved = await exports.start_import(job, table, _caller(call))
    return {"ImportTableDescription": _import_description(saved)}


async def describe_import(call: DynamoCall) -> dict[str, Any]:
    arn = _job_arn(call, "ImportArn", "import")
    call.resources.append(arn)
    await call.authorise("dynamodb:DescribeImport", arn)
    found = await _service(call).store.get_import(call.tenant_id, arn)
    if found is None:
        raise DynamoWireError("ImportNotFoundException", f"Import not found: {arn}")
    return {"ImportTableDescription": _import_description(found)}


async def list_imports(call: DynamoCall) -> dict[str, Any]:
    table_arn = call.string("TableArn", max_length=1024)
    await call.authorise("dynamodb:ListImports", "*")
    if table_arn is not None:
        _, table_arn = call.table_name(table_arn, "TableArn")
    limit, after = _page(call, "PageSize")
    found = await _service(call).store.list_imports(call.tenant_id, table_arn, after, limit + 1)
    answer: dict[str, Any] = {
        "ImportSummaryList": [
            {
                "ImportArn": j.arn,
                "ImportStatus": j.status.value,
                "TableArn": j.table_arn,
                "S3BucketSource": _source_shape(j.source),
                "InputFormat": j.source.input_format,
                "StartTime": j.started / 1000,
                **({} if j.ended is None else {"EndTime": j.ended / 1000}),
            }
            for j in found[:limit]
        ]
    }
    if len(found) > limit:
        answer["NextToken"] = found[limit - 1].arn
    return answer


EXPORT_ACTIONS: Final[dict[str, Handler]] = {
    "DescribeExport": describe_export,
    "DescribeImport": describe_import,
    "ExportTableToPointInTime": export_table,
    "ImportTable": import_table,
    "ListExports": list_exports,
    "ListImports": list_imports,
}
