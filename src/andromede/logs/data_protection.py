"""CloudWatch Logs' data protection policies (decision 0211): the policy document's rules, the
data identifiers that find sensitive terms in a message, and the masking of what they found.

A document names its data identifiers — managed ones by ARN
(``arn:aws:dataprotection::aws:data-identifier/EmailAddress``), custom ones by the name its
``Configuration.CustomDataIdentifier`` gives a regular expression — in one ``Audit`` statement
and in ``Deidentify`` statements listing exactly the same ones (AWS's rule). Terms are found
when an event is ingested and kept with it as character spans; a read shows them as asterisks
unless the caller asked to unmask and may (``logs:Unmask``). Pure rules here; the service
applies them (``logs.protection``).

The managed identifiers served are pattern rules with the checks that make them specific (a
card number's Luhn digit, an IBAN's mod-97, an address that parses); AWS's others (names,
addresses, health and national numbers that need its machine learning or its per-country
tables) are refused by name rather than accepted and never found. Custom expressions run on
RE2 (linear time): a customer's expression is matched against every event ingested, and a
backtracking engine would let one expression stall the gateway.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

import re2

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
VERSION: Final = "2021-06-01"
ARN_PREFIX: Final = "arn:aws:dataprotection::aws:data-identifier/"
_MAX_CUSTOM: Final = 10
_CUSTOM_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,128}")
# AWS's characters for a custom expression: letters, digits, a few symbols and RE2's syntax.
_CUSTOM_REGEX: Final = re.compile(r"[A-Za-z0-9_#=@/;,\- ^$?\[\]{}|\\*+.()]{1,200}")


@dataclass(frozen=True, slots=True)
class Finding:
    identifier: str  # the data identifier's name (EmailAddress, or the custom name)
    start: int  # character offsets in the message, end excluded
    end: int


# Managed identifiers: a candidate pattern and a check of each candidate.


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _card(text: str) -> bool:
    digits = re.sub(r"[ -]", "", text)
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and _luhn(digits)


def _ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


_IBAN_LENGTHS: Final = {"DE": 22, "ES": 24, "FR": 27, "GB": 22, "IT": 27}


def _iban(text: str) -> bool:
    compact = text.replace(" ", "").upper()
    if len(compact) != _IBAN_LENGTHS.get(compact[:2], 0):
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _ssn(text: str) -> bool:
    area, group, serial = text.split("-")
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _lat_long(text: str) -> bool:
    latitude, longitude = (float(part) for part in text.split(","))
    return -90 <= latitude <= 90 and -180 <= longitude <= 180


def _always(_text: str) -> bool:
    return True


def _iban_pattern(country: str) -> str:
    # The country, two check digits, then the rest in groups of four, spaced or not.
    rest = _IBAN_LENGTHS[country] - 4
    return rf"\b{country}\d{{2}}(?: ?[0-9A-Z]){{{rest}}}\b"


@dataclass(frozen=True, slots=True)
class _Managed:
    pattern: re.Pattern[str]
    valid: Callable[[str], bool]
    keyword: re.Pattern[str] | None = None  # must appear within 60 characters before


def _managed(
    pattern: str,
    valid: Callable[[str], bool] = _always,
    *,
    keyword: str | None = None,
    flags: int = 0,
) -> _Managed:
    return _Managed(
        re.compile(pattern, flags), valid, re.compile(keyword, re.I) if keyword else None
    )


_PEM = r"-----BEGIN {0}-----[A-Za-z0-9+/=\s:,-]*?-----END {0}-----"

MANAGED_IDENTIFIERS: Final[dict[str, _Managed]] = {
    "EmailAddress": _managed(
        r"\b[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.){1,8}[A-Za-z]{2,24}\b"
    ),
    "IpAddress": _managed(
        r"(?<![\w.:])(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7})(?![\w.:])",
        _ip,
    ),
    "CreditCardNumber": _managed(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)", _card),
    "AwsSecretKey": _managed(
        r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])", keyword=r"secret|aws"
    ),
    "OpenSshPrivateKey": _managed(_PEM.format("OPENSSH PRIVATE KEY")),
    "PgpPrivateKey": _managed(_PEM.format("PGP PRIVATE KEY BLOCK")),
    "PkcsPrivateKey": _managed(_PEM.format("(?:RSA |EC |DSA |ENCRYPTED )?PRIVATE KEY")),
    "PuttyPrivateKey": _managed(
        r"PuTTY-User-Key-File-\d: [\s\S]{1,8192}?Private-MAC: [0-9a-fA-F]{40,64}"
    ),
    "Ssn-US": _managed(r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])", _ssn),
    "PhoneNumber-US": _managed(
        r"(?<![\w+])(?:\+1[ .-]?)?\(?[2-9]\d{2}\)?[ .-]\d{3}[ .-]\d{4}(?!\d)"
    ),
    "PhoneNumber-FR": _managed(r"(?<![\w+])(?:\+33 ?|0)[1-9](?:[ .-]?\d{2}){4}(?!\d)"),
    "LatLong": _managed(r"(?<![\d.])-?\d{1,2}\.\d{4,8}, ?-?\d{1,3}\.\d{4,8}(?![\d.])", _lat_long),
    **{
        f"BankAccountNumber-{country}": _managed(_iban_pattern(country), _iban)
        for country in sorted(_IBAN_LENGTHS)
    },
}


@dataclass(frozen=True, slots=True)
class Detector:
    """The identifiers a group's policies (its own and the account's) audit and mask."""

    managed: tuple[str, ...]
    custom: tuple[tuple[str, str], ...]  # (name, RE2 expression)

    def find(self, message: str) -> list[Finding]:
        """The sensitive terms of ``message``, in order, overlapping ones merged into the
        first found."""
        found: list[Finding] = []
        for name in self.managed:
            rule = MANAGED_IDENTIFIERS[name]
            for match in rule.pattern.finditer(message):
                if not rule.valid(match.group()):
                    continue
                if rule.keyword is not None and not rule.keyword.search(
                    message, max(0, match.start() - 60), match.start()
                ):
                    continue
                found.append(Finding(name, match.start(), match.end()))
        for name, expression in self.custom:
            for match in _custom(expression).finditer(message):
                if match.end() > match.start():
                    found.append(Finding(name, match.start(), match.end()))
        found.sort(key=lambda f: (f.start, -f.end))
        kept: list[Finding] = []
        for finding in found:
            if kept and finding.start < kept[-1].end:
                continue  # inside a term already found: masked with it
            kept.append(finding)
        return kept


@lru_cache(maxsize=256)
def _custom(expression: str) -> Any:
    return re2.compile(expression)


@dataclass(frozen=True, slots=True)
class ProtectionPolicy:
    """A checked document: what it audits and masks, and where its findings go."""

    name: str
    document: str  # as given, answered back as AWS does
    identifiers: tuple[str, ...]  # managed names and custom names, as listed
    custom: tuple[tuple[str, str], ...]
    findings_log_group: str | None
    findings_bucket: str | None = None

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
    try:
        parsed = json.loads(document)
    except ValueError:
        raise _invalid("the document is not JSON") from None
    if not isinstance(parsed, dict):
        raise _invalid("the document is not a JSON object")
    name = parsed.get("Name")
    if not isinstance(name, str) or not name:
        raise _invalid("Name is required")
    if parsed.get("Version") != VERSION:
        raise _invalid(f"Version must be {VERSION}")
    description = parsed.get("Description")
    if description is not None and not isinstance(description, str):
        raise _invalid("Description must be a string")
    custom = _custom_identifiers(parsed.get("Configuration"))
    statements = parsed.get("Statement")
    if not isinstance(statements, list) or len(statements) < 2:
        raise _invalid("Statement must hold an Audit statement and a Deidentify statement")
    audits: list[tuple[str, ...]] = []
    masks: list[tuple[str, ...]] = []
    destination: tuple[str | None, str | None] = (None, None)
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
    return ProtectionPolicy(name, document, audits[0], custom, *destination)


def _custom_identifiers(configuration: object) -> tuple[tuple[str, str], ...]:
    if configuration is None:
        return ()
    if not isinstance(configuration, dict):
        raise _invalid("Configuration must be an object")
    entries = configuration.get("CustomDataIdentifier", [])
    if not isinstance(entries, list) or len(entries) > _MAX_CUSTOM:
        raise _invalid(f"at most {_MAX_CUSTOM} custom data identifiers")
    found: dict[str, str] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            raise _invalid("a custom data identifier is an object with Name and Regex")
        name, expression = entry.get("Name"), entry.get("Regex")
        if not isinstance(name, str) or not _CUSTOM_NAME.fullmatch(name):
            raise _invalid("a custom data identifier's Name is 1 to 128 of A-Z a-z 0-9 _ -")
        if name in MANAGED_IDENTIFIERS or name in found:
            raise _invalid(f"the custom data identifier name {name} is already taken")
        if not isinstance(expression, str) or not _CUSTOM_REGEX.fullmatch(expression):
            raise _invalid(f"the Regex of {name} must be 1 to 200 characters of those AWS allows")
        try:
            _custom(expression)
        except re2.error:
            raise _invalid(f"the Regex of {name} is not a valid expression") from None
        found[name] = expression
    return tuple(found.items())


def _statement(statement: object, custom: set[str]) -> tuple[tuple[str, ...], str, Any]:
    if not isinstance(statement, dict):
        raise _invalid("a statement is an object")
    identifiers = statement.get("DataIdentifier")
    if not isinstance(identifiers, list) or not identifiers:
        raise _invalid("a statement must list its DataIdentifier")
    names: list[str] = []
    for identifier in identifiers:
        if not isinstance(identifier, str):
            raise _invalid("a data identifier is a string")
        name = identifier.removeprefix(ARN_PREFIX)
        if identifier.startswith(ARN_PREFIX) and name in MANAGED_IDENTIFIERS:
            names.append(name)
        elif identifier in custom:
            names.append(identifier)
        else:
            raise _invalid(
                f"the data identifier {identifier[:200]} is not one this region offers"
                " (see the README for the managed data identifiers served)"
            )
    operation = statement.get("Operation")
    if not isinstance(operation, dict) or len(operation) != 1:
        raise _invalid("a statement has one Operation: Audit or Deidentify")
    ((kind, body),) = operation.items()
    if kind == "Deidentify":
        if body != {"MaskConfig": {}}:
            raise _invalid("a Deidentify operation holds an empty MaskConfig")
    elif kind != "Audit":
        raise _invalid(f"the operation {str(kind)[:64]} is not Audit or Deidentify")
    return tuple(dict.fromkeys(names)), kind, body


def _findings_destination(audit: object) -> tuple[str | None, str | None]:
    """The findings log group and the findings bucket an Audit operation names."""
    if not isinstance(audit, dict) or not isinstance(audit.get("FindingsDestination"), dict):
        raise _invalid("an Audit operation holds a FindingsDestination")
    destination: dict[str, Any] = audit["FindingsDestination"]
    group: str | None = None
    bucket: str | None = None
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
            raise _invalid(
                "Firehose findings destinations are not served here (no Firehose): "
                "use CloudWatchLogs or S3"
            )
        else:
            raise _invalid(f"unknown findings destination {str(kind)[:64]}")
    return group, bucket


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
    by_identifier: dict[str, list[Finding]] = {}
    for finding in findings:
        by_identifier.setdefault(finding.identifier, []).append(finding)
    return {
        "auditTimestamp": audit_time,
        "resourceArn": resource_arn,
        "dataIdentifiers": [
            {
                "name": name,
                "count": len(found),
                "detections": [{"start": f.start, "end": f.end} for f in found],
            }
            for name, found in by_identifier.items()
        ],
    }
