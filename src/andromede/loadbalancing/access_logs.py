"""Application Load Balancers' access logs (decision 0264), pure: one request's entry and its
line in AWS's documented format, the five-minute batches the entries are delivered in, the
objects' names as AWS names them, the checks of the ``access_logs.s3.*`` attributes and who
may receive the logs.

A line is AWS's, field for field and in its order: ``type time elb client:port target:port
request_processing_time target_processing_time response_processing_time elb_status_code
target_status_code received_bytes sent_bytes "request" "user_agent" ssl_cipher ssl_protocol
target_group_arn "trace_id" "domain_name" "chosen_cert_arn" matched_rule_priority
request_creation_time "actions_executed" "redirect_url" "error_reason" "target:port_list"
"target_status_code_list" "classification" "classification_reason" conn_trace_id``; a field
without a value is ``-`` and a time not measured ``-1``, as AWS writes them. A quoted field's
double quotes, backslashes and bytes outside printable ASCII are written ``\\xHH``, so that a
client cannot forge a field.

The bucket (AWS writes a test object, ``ELBAccessLogTestFile``, and refuses the attributes
with ``Access Denied for bucket``): a bucket of the load balancer's own account, or another
whose bucket policy allows the log delivery service principal
(``logdelivery.elasticloadbalancing.amazonaws.com``) ``s3:PutObject``.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol

from andromede.loadbalancing.errors import InvalidConfiguration, LbValidationError

__all__ = [
    "BATCH_MINUTES",
    "DELIVERY_PRINCIPALS",
    "LOG_DELIVERY_PRINCIPAL",
    "TEST_FILE",
    "VENDED_LOG_DELIVERY_PRINCIPAL",
    "AccessLogEntry",
    "Destination",
    "LogBuckets",
    "batches",
    "check_access_log_attributes",
    "checked_destination",
    "destination",
    "log_body",
    "log_line",
    "object_key",
    "policy_grants_delivery",
    "probe_object_key",
    "quoted_field",
    "window_end",
]

BATCH_MINUTES: Final = 5
LOG_DELIVERY_PRINCIPAL: Final = "logdelivery.elasticloadbalancing.amazonaws.com"
# Decision 0269: AWS's NLB access logs are delivered by CloudWatch's vended log delivery,
# whose principal an NLB user's bucket policy names; either is taken for either type.
VENDED_LOG_DELIVERY_PRINCIPAL: Final = "delivery.logs.amazonaws.com"
DELIVERY_PRINCIPALS: Final = frozenset({LOG_DELIVERY_PRINCIPAL, VENDED_LOG_DELIVERY_PRINCIPAL})
TEST_FILE: Final = "ELBAccessLogTestFile"
# AWS truncates the request line and the user agent it logs.
_FIELD_BYTES: Final = 8000
_PRINTABLE: Final = frozenset(range(0x20, 0x7F)) - {ord('"'), ord("\\")}


@dataclass(frozen=True, slots=True)
class AccessLogEntry:
    """What the proxy knew of one request when it answered it. Times are seconds (``None``:
    not measured, ``-1`` in the line); ``target`` is None when no target was chosen, a status
    None when there was none (the client left, the target did not answer)."""

    kind: str  # http, https
    time: datetime  # when the response was sent
    client: tuple[str, int]
    target: tuple[str, int] | None
    request_time: float | None
    target_time: float | None
    response_time: float | None
    elb_status: int | None
    target_status: int | None
    received_bytes: int
    sent_bytes: int
    request: str  # METHOD scheme://host:port/path?query HTTP/1.1
    user_agent: str
    trace_id: str
    created: datetime  # when the request's first byte came
    actions: tuple[str, ...]  # forward, fixed-response, redirect…
    conn_trace_id: str
    target_group_arn: str = ""
    domain_name: str = ""
    chosen_cert_arn: str = ""
    ssl_cipher: str = ""
    ssl_protocol: str = ""
    rule_priority: str = ""  # "0" for the default rule
    redirect_url: str = ""
    error_reason: str = ""
    # Decision 0269: desync mitigation's (Acceptable, Ambiguous, Severe) and AWS's reason.
    classification: str = ""
    classification_reason: str = ""


def quoted_field(text: str, limit: int = _FIELD_BYTES) -> str:
    """A quoted field: ``"-"`` when empty; ``"``, ``\\`` and bytes outside printable ASCII
    written ``\\xHH``, cut at ``limit`` bytes."""
    if not text:
        return '"-"'
    raw = text.encode("utf-8", "replace")[:limit]
    return '"' + "".join(chr(b) if b in _PRINTABLE else f"\\x{b:02x}" for b in raw) + '"'


def _plain(text: str) -> str:
    """An unquoted field: ``-`` when empty; a space cannot split it."""
    return text.replace(" ", "+") if text else "-"


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _seconds(value: float | None) -> str:
    return "-1" if value is None else f"{max(value, 0.0):.3f}"


def _status(value: int | None) -> str:
    return "-" if value is None else str(value)


def log_line(elb: str, entry: AccessLogEntry) -> str:
    """The entry's line for the load balancer ``elb`` (``app/NAME/ID``)."""
    target = "-" if entry.target is None else f"{entry.target[0]}:{entry.target[1]}"
    return " ".join(
        (
            entry.kind,
            _time(entry.time),
            elb,
            f"{entry.client[0]}:{entry.client[1]}",
            target,
            _seconds(entry.request_time),
            _seconds(entry.target_time),
            _seconds(entry.response_time),
            _status(entry.elb_status),
            _status(entry.target_status),
            str(entry.received_bytes),
            str(entry.sent_bytes),
            quoted_field(entry.request),
            quoted_field(entry.user_agent),
            _plain(entry.ssl_cipher),
            _plain(entry.ssl_protocol),
            _plain(entry.target_group_arn),
            quoted_field(entry.trace_id),
            quoted_field(entry.domain_name),
            quoted_field(entry.chosen_cert_arn),
            _plain(entry.rule_priority),
            _time(entry.created),
            quoted_field(",".join(entry.actions)),
            quoted_field(entry.redirect_url),
            quoted_field(entry.error_reason),
            quoted_field(target if entry.target is not None else ""),
            quoted_field(_status(entry.target_status) if entry.target_status is not None else ""),
            quoted_field(entry.classification),
            quoted_field(entry.classification_reason),
            _plain(entry.conn_trace_id),
        )
    )


