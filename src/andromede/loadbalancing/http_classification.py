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
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

__all__ = ["classify"]

_SEVERITY: Final = {"Acceptable": 1, "Ambiguous": 2, "Severe": 3}
_FRAMING: Final = {b"transfer-encoding", b"content-length"}
_PRINTABLE: Final = frozenset(range(0x20, 0x7F)) | {0x09}


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
