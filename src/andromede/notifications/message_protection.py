"""SNS message data protection (decision 0215): a topic's ``DataProtectionPolicy`` document,
checked as SNS checks it, and its statements applied to a message.

SNS's document differs from CloudWatch Logs' (decision 0211): each statement names its
``DataDirection`` (``Inbound``: Publish; ``Outbound``: each delivery), the ``Principal``s it
applies to (``*``, an account, a principal's ARN: the publisher inbound, the subscriber
outbound), its ``DataIdentifier``s and one ``Operation``:

- ``Audit`` (at most one, inbound): findings of a sample (``SampleRate``, 0 to 99 percent) of
  the messages, in SNS's report, to a ``FindingsDestination`` (and the messages without any
  to a ``NoFindingsDestination``): a CloudWatch Logs group named ``/aws/vendedlogs/...``,
  and (decision 0226) an Amazon Data Firehose delivery stream of the topic's account
  (``{"Firehose": {"DeliveryStream": "<name>"}}``), where each report is one record.
- ``Deny``: inbound, the Publish refused (``AuthorizationError``); outbound, the delivery
  dropped for that subscriber.
- ``Deidentify``: the terms found masked (``MaskConfig``, ``MaskWithCharacter`` one character,
  ``*`` by default) or removed (``RedactConfig``).

The identifiers and their detector are ``andromede.dataidentifiers``'s, shared with Logs.
Pure rules here; the fan-out applies them (``notifications.pubsub``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final, Protocol

from andromede.dataidentifiers import (
    Detector,
    Finding,
    detections,
    identifier_names,
    policy_header,
)
from andromede.notifications.errors import InvalidTopic, MessageDenied

__all__ = [
    "DATA_PROTECTION_POLICY",
    "AuditReport",
    "FindingsLogs",
    "MessagePolicy",
    "Statement",
    "check_document",
    "deidentify",
    "denied",
    "findings_report",
    "policy_of",
]

DATA_PROTECTION_POLICY: Final = "DataProtectionPolicy"
MAX_DOCUMENT: Final = 30_720  # characters, SNS's limit
VENDED_PREFIX: Final = "/aws/vendedlogs/"
_DIRECTIONS: Final = ("Inbound", "Outbound")
_STREAM_NAME: Final = re.compile(r"[a-zA-Z0-9_.-]{1,64}")  # Firehose's DeliveryStreamName


@dataclass(frozen=True, slots=True)
class Statement:
    direction: str  # Inbound | Outbound
    principals: tuple[str, ...]
    detector: Detector
    operation: str  # Audit | Deny | Deidentify
    mask_with: str | None = None  # Deidentify: the mask's character; None: redacted
    sample_rate: int = 0  # Audit: percent of the messages audited
    findings_group: str | None = None  # Audit: the Logs groups of its reports
    no_findings_group: str | None = None
    findings_stream: str | None = None  # Audit: the Firehose streams of its reports (0226)
    no_findings_stream: str | None = None

    def applies_to(self, principal_arn: str | None, account: str) -> bool:
        """Whether this statement's ``Principal`` names the caller (inbound) or the subscriber
        (outbound): ``*``, its account (id or root ARN), or its own ARN."""
        for named in self.principals:
            if named == "*" or named in (account, f"arn:aws:iam::{account}:root"):
                return True
            if principal_arn is not None and named == principal_arn:
                return True
        return False


@dataclass(frozen=True, slots=True)
class MessagePolicy:
    name: str
    statements: tuple[Statement, ...]

    def of(self, direction: str, operation: str) -> list[Statement]:
        return [s for s in self.statements if s.direction == direction and s.operation == operation]

    @property
    def audit(self) -> Statement | None:
        found = self.of("Inbound", "Audit")
        return found[0] if found else None


@dataclass(frozen=True, slots=True)
class AuditReport:
    """One audited message's report and the group it goes to."""

    group: str
    record: str


