"""AWS Query-style request parameters, shared by the APIs that take them (IAM, STS, EC2).

The parameters are the query string's, then the form-encoded POST body's (the body wins), as
UTF-8; each API reads its own structure (IAM's ``Name.member.N``, EC2's ``Name.N``) on top.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from andromede.errors import AndromedeError

__all__ = ["MalformedQuery", "parse_query_parameters"]


class MalformedQuery(AndromedeError):
    """The query string or form body is not valid UTF-8 form encoding."""


def parse_query_parameters(raw_query: bytes, body: bytes) -> dict[str, str]:
    params: dict[str, str] = {}
    for source in (raw_query, body):
        if not source:
            continue
        try:
            text = source.decode("utf-8")
            pairs = parse_qsl(text, keep_blank_values=True, errors="strict")
        except (UnicodeDecodeError, ValueError) as exc:
            raise MalformedQuery("the parameters are not UTF-8 form encoding") from exc
        for name, value in pairs:
            params[name] = value
    return params
