"""The data identifiers of AWS's data protection policies, shared by CloudWatch Logs
(decision 0211) and SNS message data protection (decision 0215): the managed identifiers
(``arn:aws:dataprotection::aws:data-identifier/<Name>``) with the checks that make them
specific (a card number's Luhn digit, an IBAN's mod-97, an address that parses), a
document's custom identifiers (RE2 expressions, linear time: a customer's expression is
matched against every message, and a backtracking engine would let one expression stall the
gateway), and the detector finding their terms in a text.

Neutral ground below the bounded contexts: each service words its own errors (``invalid``
builds them from a reason) and applies the findings its way.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

import re2

__all__ = [
    "ARN_PREFIX",
    "MANAGED_IDENTIFIERS",
    "Detector",
    "Finding",
    "PolicyHeader",
    "compiled",
    "custom_identifiers",
    "detections",
    "identifier_names",
    "policy_header",
]

ARN_PREFIX: Final = "arn:aws:dataprotection::aws:data-identifier/"
# The one policy language version CloudWatch Logs and SNS accept.
VERSION: Final = "2021-06-01"
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
            for match in compiled(expression).finditer(message):
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


@lru_cache(maxsize=256)
def compiled(expression: str) -> Any:
    """A custom identifier's RE2 expression, compiled once."""
    return re2.compile(expression)


def custom_identifiers(
    configuration: object, invalid: Callable[[str], Exception]
) -> tuple[tuple[str, str], ...]:
    """A document's ``Configuration.CustomDataIdentifier`` as (name, expression) pairs, as
    AWS checks them; ``invalid(reason)``: the service's error."""
    if configuration is None:
        return ()
    if not isinstance(configuration, dict):
        raise invalid("Configuration must be an object")
    entries = configuration.get("CustomDataIdentifier", [])
    if not isinstance(entries, list) or len(entries) > _MAX_CUSTOM:
        raise invalid(f"at most {_MAX_CUSTOM} custom data identifiers")
    found: dict[str, str] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            raise invalid("a custom data identifier is an object with Name and Regex")
        name, expression = entry.get("Name"), entry.get("Regex")
        if not isinstance(name, str) or not _CUSTOM_NAME.fullmatch(name):
            raise invalid("a custom data identifier's Name is 1 to 128 of A-Z a-z 0-9 _ -")
        if name in MANAGED_IDENTIFIERS or name in found:
            raise invalid(f"the custom data identifier name {name} is already taken")
        if not isinstance(expression, str) or not _CUSTOM_REGEX.fullmatch(expression):
            raise invalid(f"the Regex of {name} must be 1 to 200 characters of those AWS allows")
        try:
            compiled(expression)
        except re2.error:
            raise invalid(f"the Regex of {name} is not a valid expression") from None
        found[name] = expression
    return tuple(found.items())


@dataclass(frozen=True, slots=True)
class PolicyHeader:
    """What a data protection policy document says before its statements."""

    name: str
    custom: tuple[tuple[str, str], ...]
    statements: object  # the ``Statement`` member as written, for the service to check


def policy_header(document: str, invalid: Callable[[str], Exception]) -> PolicyHeader:
    """A data protection policy document's JSON, ``Name``, ``Version``, ``Description`` and
    custom identifiers, as CloudWatch Logs and SNS both check them; its length and its
    statements are each service's own rules."""
    try:
        parsed = json.loads(document)
    except ValueError:
        raise invalid("the document is not JSON") from None
    if not isinstance(parsed, dict):
        raise invalid("the document is not a JSON object")
    name = parsed.get("Name")
    if not isinstance(name, str) or not name:
        raise invalid("Name is required")
    if parsed.get("Version") != VERSION:
        raise invalid(f"Version must be {VERSION}")
    description = parsed.get("Description")
    if description is not None and not isinstance(description, str):
        raise invalid("Description must be a string")
    custom = custom_identifiers(parsed.get("Configuration"), invalid)
    return PolicyHeader(name, custom, parsed.get("Statement"))


def identifier_names(
    identifiers: object, custom: set[str], invalid: Callable[[str], Exception]
) -> tuple[str, ...]:
    """A statement's ``DataIdentifier`` list as names (managed ones without their ARN
    prefix), in order, once each; managed identifiers not served here are refused by name."""
    if not isinstance(identifiers, list) or not identifiers:
        raise invalid("a statement must list its DataIdentifier")
    names: list[str] = []
    for identifier in identifiers:
        if not isinstance(identifier, str):
            raise invalid("a data identifier is a string")
        name = identifier.removeprefix(ARN_PREFIX)
        if identifier.startswith(ARN_PREFIX) and name in MANAGED_IDENTIFIERS:
            names.append(name)
        elif identifier in custom:
            names.append(identifier)
        else:
            raise invalid(
                f"the data identifier {identifier[:200]} is not one this region offers"
                " (see the README for the managed data identifiers served)"
            )
    return tuple(dict.fromkeys(names))


def detections(findings: Sequence[Finding]) -> list[dict[str, Any]]:
    """The ``dataIdentifiers`` of AWS's findings reports (CloudWatch Logs' and SNS's alike):
    per identifier, in the order first found, its count and each term's offsets."""
    by_identifier: dict[str, list[Finding]] = {}
    for finding in findings:
        by_identifier.setdefault(finding.identifier, []).append(finding)
    return [
        {
            "name": name,
            "count": len(found),
            "detections": [{"start": f.start, "end": f.end} for f in found],
        }
        for name, found in by_identifier.items()
    ]