class FindingsLogs(Protocol):
    async def write(self, tenant_id: str, group: str, stream: str, event: tuple[int, str]) -> None:
        """One (timestamp in ms, report) event into the tenant's vended ``group`` (made when
        missing, as AWS's vended logs delivery does)."""


def _invalid(reason: str) -> InvalidTopic:
    return InvalidTopic(f"Invalid parameter: DataProtectionPolicy Reason: {reason}")


def check_document(document: object) -> MessagePolicy:
    """PutDataProtectionPolicy's (or CreateTopic's) document, as SNS checks it."""
    if not isinstance(document, str) or len(document) > MAX_DOCUMENT:
        raise _invalid(f"the policy must be a JSON string of at most {MAX_DOCUMENT} characters")
    header = policy_header(document, _invalid)
    custom = header.custom
    raw = header.statements
    if not isinstance(raw, list) or not raw:
        raise _invalid("Statement must list at least one statement")
    statements = tuple(_statement(s, custom) for s in raw)
    if sum(1 for s in statements if s.operation == "Audit") > 1:
        raise _invalid("a policy has at most one Audit statement")
    return MessagePolicy(header.name, statements)


def _statement(raw: object, custom: tuple[tuple[str, str], ...]) -> Statement:
    if not isinstance(raw, dict):
        raise _invalid("a statement is a JSON object")
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise _invalid("Sid must be a string")
    direction = raw.get("DataDirection")
    if direction not in _DIRECTIONS:
        raise _invalid("DataDirection must be Inbound or Outbound")
    principals = raw.get("Principal")
    if (
        not isinstance(principals, list)
        or not principals
        or not all(isinstance(p, str) and p for p in principals)
    ):
        raise _invalid("Principal must list the principals the statement applies to")
    names = identifier_names(raw.get("DataIdentifier"), {n for n, _ in custom}, _invalid)
    detector = Detector(
        tuple(n for n in names if n not in dict(custom)),
        tuple((n, e) for n, e in custom if n in names),
    )
    operation = raw.get("Operation")
    if not isinstance(operation, dict) or len(operation) != 1:
        raise _invalid("a statement has one Operation: Audit, Deny or Deidentify")
    ((kind, body),) = operation.items()
    base = Statement(str(direction), tuple(principals), detector, str(kind))
    if kind == "Deny":
        if body != {}:
            raise _invalid("a Deny operation is an empty object")
        return base
    if kind == "Deidentify":
        return _deidentify(base, body)
    if kind == "Audit":
        if direction != "Inbound":
            raise _invalid("an Audit statement's DataDirection is Inbound")
        return _audit(base, body)
    raise _invalid(f"the operation {str(kind)[:64]} is not Audit, Deny or Deidentify")


def _deidentify(base: Statement, body: object) -> Statement:
    if not isinstance(body, dict) or len(body) != 1:
        raise _invalid("a Deidentify operation holds a MaskConfig or a RedactConfig")
    ((kind, config),) = body.items()
    if kind == "RedactConfig" and config == {}:
        return _replace(base, mask_with=None)
    if kind == "MaskConfig" and isinstance(config, dict) and set(config) <= {"MaskWithCharacter"}:
        character = config.get("MaskWithCharacter", "*")
        if not isinstance(character, str) or len(character) != 1 or not character.isprintable():
            raise _invalid("MaskWithCharacter is one printable character")
        return _replace(base, mask_with=character)
    raise _invalid("a Deidentify operation holds a MaskConfig or an empty RedactConfig")


