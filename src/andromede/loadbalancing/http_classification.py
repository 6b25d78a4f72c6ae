"""A request's desync classification as AWS's Application Load Balancers log it (decision 0269,
the access logs' ``classification`` and ``classification_reason``), pure: ``Acceptable``,
``Ambiguous`` or ``Severe`` with AWS's reason code, nothing for a request RFC 7230 finds
compliant.

Only what a request the proxy parsed can still show: h11 refuses (400) a malformed request
line, method or version, conflicting ``Content-Length`` headers, several
``Transfer-Encoding`` headers or codings other than ``chunked``, and NUL or CR in a header —
AWS's ``Severe`` reasons — before any of this runs, and keeps one of several equal
``Content-Length`` headers (``DuplicateContentLength`` is not seen). The most severe reason
found is the one given.

What the load balancer does with a classified request is its desync mitigation mode's
(``routing.http.desync_mitigation_mode``, decision 0287), AWS's table: :func:`mitigation`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

__all__ = ["DESYNC_MODES", "classify", "mitigation"]

_SEVERITY: Final = {"Acceptable": 1, "Ambiguous": 2, "Severe": 3}
_FRAMING: Final = {b"transfer-encoding", b"content-length"}
_PRINTABLE: Final = frozenset(range(0x20, 0x7F)) | {0x09}

DESYNC_MODES: Final = ("monitor", "defensive", "strictest")
# AWS's table, by mode: the least severe classification refused with 400, and the least
# severe one forwarded but whose connections are closed after the response ("" for none).
_REFUSED_FROM: Final = {"monitor": "", "defensive": "Severe", "strictest": "Acceptable"}
_CLOSED_FROM: Final = {"monitor": "", "defensive": "Ambiguous", "strictest": ""}


def _normalised(name: bytes) -> bytes:
    """A header name as lenient servers read it: case, spaces and ``_`` for ``-``."""
    return name.strip().lower().replace(b"_", b"-").replace(b" ", b"")


def classify(method: bytes, headers: Sequence[tuple[bytes, bytes]]) -> tuple[str, str]:
    """(classification, reason) of a parsed request (``("", "")``: compliant); ``headers``
    as h11 gives them, names lower case."""
    found: list[tuple[str, str]] = []
    names = {name for name, _ in headers}
    framed = names & _FRAMING
    suspicious = any(name not in _FRAMING and _normalised(name) in _FRAMING for name, _ in headers)
    if suspicious:
        found.append(
            ("Severe", "SuspiciousTeClPresent") if framed else ("Ambiguous", "SuspiciousHeader")
        )
    if framed == _FRAMING:
        found.append(("Ambiguous", "BothTeClPresent"))
    if method in (b"GET", b"HEAD"):
        length = next((value for name, value in headers if name == b"content-length"), None)
        if length is not None:
            zero = length.strip() == b"0"
            found.append(
                ("Acceptable", "GetHeadZeroContentLength")
                if zero
                else ("Ambiguous", "UndefinedContentLengthSemantics")
            )
        if b"transfer-encoding" in names:
            found.append(("Ambiguous", "UndefinedTransferEncodingSemantics"))
    if any(not value.strip(b" \t") for _, value in headers):
        found.append(("Acceptable", "EmptyHeader"))
    if any(not set(value) <= _PRINTABLE for _, value in headers):
        found.append(("Acceptable", "NonCompliantHeader"))
    if not found:
        return "", ""
    return max(found, key=lambda pair: _SEVERITY[pair[0]])


def mitigation(mode: str, classification: str) -> str:
    """What a load balancer in desync mitigation ``mode`` does with a request of
    ``classification`` ("" for a compliant one), as AWS's table says: ``forward``;
    ``close`` (forwarded, the client's connection closed after the response: ``defensive``
    with an Ambiguous request); ``refuse`` (answered 400: Severe unless ``monitor``,
    Acceptable and Ambiguous in ``strictest``). An unknown mode is taken as the default,
    ``defensive``."""
    if not classification:
        return "forward"
    severity = _SEVERITY[classification]
    refused = _REFUSED_FROM.get(mode, "Severe")
    if refused and severity >= _SEVERITY[refused]:
        return "refuse"
    closed = _CLOSED_FROM.get(mode, "Ambiguous")
    if closed and severity >= _SEVERITY[closed]:
        return "close"
    return "forward"
