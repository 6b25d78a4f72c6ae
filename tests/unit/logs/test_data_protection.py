"""Decision 0211's data identifiers and masking, pure: each managed identifier finds its terms
and not their look-alikes (a card number failing Luhn, an IBAN failing mod-97, an address that
does not parse, a secret key with no keyword near it); overlapping terms are masked once;
custom expressions run on RE2, in linear time; the masked message keeps its length."""

from __future__ import annotations

import time

import pytest

from andromede.logs.data_protection import (
    MANAGED_IDENTIFIERS,
    Detector,
    decode_spans,
    encode_spans,
    mask,
)


def found(identifier: str, message: str) -> list[str]:
    detector = Detector((identifier,), ())
    return [message[f.start : f.end] for f in detector.find(message)]


@pytest.mark.parametrize(
    ("identifier", "message", "terms"),
    [
        (
            "EmailAddress",
            "to jane.doe@example.fr, cc a+b@x.io",
            ["jane.doe@example.fr", "a+b@x.io"],
        ),
        ("EmailAddress", "not@an address", []),
        ("IpAddress", "from 10.0.0.1 and 2001:db8::1 at 12:30:45", ["10.0.0.1", "2001:db8::1"]),
        ("IpAddress", "version 1.2.3.400 or 999.1.1.1", []),
        (
            "CreditCardNumber",
            "card 4111-1111-1111-1111 or 5500 0000 0000 0004",
            ["4111-1111-1111-1111", "5500 0000 0000 0004"],
        ),
        ("CreditCardNumber", "order 4111111111111112 (bad Luhn)", []),
        (
            "BankAccountNumber-FR",
            "IBAN FR76 3000 6000 0112 3456 7890 189.",
            ["FR76 3000 6000 0112 3456 7890 189"],
        ),
        ("BankAccountNumber-FR", "IBAN FR77 3000 6000 0112 3456 7890 189", []),
        ("BankAccountNumber-DE", "DE89370400440532013000", ["DE89370400440532013000"]),
        ("Ssn-US", "ssn 123-45-6789, not 000-12-3456 nor 123-45-67890", ["123-45-6789"]),
        (
            "PhoneNumber-FR",
            "tel +33 6 12 34 56 78 or 01.23.45.67.89",
            ["+33 6 12 34 56 78", "01.23.45.67.89"],
        ),
        (
            "AwsSecretKey",
            "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            ["wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"],
        ),
        ("AwsSecretKey", "digest wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", []),
        ("LatLong", "at 48.8566,2.3522 not 123.4567,2.3522", ["48.8566,2.3522"]),
        (
            "PkcsPrivateKey",
            "key -----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY----- done",
            ["-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----"],
        ),
    ],
)
def test_each_identifier_finds_its_terms_and_not_look_alikes(
    identifier: str, message: str, terms: list[str]
) -> None:
    assert identifier in MANAGED_IDENTIFIERS
    assert found(identifier, message) == terms


def test_overlapping_terms_are_masked_once_and_lengths_kept() -> None:
    detector = Detector(("EmailAddress",), (("Domain", r"example\.fr"),))
    message = "jane@example.fr écrit"
    findings = detector.find(message)
    assert [(f.identifier, f.start, f.end) for f in findings] == [("EmailAddress", 0, 15)]
    kept = encode_spans(findings)
    assert kept == "0-15" and decode_spans(kept) == [(0, 15)]
    assert mask(message, kept) == "*" * 15 + " écrit"
    assert mask(message, None) == message and encode_spans([]) is None


def test_a_custom_expression_cannot_stall_the_gateway() -> None:
    """``(a+)+$`` backtracks exponentially in Python's re; RE2 answers in linear time."""
    detector = Detector((), (("Evil", "(a+)+$"),))
    started = time.monotonic()
    assert detector.find("a" * 50_000 + "b") == []
    assert time.monotonic() - started < 1