def _audit(base: Statement, body: object) -> Statement:
    if not isinstance(body, dict):
        raise _invalid("an Audit operation is a JSON object")
    rate = body.get("SampleRate")
    try:
        sample = int(rate) if isinstance(rate, (int, str)) and not isinstance(rate, bool) else -1
    except ValueError:
        sample = -1
    if not 0 <= sample <= 99:
        raise _invalid("SampleRate must be an integer from 0 to 99")
    found, found_stream = _destination(body.get("FindingsDestination"))
    none_found, none_found_stream = _destination(body.get("NoFindingsDestination"))
    if not (found or none_found or found_stream or none_found_stream):
        raise _invalid("an Audit operation names a FindingsDestination or NoFindingsDestination")
    return _replace(
        base,
        sample_rate=sample,
        findings_group=found,
        no_findings_group=none_found,
        findings_stream=found_stream,
        no_findings_stream=none_found_stream,
    )


def _destination(raw: object) -> tuple[str | None, str | None]:
    """A findings destination's Logs group and Firehose stream (either may be None)."""
    if raw is None:
        return None, None
    if not isinstance(raw, dict) or not raw:
        raise _invalid("a findings destination is a JSON object naming a destination")
    group: str | None = None
    stream: str | None = None
    for kind, target in raw.items():
        if kind == "CloudWatchLogs":
            name = target.get("LogGroup") if isinstance(target, dict) else None
            if not isinstance(name, str) or not name.startswith(VENDED_PREFIX):
                raise _invalid(f"a CloudWatchLogs LogGroup's name starts with {VENDED_PREFIX}")
            group = name
        elif kind == "Firehose":
            name = target.get("DeliveryStream") if isinstance(target, dict) else None
            if not isinstance(name, str) or _STREAM_NAME.fullmatch(name) is None:
                raise _invalid("a Firehose DeliveryStream is a delivery stream's name")
            stream = name
        elif kind == "S3":
            raise _invalid("S3 findings destinations are not served here: use CloudWatchLogs "
                           "or Firehose")  # fmt: skip
        else:
            raise _invalid(f"unknown findings destination {str(kind)[:64]}")
    return group, stream


def _replace(base: Statement, **changes: Any) -> Statement:
    return dataclasses.replace(base, **changes)


@lru_cache(maxsize=512)
def _parsed(document: str) -> MessagePolicy:
    return check_document(document)


def policy_of(attributes: Mapping[str, str]) -> MessagePolicy | None:
    """A topic's policy (its attributes), parsed once per document; None: none."""
    document = attributes.get(DATA_PROTECTION_POLICY)
    return _parsed(document) if document else None


# Applying the statements to a message.


def denied(
    statements: Sequence[Statement], message: str, principal_arn: str | None, account: str
) -> MessageDenied | None:
    """The refusal of a message holding a term a ``Deny`` statement names, for this caller."""
    for statement in statements:
        if statement.applies_to(principal_arn, account) and statement.detector.find(message):
            return MessageDenied(
                "Message denied by the topic's data protection policy: it holds sensitive data"
            )
    return None


def deidentify(
    statements: Sequence[Statement], message: str, principal_arn: str | None, account: str
) -> str:
    """``message`` with the terms of each ``Deidentify`` statement applying to the caller
    masked (one character per character) or redacted (removed), statement after statement."""
    for statement in statements:
        if not statement.applies_to(principal_arn, account):
            continue
        found = statement.detector.find(message)
        if not found:
            continue
        pieces: list[str] = []
        at = 0
        for finding in found:
            pieces.append(message[at : finding.start])
            if statement.mask_with is not None:
                pieces.append(statement.mask_with * (finding.end - finding.start))
            at = finding.end
        pieces.append(message[at:])
        message = "".join(pieces)
    return message


def findings_report(
    findings: Sequence[Finding],
    *,
    message_id: str,
    caller: str | None,
    resource_arn: str,
    timestamp: str,
) -> dict[str, Any]:
    """SNS's audit report for one message (its ``dataIdentifiers`` empty when none found)."""
    return {
        "messageId": message_id,
        "callerPrincipal": caller,
        "resourceArn": resource_arn,
        "dataIdentifiers": detections(findings),
        "timestamp": timestamp,
    }
