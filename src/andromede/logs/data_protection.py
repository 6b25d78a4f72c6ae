"""CloudWatch Logs' data protection policies (decision 0211): the policy document's rules, the
data identifiers that find sensitive terms in a message, and the masking of what they found.

A document names its data identifiers — managed ones by ARN
(``arn:aws:dataprotection::aws:data-identifier/EmailAddress``), custom ones by the name its
``Configuration.CustomDataIdentifier`` gives a regular expression — in one ``Audit`` statement
and in ``Deidentify`` statements listing exactly the same ones (AWS's rule). Terms are found
when an event is ingested and kept with it as character spans; a read shows them as asterisks
unless the caller asked to unmask and may (``logs:Unmask``). Pure rules here; the service
applies them (``logs.protection``).

The identifiers themselves and their detector are ``andromede.dataidentifiers``'s, shared
with SNS message data protection (decision 0215); AWS's managed identifiers that need its
machine learning or its per-country tables are refused by name rather than accepted and never
found.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from andromede.dataidentifiers import (
    MANAGED_IDENTIFIERS,
    Detector,
    Finding,
    detections,
    identifier_names,
    policy_header,
)
from andromede.logs.errors import InvalidParameter

__all__ = [
    "MANAGED_IDENTIFIERS",
    "MAX_DOCUMENT",
    "Detector",
    "Finding",
    "ProtectionPolicy",
    "check_document",
    "combined",
    "decode_spans",
    "encode_spans",
    "findings_report",
    "mask",
]

MAX_DOCUMENT: Final = 30_720  # characters, AWS's limit for a data protection policy


@dataclass(frozen=True, slots=True)
class ProtectionPolicy:
    """A checked document: what it audits and masks, and where its findings go."""

    name: str
    document: str  # as given, answered back as AWS does
    identifiers: tuple[str, ...]  # managed names and custom names, as listed
    custom: tuple[tuple[str, str], ...]
    findings_log_group: str | None
    findings_bucket: str | None = None
    findings_stream: str | None = None  # a Firehose stream's name (decision 0225)

    @property
    def detector(self) -> Detector:
        custom_names = {name for name, _ in self.custom}
        managed = tuple(i for i in self.identifiers if i not in custom_names)
        return Detector(managed, tuple(c for c in self.custom if c[0] in self.identifiers))


def combined(policies: Iterable[ProtectionPolicy]) -> Detector | None:
    """One detector for a group's policies, cumulative as AWS applies them; None: none."""
    managed: dict[str, None] = {}
    custom: dict[tuple[str, str], None] = {}
    for policy in policies:
        detector = policy.detector
        managed.update(dict.fromkeys(detector.managed))
        custom.update(dict.fromkeys(detector.custom))
    if not managed and not custom:
        return None
    return Detector(tuple(managed), tuple(custom))


# A bucket's name as S3 allows it; whether it exists is the service's to check.
_BUCKET_NAME: Final = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_STREAM_NAME: Final = re.compile(r"[a-zA-Z0-9_.-]{1,64}")  # Firehose's DeliveryStreamName


def _invalid(reason: str) -> InvalidParameter:
    return InvalidParameter(f"Invalid data protection policy: {reason}")


def check_document(document: object) -> ProtectionPolicy:
    """PutDataProtectionPolicy's (or a DATA_PROTECTION_POLICY account policy's) document, as
    AWS checks it; the destination log group's existence is the service's to check."""
    if not isinstance(document, str) or not 1 <= len(document) <= MAX_DOCUMENT:
        raise InvalidParameter(
            "1 validation error detected: Value at 'policyDocument' failed to satisfy "
            f"constraint: Member must have length between 1 and {MAX_DOCUMENT}"
        )
    header = policy_header(document, _invalid)
    custom = header.custom
    statements = header.statements
    if not isinstance(statements, list) or len(statements) < 2:
        raise _invalid("Statement must hold an Audit statement and a Deidentify statement")
    audits: list[tuple[str, ...]] = []
    masks: list[tuple[str, ...]] = []
    destination: tuple[str | None, str | None, str | None] = (None, None, None)
    for statement in statements:
        identifiers, operation, body = _statement(statement, {n for n, _ in custom})
        if operation == "Audit":
            audits.append(identifiers)
            destination = _findings_destination(body)
        else:
            masks.append(identifiers)
    if len(audits) != 1:
        raise _invalid("exactly one statement must have an Audit operation")
    if not masks:
        raise _invalid("a statement must have a Deidentify operation")
    if any(set(m) != set(audits[0]) for m in masks):
        raise _invalid(
            "the DataIdentifier of a Deidentify statement must match the Audit statement's"
        )
    return ProtectionPolicy(header.name, document, audits[0], custom, *destination)


