"""What an S3 request leaves behind once answered.

The audit event (every mutating operation, every request of an operator under an access
request, and the data reads of a bucket whose owner asked for them: decisions 0107 and 0109),
the access-log line, the request and its bytes metered for billing (decisions 0108 and 0133),
the bucket's server access record when it has logging on (decision 0084), and its
CloudWatch request metrics when it has metrics configurations (decision 0187).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.billing.model import s3_request_meter
from andromede.billing.service import BillingService
from andromede.http.access import log_access
from andromede.http.asgi import raw_target
from andromede.http.response import Scope
from andromede.iam.model import Principal
from andromede.s3.access_log import access_record, log_operation
from andromede.s3.auth import Authenticated
from andromede.s3.operation_table import DATA_READS, READ_PREFIXES
from andromede.s3.request import S3Context
from andromede.s3.request_metrics import (
    RequestMetricsHook,
    RequestOutcome,
    request_kind,
    request_tags,
)
from andromede.s3.request_payment import is_billed
from andromede.s3.router import Route
from andromede.settings import Settings
from andromede.storage.access_log_delivery import AccessLogDelivery
from andromede.storage.model import AccessPointUse, Bucket

__all__ = ["RequestRecords", "resource_arn"]


SECRET_QUERY_VALUES = re.compile(r"(X-Amz-Signature|X-Amz-Security-Token)=[^&]*", re.IGNORECASE)


class RequestRecords:
    def __init__(
        self, settings: Settings, audit: AuditService, billing: BillingService | None
    ) -> None:
        self._settings = settings
        self._audit = audit
        self._billing = billing

    def record_access(
        self,
        logs: AccessLogDelivery,
        bucket: Bucket,
        route: Route,
        principal: Principal,
        authenticated: Authenticated | None,
        scope: Scope,
        headers: Mapping[str, str],
        request_id: str,
        raw_query: str,
        status: int,
        error_code: str | None,
        sent: int,
        started: float,
        *,
        operation: str | None = None,
    ) -> None:
        """A request to a logging bucket: its access record, in S3's format (decision 0084).
        ``operation``: S3's name for it, when not the route's (a website read)."""
        method: str = scope["method"]
        raw_path = raw_target(scope)[0]
        client = scope.get("client")
        # A presigned URL is a bearer credential until it expires, a session token a secret:
        # neither goes into a log that others may read.
        query = SECRET_QUERY_VALUES.sub(r"\1=-", raw_query)
        target = f"{raw_path}?{query}" if query else raw_path
        signed = authenticated is not None and authenticated.signed is not None
        if "authorization" in headers:
            authentication = "AuthHeader"
        elif "X-Amz-Signature=" in raw_query:
            authentication = "QueryString"
        else:
            authentication = None
        record = access_record(
            bucket_owner=bucket.owner_id,
            bucket=bucket.name,
            at=datetime.now(UTC),
            remote_ip=client[0] if client else None,
            requester=None if principal.is_anonymous else principal.arn,
            request_id=request_id,
            operation=operation
            or log_operation(
                route.operation, method, dict(parse_qsl(raw_query, keep_blank_values=True))
            ),
            key=route.key,
            request_line=f"{method} {target} HTTP/{scope.get('http_version', '1.1')}",
            status=status,
            error_code=error_code,
            bytes_sent=sent,
            total_ms=(time.perf_counter() - started) * 1000,
            headers=headers,
            signature_version="SigV4" if signed else None,
            authentication_type=authentication,
        )
        logs.record(bucket.name, record)

    def meter(
        self,
        route: Route | None,
        addressed: Bucket | None,
        principal: Principal,
        ctx: S3Context | None,
        method: str,
        status: int,
        sent: int,
    ) -> None:
        """Count the request and its bytes for the bucket owner (the caller, for requests
        on no existing bucket, and for a requester charged by a Requester Pays bucket:
        decision 0133), in the bucket's region (decision 0108). Requests refused (403),
        redirected to their region (301) or failed by the server (5xx) are not billed; the
        bytes that moved are."""
        billing = self._billing
        if billing is None or route is None:
            return
        if ctx is not None:
            principal = ctx.principal  # a PostObject's is its form's signer
        if addressed is not None:
            tenant_id, region = addressed.tenant_id, addressed.region
            if ctx is not None and ctx.requester_charged and principal.tenant_id is not None:
                tenant_id = principal.tenant_id
        elif principal.tenant_id is not None:
            tenant_id, region = principal.tenant_id, self._settings.region
        else:
            return  # an anonymous request that names no bucket: nobody to bill
        if is_billed(status):
            meter = s3_request_meter(route.operation.name, method)
            if meter is not None:
                billing.count(tenant_id, region, meter)
        if ctx is not None and ctx.bytes_received:
            billing.count(tenant_id, region, "s3.transfer.in", ctx.bytes_received)
        if sent:
            billing.count(tenant_id, region, "s3.transfer.out", sent)
        counts = ctx.select_counts if ctx is not None else None
        if counts is not None and counts.scanned:
            # S3 Select is billed by the bytes it scans and returns (decision 0234).
            billing.count(tenant_id, region, "s3.select.scanned", counts.scanned)
            if counts.returned:
                billing.count(tenant_id, region, "s3.select.returned", counts.returned)

    def measure(
        self,
        hook: RequestMetricsHook,
        bucket: Bucket,
        route: Route,
        through: AccessPointUse | None,
        headers: Mapping[str, str],
        method: str,
        status: int,
        ctx: S3Context | None,
        sent: int,
        times: tuple[float, float, float],
    ) -> None:
        """A request to a bucket with request metrics configurations (decision 0187).
        ``times``: when its first byte came, its last, and when its answer began to go."""
        started, read_at, answered = times
        counts = ctx.select_counts if ctx is not None else None
        hook.record(
            RequestOutcome(
                bucket=bucket,
                kind=request_kind(route.operation, method),
                key=route.key or None,
                tags=request_tags(headers),
                access_point_arn=None if through is None else through.arn,
                status=status,
                received=ctx.bytes_received if ctx is not None else 0,
                sent=sent,
                first_byte_ms=max(answered - read_at, 0.0) * 1000,
                total_ms=(time.perf_counter() - started) * 1000,
                select_scanned=None if counts is None else counts.scanned,
                select_returned=0 if counts is None else counts.returned,
            )
        )

    def finish(
        self,
        route: Route | None,
        principal: Principal,
        authenticated: Authenticated | None,
        request_id: str,
        method: str,
        raw_path: str,
        status: int,
        ctx: S3Context | None,
        sent: int,
        started: float,
        *,
        addressed: Bucket | None = None,
    ) -> None:
        operation = route.operation if route is not None else None
        if ctx is not None:
            principal = ctx.principal  # a PostObject's is its form's signer (handlers/post.py)
        # Every mutating operation of an authenticated (or anonymous) caller is audited, denied
        # ones included, and every request of an operator under an access request, reads too
        # (decision 0107); a failed authentication was recorded where it failed.
        if operation is not None and authenticated is not None:
            if not operation.name.startswith(READ_PREFIXES) or principal.is_operator_access:
                tenant_id = principal.tenant_id
                details = {"operation": operation.name, "status": str(status)}
                if ctx is not None and status < 400:
                    details.update(ctx.audit_details)
            elif addressed is not None and addressed.data_reads_logged and operation in DATA_READS:
                # A data read of a bucket whose owner asked for them (decision 0109): an event
                # of the owner's log, whoever read, as the bucket's access records are.
                tenant_id = addressed.tenant_id
                details = {
                    "operation": operation.name,
                    "status": str(status),
                    "bytes_sent": str(sent),
                }
            else:
                tenant_id = None
                details = None
            if details is not None:
                self._audit.record(
                    request_id=request_id,
                    tenant_id=tenant_id,
                    principal=principal.arn,
                    action=operation.action,
                    resource=resource_arn(route),
                    outcome=Outcome.SUCCESS if status < 400 else Outcome.FAILURE,
                    details={**details, **principal.audit_details},
                )
        if self._settings.access_log:
            level = logging.WARNING if status >= 500 else logging.INFO
            log_access(
                level,
                "%s %s %s %s %s %d in=%d out=%d %.1fms",
                request_id,
                principal.arn,
                operation.name if operation else "-",
                method,
                raw_path,
                status,
                ctx.bytes_received if ctx else 0,
                sent,
                (time.perf_counter() - started) * 1000,
            )


def resource_arn(route: Route | None) -> str:
    if route is None or route.bucket is None:
        return "arn:aws:s3:::*"
    if route.key is None:
        return f"arn:aws:s3:::{route.bucket}"
    return f"arn:aws:s3:::{route.bucket}/{route.key}"