def window_end(moment: datetime) -> datetime:
    """The end of the five-minute interval ``moment`` falls in (an interval is [start, end))."""
    moment = moment.astimezone(UTC)
    start = moment.replace(
        minute=moment.minute - moment.minute % BATCH_MINUTES, second=0, microsecond=0
    )
    return start + timedelta(minutes=BATCH_MINUTES)


def batches(
    entries: Iterable[tuple[datetime, str]],
) -> dict[datetime, list[str]]:
    """Lines (each with its entry's time) grouped by the end of their interval, in order."""
    grouped: dict[datetime, list[tuple[datetime, str]]] = {}
    for moment, line in entries:
        grouped.setdefault(window_end(moment), []).append((moment, line))
    return {
        end: [line for _, line in sorted(lines, key=lambda pair: pair[0])]
        for end, lines in sorted(grouped.items())
    }


def log_body(lines: Sequence[str]) -> bytes:
    """The object's body: the lines, newline-ended, gzip'd (``mtime`` 0: one body per input)."""
    return gzip.compress("".join(f"{line}\n" for line in lines).encode(), mtime=0)


def _root(prefix: str, account: str) -> str:
    return f"{prefix}/AWSLogs/{account}" if prefix else f"AWSLogs/{account}"


def object_key(
    prefix: str,
    account: str,
    region: str,
    lb_name: str,
    lb_id: str,
    end: datetime,
    address: str,
    random: str,
) -> str:
    """AWS's name of a log object: ``<prefix>/AWSLogs/<account>/elasticloadbalancing/<region>/
    yyyy/mm/dd/<account>_elasticloadbalancing_<region>_app.<name>.<id>_<end>_<ip>_<random>
    .log.gz``, dated by the interval's end (UTC)."""
    end = end.astimezone(UTC)
    return (
        f"{_root(prefix, account)}/elasticloadbalancing/{region}/{end:%Y/%m/%d}/"
        f"{account}_elasticloadbalancing_{region}_app.{lb_name}.{lb_id}_"
        f"{end:%Y%m%dT%H%MZ}_{address}_{random}.log.gz"
    )


