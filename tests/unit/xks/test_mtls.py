"""The proxy's client certificate subject check (decision 0101): a connection whose
certificate's subject CN is not the configured one is aborted as the handshake completes,
before the HTTP protocol reads anything."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from andromede.xks.assembly import certificate_common_names, subject_checked

SUBJECT = "cks.kms.eu-fr-1.example"


class Recorded(asyncio.Protocol):
    made: list[object]

    def __init__(self) -> None:
        self.made = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.made.append(transport)


class Transport(asyncio.Transport):
    def __init__(self, peercert: Any) -> None:
        super().__init__()
        self.peercert = peercert
        self.aborted = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peercert": self.peercert, "peername": ("192.0.2.7", 50000)}.get(name, default)

    def abort(self) -> None:
        self.aborted = True


def cert(*names: str) -> dict[str, Any]:
    return {"subject": ((("organizationName", "x"),), *((("commonName", n),) for n in names))}


@pytest.mark.parametrize(
    ("peercert", "aborted"),
    [
        (cert(SUBJECT), False),
        (cert("someone.example"), True),
        (cert(SUBJECT, "someone.example"), True),  # two CNs: ambiguous, refused
        (cert(), True),
        ({}, True),
        (None, True),
        (cert(SUBJECT.upper()), True),
    ],
)
def test_a_connection_is_aborted_unless_the_subject_cn_is_the_configured_one(
    peercert: Any, aborted: bool
) -> None:
    protocol = subject_checked(Recorded, SUBJECT)()
    transport = Transport(peercert)
    protocol.connection_made(transport)
    assert transport.aborted is aborted


def test_common_names_are_read_from_the_decoded_certificate() -> None:
    assert certificate_common_names(cert("a", "b")) == ["a", "b"]
    assert certificate_common_names(None) == []