def _statement(statement: object, custom: set[str]) -> tuple[tuple[str, ...], str, Any]:
    if not isinstance(statement, dict):
        raise _invalid("a statement is an object")
    names = identifier_names(statement.get("DataIdentifier"), custom, _invalid)
    operation = statement.get("Operation")
    if not isinstance(operation, dict) or len(operation) != 1:
        raise _invalid("a statement has one Operation: Audit or Deidentify")
    ((kind, body),) = operation.items()
    if kind == "Deidentify":
        if body != {"MaskConfig": {}}:
            raise _invalid("a Deidentify operation holds an empty MaskConfig")
    elif kind != "Audit":
        raise _invalid(f"the operation {str(kind)[:64]} is not Audit or Deidentify")
    return names, kind, body


def _findings_destination(audit: object) -> tuple[str | None, str | None, str | None]:
    """The findings log group, bucket and Firehose stream an Audit operation names."""
    if not isinstance(audit, dict) or not isinstance(audit.get("FindingsDestination"), dict):
        raise _invalid("an Audit operation holds a FindingsDestination")
    destination: dict[str, Any] = audit["FindingsDestination"]
    group: str | None = None
    bucket: str | None = None
    stream: str | None = None
    for kind, target in destination.items():
        if kind == "CloudWatchLogs":
            name = target.get("LogGroup") if isinstance(target, dict) else None
            if not isinstance(name, str) or not name:
                raise _invalid("a CloudWatchLogs findings destination names its LogGroup")
            group = name
        elif kind == "S3":
            name = target.get("Bucket") if isinstance(target, dict) else None
            if not isinstance(name, str) or not _BUCKET_NAME.fullmatch(name):
                raise _invalid("an S3 findings destination names its Bucket")
            bucket = name
        elif kind == "Firehose":
            name = target.get("DeliveryStream") if isinstance(target, dict) else None
            if not isinstance(name, str) or not _STREAM_NAME.fullmatch(name):
                raise _invalid("a Firehose findings destination names its DeliveryStream")
            stream = name
        else:
            raise _invalid(f"unknown findings destination {str(kind)[:64]}")
    return group, bucket, stream


# What is kept with an event, and what a reader sees.


def encode_spans(findings: Sequence[Finding]) -> str | None:
    """The spans to keep with an event (None: nothing to mask)."""
    if not findings:
        return None
    return ",".join(f"{f.start}-{f.end}" for f in findings)


def decode_spans(kept: str | None) -> list[tuple[int, int]]:
    if not kept:
        return []
    spans: list[tuple[int, int]] = []
    for part in kept.split(","):
        start, _, end = part.partition("-")
        spans.append((int(start), int(end)))
    return spans


def mask(message: str, kept: str | None) -> str:
    """``message`` with each kept span as asterisks, one per character."""
    if not kept:
        return message
    pieces: list[str] = []
    at = 0
    for start, end in decode_spans(kept):
        pieces.append(message[at:start])
        pieces.append("*" * (end - start))
        at = end
    pieces.append(message[at:])
    return "".join(pieces)


def findings_report(
    findings: Sequence[Finding], resource_arn: str, audit_time: str
) -> dict[str, Any]:
    """AWS's audit findings report for one event."""
    return {
        "auditTimestamp": audit_time,
        "resourceArn": resource_arn,
        "dataIdentifiers": detections(findings),
    }