def probe_object_key(prefix: str, account: str) -> str:
    """Where AWS writes its ``ELBAccessLogTestFile`` when the attributes are set."""
    return f"{_root(prefix, account)}/{TEST_FILE}"


@dataclass(frozen=True, slots=True)
class Destination:
    """Where a load balancer's access logs go: its bucket and prefix ("": none)."""

    bucket: str
    prefix: str


class LogBuckets(Protocol):
    """Where the access logs are written (the wiring's ``alb_access_logs.LogBucketWriter``,
    between this context and storage)."""

    async def check(self, account: str, target: Destination) -> bool:
        """Whether log delivery may write into ``target``'s bucket for ``account``; True
        once its test object (:func:`probe_object_key`) is written."""
        ...


def destination(attributes: Mapping[str, str]) -> Destination | None:
    """The destination the attributes enable, None when the logs are off."""
    if attributes.get("access_logs.s3.enabled", "false") != "true":
        return None
    return Destination(
        attributes.get("access_logs.s3.bucket", ""), attributes.get("access_logs.s3.prefix", "")
    )


def check_access_log_attributes(attributes: Mapping[str, str]) -> Destination | None:
    """The merged attributes' destination, checked as ELBv2 checks it."""
    return checked_destination(
        attributes.get("access_logs.s3.prefix", ""),
        destination(attributes),
        "access_logs",
        "access logs",
    )


def checked_destination(
    prefix: str, found: Destination | None, key: str, noun: str
) -> Destination | None:
    """A log destination's prefix (even while off) and bucket checked as ELBv2 checks them;
    ``key`` the attributes' (``access_logs``…), ``noun`` the logs' name in the errors."""
    if "AWSLogs" in prefix:
        raise InvalidConfiguration(f"The prefix for the {noun} cannot contain 'AWSLogs'")
    if prefix.startswith("/") or prefix.endswith("/"):
        raise LbValidationError(f"The prefix for the {noun} cannot start or end with '/'")
    if len(prefix) > 1024:
        raise LbValidationError(f"The prefix for the {noun} is longer than 1024 characters")
    if found is not None and not found.bucket:
        raise LbValidationError(f"The value of '{key}.s3.bucket' cannot be empty")
    return found


def _listed(value: object) -> list[object]:
    return value if isinstance(value, list) else [value]


def _grants(statement: Mapping[str, object], bucket: str) -> bool:
    if statement.get("Effect") != "Allow" or "Condition" in statement:
        return False
    principal = statement.get("Principal")
    services = _listed(principal.get("Service")) if isinstance(principal, dict) else []
    if not set(map(str, services)) & DELIVERY_PRINCIPALS:
        return False
    actions = {str(a).lower() for a in _listed(statement.get("Action"))}
    if not actions & {"s3:putobject", "s3:*", "*"}:
        return False
    resources = [str(r) for r in _listed(statement.get("Resource"))]
    return any(
        r in (f"arn:aws:s3:::{bucket}/*", "*") or r.startswith(f"arn:aws:s3:::{bucket}/")
        for r in resources
    )


def policy_grants_delivery(policy: str | None, bucket: str) -> bool:
    """Whether a bucket policy lets ELB's log delivery put objects into ``bucket`` (an Allow
    of ``s3:PutObject`` on some of its keys to a delivery service principal — ELB's, or the
    vended logs' an NLB's documented policy names —, with no condition: a
    condition the platform would have to evaluate as AWS's delivery would is not read)."""
    if not policy:
        return False
    try:
        document = json.loads(policy)
    except ValueError:
        return False
    statements = document.get("Statement") if isinstance(document, dict) else None
    return any(isinstance(s, dict) and _grants(s, bucket) for s in _listed(statements or []))
